package workers

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

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
	// ParticipantToken signs a token to join roomID as identity with role.
	ParticipantToken(roomID, identity, name, role, metadata string) (string, error)
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

// Defaults of QueriesConfig.
const (
	DefaultQueryConcurrency = 64
	DefaultQueryTimeout     = 15 * time.Second
	// ServiceVersion is the version the micro service announces (the
	// AsyncAPI document's version of the message API).
	ServiceVersion = "1.0.0"
)

// Page sizes of rooms.api.list, as OpenVidu Meet coerces maxItems.
const (
	DefaultMaxItems = 10
	MaxMaxItems     = 100
)

// QueriesConfig configures the query service.
type QueriesConfig struct {
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
func (c QueriesConfig) WithDefaults() QueriesConfig {
	if c.Log == nil {
		c.Log = logrus.StandardLogger()
	}
	if c.Concurrency == 0 {
		c.Concurrency = DefaultQueryConcurrency
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultQueryTimeout
	}
	return c
}

func (c QueriesConfig) validate() error {
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

// Queries answers the rooms.api.* requests as the NATS micro service
// "roomkeeper", in the default queue group, so any number of worker
// processes share them. Each request runs on its own goroutine (at most
// Concurrency at once), so a slow LiveKit call holds up no other request;
// the service's $SRV.STATS therefore count requests but not their
// outcome, which each endpoint reports in its stats data instead.
type Queries struct {
	cfg   QueriesConfig
	log   logrus.FieldLogger
	sem   chan struct{}
	nc    *nats.Conn
	svc   micro.Service
	stats map[string]*endpointStats

	mu       sync.Mutex
	closed   bool
	inflight sync.WaitGroup
}

// NewQueries checks cfg (after WithDefaults) and returns the service, not
// yet started.
func NewQueries(cfg QueriesConfig) (*Queries, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &Queries{
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

func (q *Queries) endpoints() []endpoint {
	return []endpoint{
		{"get", events.APIGet, q.get},
		{"list", events.APIList, q.list},
		{"role", events.APIRole, q.role},
		{"recording_token", events.APIRecordingToken, q.recordingToken},
		{"participant_token", events.APIParticipantToken, q.participantToken},
	}
}

// Start registers the service and its endpoints on nc. Call it once; Close
// stops it.
func (q *Queries) Start(nc *nats.Conn) (micro.Service, error) {
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
func (q *Queries) Close() error {
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
func (q *Queries) dispatch(e endpoint) micro.HandlerFunc {
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
func (q *Queries) run(e endpoint, data []byte) (v any, err error) {
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
func (q *Queries) respond(e endpoint, reply string, v any, err error, took time.Duration) {
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
		msg.Data, _ = json.Marshal(events.ErrorReply{Error: qerr})
		msg.Header = nats.Header{}
		msg.Header.Set(micro.ErrorHeader, qerr.Message)
		msg.Header.Set(micro.ErrorCodeHeader, events.StatusOf(qerr.Code))
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
func (q *Queries) publicError(e endpoint, err error) *events.Error {
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

// ---------------------------------------------------------------- get

func (q *Queries) get(ctx context.Context, body []byte) (any, error) {
	var req events.GetRequest
	if err := decodeQuery(body, &req); err != nil {
		return nil, err
	}
	room, err := q.room(ctx, req.RoomID)
	if err != nil {
		return nil, err
	}
	return roomJSON(room, parseFields(req.Fields))
}

// room reads a room; not_found when there is none.
func (q *Queries) room(ctx context.Context, id string) (*store.Room, error) {
	room, err := q.cfg.Store.GetRoom(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, events.Errorf(events.CodeNotFound, "room %s not found", id)
	}
	return room, err
}

// roomFields are the properties of a room, in the contract's order.
var roomFields = []string{
	"roomId", "roomName", "creationDate", "autoDeletionDate", "markedForDeletion",
	"preferences", "moderatorRoomUrl", "publisherRoomUrl",
}

// parseFields reads a comma-separated fields list; nil means every field
// (no list, or one naming nothing at all).
func parseFields(s string) map[string]bool {
	var out map[string]bool
	for f := range strings.SplitSeq(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		if out == nil {
			out = map[string]bool{}
		}
		out[f] = true
	}
	return out
}

// roomJSON is the room as the contract shows it, restricted to fields
// (nil: all) in the contract's order; unknown fields are dropped.
func roomJSON(r *store.Room, fields map[string]bool) (json.RawMessage, error) {
	raw, err := json.Marshal(r.View())
	if err != nil || fields == nil {
		return raw, err
	}
	var all map[string]json.RawMessage
	if err := json.Unmarshal(raw, &all); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.WriteByte('{')
	for _, f := range roomFields {
		v, ok := all[f]
		if !ok || !fields[f] {
			continue
		}
		if b.Len() > 1 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(f)
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// ---------------------------------------------------------------- list

// listRequest is rooms.api.list as received: maxItems is any JSON number.
type listRequest struct {
	MaxItems      *float64 `json:"maxItems"`
	NextPageToken string   `json:"nextPageToken"`
	Fields        string   `json:"fields"`
}

type listReply struct {
	Rooms      []json.RawMessage `json:"rooms"`
	Pagination events.Pagination `json:"pagination"`
}

// MaxItems coerces a requested page size as OpenVidu Meet does: absent →
// 10; floored; capped at 100; below 1 (after flooring) or not finite →
// invalid_argument.
func MaxItems(v *float64) (int, error) {
	if v == nil {
		return DefaultMaxItems, nil
	}
	f := math.Floor(*v)
	if math.IsNaN(f) || f < 1 {
		return 0, events.Invalid("invalid "+events.APIList+" request",
			events.FieldError{Field: "maxItems", Message: "must be at least 1"})
	}
	return int(min(f, MaxMaxItems)), nil
}

// pageTokenPrefix versions the page token, which is otherwise opaque.
const pageTokenPrefix = "r1:"

// PageToken is the opaque nextPageToken of a page ending at roomID: the
// list resumes after that ID (keyset pagination), so rooms created or
// deleted between pages shift nothing: a room that exists throughout the
// listing is returned exactly once.
func PageToken(roomID string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(pageTokenPrefix + roomID))
}

// parsePageToken returns the room ID a token resumes after.
func parsePageToken(tok string) (string, error) {
	bad := events.Invalid("invalid "+events.APIList+" request",
		events.FieldError{Field: "nextPageToken", Message: "is not a token of this service"})
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || !utf8.Valid(raw) {
		return "", bad
	}
	id, ok := strings.CutPrefix(string(raw), pageTokenPrefix)
	if !ok || id == "" || len(id) > 512 {
		return "", bad
	}
	return id, nil
}

func (q *Queries) list(ctx context.Context, body []byte) (any, error) {
	var req listRequest
	if err := decodeQuery(body, &req); err != nil {
		return nil, err
	}
	limit, err := MaxItems(req.MaxItems)
	if err != nil {
		return nil, err
	}
	after := ""
	if req.NextPageToken != "" {
		if after, err = parsePageToken(req.NextPageToken); err != nil {
			return nil, err
		}
	}
	rooms, err := q.cfg.Store.ListRooms(ctx, after, limit+1)
	if err != nil {
		return nil, err
	}
	out := listReply{Rooms: []json.RawMessage{}, Pagination: events.Pagination{MaxItems: limit}}
	if len(rooms) > limit {
		rooms = rooms[:limit]
		out.Pagination.IsTruncated = true
		out.Pagination.NextPageToken = PageToken(rooms[limit-1].RoomID)
	}
	fields := parseFields(req.Fields)
	for i := range rooms {
		raw, err := roomJSON(&rooms[i], fields)
		if err != nil {
			return nil, err
		}
		out.Rooms = append(out.Rooms, raw)
	}
	return out, nil
}

// ---------------------------------------------------------------- role

// RoleOf returns the role secret gives among a room's two secrets, comparing
// in constant time (SHA-256 digests, so not even the length leaks) and
// always against both; ok is false when it is neither.
func RoleOf(secret, moderatorSecret, publisherSecret string) (role string, ok bool) {
	h := sha256.Sum256([]byte(secret))
	m := sha256.Sum256([]byte(moderatorSecret))
	p := sha256.Sum256([]byte(publisherSecret))
	isMod := subtle.ConstantTimeCompare(h[:], m[:]) & boolInt(moderatorSecret != "")
	isPub := subtle.ConstantTimeCompare(h[:], p[:]) & boolInt(publisherSecret != "")
	switch {
	case secret == "":
		return "", false
	case isMod == 1:
		return events.RoleModerator, true
	case isPub == 1:
		return events.RolePublisher, true
	}
	return "", false
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// roleFor is RoleOf with the invalid_secret error; it names the room, never
// the secret.
func roleFor(roomID, secret, moderatorSecret, publisherSecret string) (string, error) {
	role, ok := RoleOf(secret, moderatorSecret, publisherSecret)
	if !ok {
		return "", events.Errorf(events.CodeInvalidSecret, "invalid secret for room %s", roomID)
	}
	return role, nil
}

// roomRole reads room roomID and the role secret gives in it.
func (q *Queries) roomRole(ctx context.Context, roomID, secret string) (*store.Room, string, error) {
	room, err := q.room(ctx, roomID)
	if err != nil {
		return nil, "", err
	}
	role, err := roleFor(room.RoomID, secret, room.ModeratorSecret, room.PublisherSecret)
	if err != nil {
		return nil, "", err
	}
	return room, role, nil
}

func (q *Queries) role(ctx context.Context, body []byte) (any, error) {
	var req events.SecretRequest
	if err := decodeQuery(body, &req); err != nil {
		return nil, err
	}
	_, role, err := q.roomRole(ctx, req.RoomID, req.Secret)
	if err != nil {
		return nil, err
	}
	return events.RoleReply{Role: role}, nil
}

// ---------------------------------------------------------------- recording token

// RecordingPermissions is OpenVidu Meet's matrix: a moderator may retrieve
// and delete unless access is "admin"; a publisher may retrieve only when
// access is "admin-moderator-publisher", and never delete.
func RecordingPermissions(role, allowAccessTo string) (canRetrieve, canDelete bool) {
	canDelete = role == events.RoleModerator && allowAccessTo != events.AccessAdmin
	canRetrieve = canDelete || role == events.RolePublisher && allowAccessTo == events.AccessAdminModeratorPublisher
	return canRetrieve, canDelete
}

func (q *Queries) recordingToken(ctx context.Context, body []byte) (any, error) {
	var req events.SecretRequest
	if err := decodeQuery(body, &req); err != nil {
		return nil, err
	}
	a, err := q.cfg.Store.GetArchivedRoom(ctx, req.RoomID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, events.Errorf(events.CodeNotFound, "no recording metadata for room %s", req.RoomID)
	}
	if err != nil {
		return nil, err
	}
	role, err := roleFor(a.RoomID, req.Secret, a.ModeratorSecret, a.PublisherSecret)
	if err != nil {
		return nil, err
	}
	if err := q.attached(); err != nil {
		return nil, err
	}
	canRetrieve, canDelete := RecordingPermissions(role, a.Preferences.RecordingPreferences.AllowAccessTo)
	token, err := q.cfg.Tokens.RecordingToken(a.RoomID, role, canRetrieve, canDelete)
	if err != nil {
		return nil, err
	}
	return events.TokenReply{Token: token}, nil
}

// attached answers "unavailable" when there is no LiveKit to sign for.
func (q *Queries) attached() error {
	if q.cfg.Tokens == nil || q.cfg.Tokens.Detached() {
		return events.Errorf(events.CodeUnavailable, "LiveKit is not configured")
	}
	return nil
}

// ---------------------------------------------------------------- participant token

// RoomOptions is the roomOptions of a LiveKit room's metadata, as OpenVidu
// Meet's frontend reads it (its MeetRoomOptions): the room's name, expiry
// and preferences.
type RoomOptions struct {
	RoomName         string             `json:"roomName"`
	AutoDeletionDate *int64             `json:"autoDeletionDate,omitempty"`
	Preferences      events.Preferences `json:"preferences"`
}

// participantMetadata is the metadata of a participant token.
type participantMetadata struct {
	RoomID string `json:"roomId"`
	Role   string `json:"role"`
}

func (q *Queries) participantToken(ctx context.Context, body []byte) (any, error) {
	var req events.ParticipantTokenRequest
	if err := decodeQuery(body, &req); err != nil {
		return nil, err
	}
	room, role, err := q.roomRole(ctx, req.RoomID, req.Secret)
	if err != nil {
		return nil, err
	}
	if room.MarkedForDeletion {
		return nil, events.Errorf(events.CodeForbidden, "room %s is marked for deletion", room.RoomID)
	}
	if err := q.attached(); err != nil {
		return nil, err
	}
	opts := RoomOptions{RoomName: room.RoomName, AutoDeletionDate: room.AutoDeletionDate, Preferences: room.Preferences}
	if err := q.cfg.Tokens.EnsureRoom(ctx, room.RoomID, opts); err != nil {
		return nil, err
	}
	md, err := json.Marshal(participantMetadata{RoomID: room.RoomID, Role: role})
	if err != nil {
		return nil, err
	}
	token, err := q.cfg.Tokens.ParticipantToken(room.RoomID, req.ParticipantName, req.ParticipantName, role, string(md))
	if err != nil {
		return nil, err
	}
	return events.ParticipantTokenReply{Token: token, LiveKitURL: q.cfg.Tokens.URL(), Role: role}, nil
}

// decodeQuery unmarshals a request the schema already accepted, matching
// property names exactly as the schema does.
func decodeQuery(body []byte, v any) error {
	if err := decodeExact(body, v); err != nil {
		return events.Invalid("malformed request", events.FieldError{Field: schemas.BodyField, Message: "does not match the request's types"})
	}
	return nil
}
