package queries

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"
	"github.com/sirupsen/logrus"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/livekit"
	"github.com/roomkeeper/roomkeeper/schemas"
	"github.com/roomkeeper/roomkeeper/store"
)

// Tokens is what the queries need from LiveKit (*livekit.Client satisfies
// it). Errors wrapping livekit.ErrUnavailable answer "unavailable".
type Tokens interface {
	// GrantToken signs a token to join roomID as identity (display name
	// name) with grant and the participant metadata.
	GrantToken(roomID, identity, name string, grant livekit.Grant, metadata string) (string, error)
	// RecordingToken signs a token for the room's recordings.
	RecordingToken(roomID, role string, canRetrieve, canDelete bool) (string, error)
	// EnsureRoom creates the LiveKit room, with metadata and the meeting
	// timeouts, when LiveKit does not have it.
	EnsureRoom(ctx context.Context, roomID string, roomOptions any) error
	// URL is the LiveKit URL participants connect to.
	URL() string
	// Detached reports that there is no LiveKit: token calls answer
	// "unavailable".
	Detached() bool
}

// Defaults of Config.
const (
	DefaultConcurrency = 64
	DefaultTimeout     = 15 * time.Second
	// ServiceVersion is the version the micro service announces (the
	// AsyncAPI document's version of the message API).
	ServiceVersion = "1.0.0"
)

// Page sizes of rooms.api.list, as OpenVidu Meet coerces maxItems.
const (
	DefaultMaxItems = 10
	MaxMaxItems     = 100
)

// Config configures the query service.
type Config struct {
	// Store is read by every query; required.
	Store store.Store
	// Tokens signs LiveKit tokens; nil behaves as a detached adapter.
	Tokens Tokens
	// Log receives failures (never a secret); default: logrus' standard
	// logger.
	Log logrus.FieldLogger
	// Concurrency bounds the requests this process handles at once (across
	// endpoints); more wait in the subscriptions' buffers. Default 64.
	Concurrency int
	// Timeout bounds the handling of one request (store and LiveKit calls).
	// Default 15s.
	Timeout time.Duration
}

// WithDefaults returns c with zero fields set to their defaults.
func (c Config) WithDefaults() Config {
	if c.Log == nil {
		c.Log = logrus.StandardLogger()
	}
	if c.Concurrency == 0 {
		c.Concurrency = DefaultConcurrency
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	return c
}

func (c Config) validate() error {
	switch {
	case c.Store == nil:
		return fmt.Errorf("%w: queries need a store", ErrConfig)
	case c.Concurrency < 1 || c.Concurrency > 10000:
		return fmt.Errorf("%w: query concurrency %d not in 1..10000", ErrConfig, c.Concurrency)
	case c.Timeout <= 0:
		return fmt.Errorf("%w: query timeout must be positive", ErrConfig)
	}
	return nil
}

// Service answers the rooms.api.* requests as the NATS micro service
// "roomkeeper", in the default queue group, so any number of worker
// processes share them. Each request runs on its own goroutine (at most
// Concurrency at once), so a slow LiveKit call holds up no other request;
// the service's $SRV.STATS therefore count requests but not their
// outcome, which each endpoint reports in its stats data instead.
type Service struct {
	cfg   Config
	log   logrus.FieldLogger
	sem   chan struct{}
	nc    *nats.Conn
	svc   micro.Service
	stats map[string]*endpointStats

	mu       sync.Mutex
	closed   bool
	inflight sync.WaitGroup
}

// New checks cfg (after WithDefaults) and returns the service, not
// yet started.
func New(cfg Config) (*Service, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &Service{
		cfg:   cfg,
		log:   cfg.Log.WithField("component", "queries"),
		sem:   make(chan struct{}, cfg.Concurrency),
		stats: map[string]*endpointStats{},
	}, nil
}

// queryHandler answers one validated request body with a reply value
// (marshalled to JSON; a json.RawMessage is sent as is) or an error.
type queryHandler func(ctx context.Context, body []byte) (any, error)

// endpoint is one rooms.api.* endpoint.
type endpoint struct {
	name    string // micro endpoint name
	subject string
	handle  queryHandler
}

func (q *Service) endpoints() []endpoint {
	return []endpoint{
		{"get", events.APIGet, q.get},
		{"list", events.APIList, q.list},
		{"config", events.APIConfig, q.config},
		{"role", events.APIRole, q.role},
		{"recording_token", events.APIRecordingToken, q.recordingToken},
		{"participant_token", events.APIParticipantToken, q.participantToken},
		{"commands", events.APICommands, q.commands},
	}
}

// Start registers the service and its endpoints on nc. Call it once; Close
// stops it.
func (q *Service) Start(nc *nats.Conn) (micro.Service, error) {
	if q.svc != nil {
		return nil, fmt.Errorf("%w: queries already started", ErrConfig)
	}
	q.nc = nc
	eps := q.endpoints()
	for _, e := range eps {
		q.stats[e.name] = &endpointStats{}
	}
	svc, err := micro.AddService(nc, micro.Config{
		Name:        events.ServiceName,
		Version:     ServiceVersion,
		Description: "roomkeeper room queries (rooms.api.*); request and reply schemas in the endpoint metadata",
		StatsHandler: func(e *micro.Endpoint) any {
			if s, ok := q.stats[e.Name]; ok {
				return s.snapshot()
			}
			return nil
		},
	})
	if err != nil {
		return nil, err
	}
	for _, e := range eps {
		reqSchema, _ := schemas.SchemaFor(e.subject)
		replySchema, _ := schemas.ReplySchemaFor(e.subject)
		err := svc.AddEndpoint(e.name, q.dispatch(e),
			micro.WithEndpointSubject(e.subject),
			micro.WithEndpointMetadata(map[string]string{
				"request_schema": reqSchema,
				"reply_schema":   replySchema,
				"error_schema":   schemas.QueryError,
			}))
		if err != nil {
			_ = svc.Stop()
			return nil, fmt.Errorf("endpoint %s: %w", e.subject, err)
		}
	}
	q.svc = svc
	return svc, nil
}

// Close stops the service and waits for the requests in flight to be
// answered. Requests still delivered while it stops are answered
// "unavailable", so their callers retry on another worker.
func (q *Service) Close() error {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	var err error
	if q.svc != nil {
		err = q.svc.Stop()
	}
	q.inflight.Wait()
	return err
}

// dispatch hands each request to a goroutine, at most Concurrency at once.
func (q *Service) dispatch(e endpoint) micro.HandlerFunc {
	return func(req micro.Request) {
		reply := req.Reply()
		if reply == "" {
			return // a publish, not a request: nobody to answer
		}
		data := req.Data()
		q.mu.Lock()
		if q.closed {
			q.mu.Unlock()
			q.respond(e, reply, nil, events.Errorf(events.CodeUnavailable, "the worker is stopping; retry"), 0)
			return
		}
		q.inflight.Add(1)
		q.mu.Unlock()
		q.sem <- struct{}{}
		go func() {
			defer q.inflight.Done()
			defer func() { <-q.sem }()
			start := time.Now()
			v, err := q.run(e, data)
			q.respond(e, reply, v, err, time.Since(start))
		}()
	}
}

// run validates the request and runs the handler, recovering a panic.
func (q *Service) run(e endpoint, data []byte) (v any, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %v", ErrPanic, r)
		}
	}()
	if err := schemas.ValidateQuery(e.subject, data); err != nil {
		return nil, err
	}
	if len(bytes.TrimSpace(data)) == 0 {
		data = []byte("{}")
	}
	ctx, cancel := context.WithTimeout(context.Background(), q.cfg.Timeout)
	defer cancel()
	return e.handle(ctx, data)
}

// respond publishes the reply, or the error reply with the micro error
// headers. The log never holds the request (it may carry a secret).
func (q *Service) respond(e endpoint, reply string, v any, err error, took time.Duration) {
	msg := &nats.Msg{Subject: reply}
	var qerr *events.Error
	if err == nil {
		if raw, ok := v.(json.RawMessage); ok {
			msg.Data = raw
		} else if msg.Data, err = json.Marshal(v); err != nil {
			err = fmt.Errorf("marshal %s reply: %w", e.subject, err)
		}
	}
	if err != nil {
		qerr = q.publicError(e, err)
		status := qerr.HTTPStatus()
		msg.Data, _ = json.Marshal(events.ErrorReply{Status: status, Error: qerr})
		msg.Header = nats.Header{}
		msg.Header.Set(micro.ErrorHeader, qerr.Message)
		msg.Header.Set(micro.ErrorCodeHeader, strconv.Itoa(status))
	}
	if s := q.stats[e.name]; s != nil {
		s.record(qerr, took)
	}
	if perr := q.nc.PublishMsg(msg); perr != nil {
		q.log.WithError(perr).WithField("subject", e.subject).Warn("query reply not sent")
	}
}

// publicError turns err into what the caller may see: an *events.Error as
// it is; an outage as "unavailable"; anything else as "internal" without
// its text, which is logged instead.
func (q *Service) publicError(e endpoint, err error) *events.Error {
	if qe, ok := events.AsError(err); ok {
		return qe
	}
	log := q.log.WithField("subject", e.subject).WithError(err)
	if errors.Is(err, store.ErrUnavailable) || errors.Is(err, livekit.ErrUnavailable) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrConnectionClosed) {
		log.Warn("query failed: a dependency is unavailable")
		return events.Errorf(events.CodeUnavailable, "a dependency is unavailable; retry later")
	}
	log.Error("query failed")
	return events.Errorf(events.CodeInternal, "internal error")
}

// endpointStats are an endpoint's outcomes, reported as its $SRV.STATS
// data.
type endpointStats struct {
	mu        sync.Mutex
	requests  int64
	errors    map[string]int64
	lastError string
	total     time.Duration
}

// EndpointStats is the data of a roomkeeper endpoint in $SRV.STATS.
type EndpointStats struct {
	Requests int64 `json:"requests"`
	// Errors counts failed requests by error code.
	Errors                map[string]int64 `json:"errors,omitempty"`
	LastError             string           `json:"lastError,omitempty"`
	AverageProcessingTime time.Duration    `json:"averageProcessingTime"`
}

func (s *endpointStats) record(err *events.Error, took time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests++
	s.total += took
	if err != nil {
		if s.errors == nil {
			s.errors = map[string]int64{}
		}
		s.errors[err.Code]++
		s.lastError = err.Code + ": " + err.Message
	}
}

func (s *endpointStats) snapshot() EndpointStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := EndpointStats{Requests: s.requests, LastError: s.lastError}
	if len(s.errors) > 0 {
		out.Errors = make(map[string]int64, len(s.errors))
		for k, v := range s.errors {
			out.Errors[k] = v
		}
	}
	if s.requests > 0 {
		out.AverageProcessingTime = s.total / time.Duration(s.requests)
	}
	return out
}
