package webhooks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"time"
	"unicode/utf8"

	"github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	"github.com/livekit/protocol/webhook"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/sirupsen/logrus"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/roomkeeper/roomkeeper/events"
)

// Path is where LiveKit posts its webhooks (DESIGN.md).
const Path = "/livekit/webhook"

// Defaults of [Config].
const (
	// DefaultMaxBody is the largest body accepted: 1 MiB.
	DefaultMaxBody int64 = 1 << 20
	// DefaultPublishTimeout bounds the wait for JetStream's acknowledgement.
	// LiveKit's HTTP client gives up after 10 s.
	DefaultPublishTimeout = 5 * time.Second
)

// Outcomes of a request, as counted by [Metrics] and logged.
const (
	OutcomeStored           = "stored"             // 200: stored now
	OutcomeDuplicate        = "duplicate"          // 200: already stored
	OutcomeMethodNotAllowed = "method_not_allowed" // 405
	OutcomeTooLarge         = "too_large"          // 413
	OutcomeUnauthorized     = "unauthorized"       // 401
	OutcomeMalformed        = "malformed"          // 400
	OutcomeUnavailable      = "unavailable"        // 503
)

// Metrics counts requests by outcome (one of the Outcome constants). A nil
// Metrics counts nothing. Webhook is called once per request, concurrently.
type Metrics interface {
	Webhook(outcome string)
}

// Config configures a [Receiver].
type Config struct {
	// APIKey and APISecret are the LiveKit key pair the webhooks are signed
	// with (LIVEKIT_API_KEY, LIVEKIT_API_SECRET). Required.
	APIKey    string
	APISecret string
	// MaxBody is the largest body accepted, in bytes; DefaultMaxBody when 0.
	MaxBody int64
	// PublishTimeout bounds the wait for JetStream to store an event;
	// DefaultPublishTimeout when 0.
	PublishTimeout time.Duration
	// Metrics, when set, counts requests by outcome.
	Metrics Metrics
}

// WithDefaults returns c with its zero fields set to their defaults.
func (c Config) WithDefaults() Config {
	if c.MaxBody == 0 {
		c.MaxBody = DefaultMaxBody
	}
	if c.PublishTimeout == 0 {
		c.PublishTimeout = DefaultPublishTimeout
	}
	return c
}

func (c Config) validate() error {
	switch {
	case c.APIKey == "":
		return fmt.Errorf("%w: API key is empty", ErrConfig)
	case c.APISecret == "":
		return fmt.Errorf("%w: API secret is empty", ErrConfig)
	case c.MaxBody <= 0:
		return fmt.Errorf("%w: max body %d must be positive", ErrConfig, c.MaxBody)
	case c.PublishTimeout <= 0:
		return fmt.Errorf("%w: publish timeout %s must be positive", ErrConfig, c.PublishTimeout)
	}
	return nil
}

// Receiver is the http.Handler of POST [Path]. It is safe for concurrent use.
type Receiver struct {
	cfg     Config
	js      jetstream.JetStream
	log     logrus.FieldLogger
	keys    auth.KeyProvider
	metrics Metrics
	decode  protojson.UnmarshalOptions
}

// New returns a Receiver that verifies webhooks with cfg's key pair and
// stores them through js. log may be nil (nothing is logged).
func New(cfg Config, js jetstream.JetStream, log logrus.FieldLogger) (*Receiver, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if js == nil {
		return nil, fmt.Errorf("%w: no JetStream context", ErrConfig)
	}
	if log == nil {
		l := logrus.New()
		l.SetOutput(io.Discard)
		log = l
	}
	return &Receiver{
		cfg:     cfg,
		js:      js,
		log:     log,
		keys:    auth.NewSimpleKeyProvider(cfg.APIKey, cfg.APISecret),
		metrics: cfg.Metrics,
		// As LiveKit's own ReceiveWebhookEvent: fields a newer server adds
		// must not turn its events into 400s.
		decode: protojson.UnmarshalOptions{DiscardUnknown: true, AllowPartial: true},
	}, nil
}

// Routes registers the receiver on mux at [Path].
func (rc *Receiver) Routes(mux *http.ServeMux) {
	mux.Handle(Path, rc)
}

// request is what a request came to, for the answer, the log and metrics.
type request struct {
	id, event, room string
	duplicate       bool
	seq             uint64
}

// ServeHTTP handles one webhook delivery.
func (rc *Receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	req, err := rc.ingest(w, r)
	status, outcome := StatusOf(err)
	if err == nil && req.duplicate {
		outcome = OutcomeDuplicate
	}

	if rc.metrics != nil {
		rc.metrics.Webhook(outcome)
	}
	log := rc.log.WithFields(logrus.Fields{
		"event_id": req.id,
		"event":    req.event,
		"room":     req.room,
		"outcome":  outcome,
		"status":   status,
		"duration": time.Since(start),
	})
	switch {
	case err == nil:
		log.WithField("stream_seq", req.seq).Debug("webhook stored")
	case status == http.StatusServiceUnavailable:
		log.WithError(err).Warn("webhook not stored")
	default:
		log.WithError(err).Info("webhook refused")
	}

	switch status {
	case http.StatusOK:
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, outcome+"\n")
	case http.StatusMethodNotAllowed:
		w.Header().Set("Allow", http.MethodPost)
		fallthrough
	default:
		http.Error(w, http.StatusText(status), status)
	}
}

// StatusOf maps the error of a request to its HTTP status and outcome: nil
// is 200 stored, the sentinels their own status, anything else 503.
func StatusOf(err error) (status int, outcome string) {
	switch {
	case err == nil:
		return http.StatusOK, OutcomeStored
	case errors.Is(err, ErrMethod):
		return http.StatusMethodNotAllowed, OutcomeMethodNotAllowed
	case errors.Is(err, ErrTooLarge):
		return http.StatusRequestEntityTooLarge, OutcomeTooLarge
	case errors.Is(err, ErrUnauthorized):
		return http.StatusUnauthorized, OutcomeUnauthorized
	case errors.Is(err, ErrMalformed):
		return http.StatusBadRequest, OutcomeMalformed
	default:
		return http.StatusServiceUnavailable, OutcomeUnavailable
	}
}

// ingest reads, verifies, decodes and stores one request's event.
func (rc *Receiver) ingest(w http.ResponseWriter, r *http.Request) (request, error) {
	var req request
	if r.Method != http.MethodPost {
		return req, ErrMethod
	}
	body, err := rc.readBody(w, r)
	if err != nil {
		return req, err
	}
	if err := rc.verify(r.Header.Get("Authorization"), body); err != nil {
		return req, err
	}

	var ev livekit.WebhookEvent
	if err := rc.decode.Unmarshal(body, &ev); err != nil {
		return req, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	req.id, req.event, req.room = ev.GetId(), ev.GetEvent(), roomName(&ev)
	switch {
	case req.id == "":
		return req, fmt.Errorf("%w: no id", ErrMalformed)
	case !validID(req.id):
		return req, fmt.Errorf("%w: id is not a usable message ID", ErrMalformed)
	case req.event == "":
		return req, fmt.Errorf("%w: no event", ErrMalformed)
	case !eventToken.MatchString(req.event):
		return req, fmt.Errorf("%w: event is not a single subject token", ErrMalformed)
	}

	ack, err := rc.publish(r.Context(), req, body)
	if err != nil {
		return req, err
	}
	req.duplicate, req.seq = ack.Duplicate, ack.Sequence
	return req, nil
}

// readBody reads the whole body, at most MaxBody bytes.
func (rc *Receiver) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if r.ContentLength > rc.cfg.MaxBody {
		return nil, fmt.Errorf("%w: content length %d over %d", ErrTooLarge, r.ContentLength, rc.cfg.MaxBody)
	}
	if r.Body == nil {
		return nil, nil
	}
	size := int64(bytes.MinRead)
	if r.ContentLength > 0 {
		size = r.ContentLength + 1 // +1: ReadFrom sees EOF without growing
	}
	buf := bytes.NewBuffer(make([]byte, 0, size))
	// MaxBytesReader reads at most MaxBody+1 bytes and, past MaxBody, tells
	// the server to close the connection rather than drain the rest.
	_, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, rc.cfg.MaxBody))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return nil, fmt.Errorf("%w: body over %d bytes", ErrTooLarge, rc.cfg.MaxBody)
		}
		return nil, fmt.Errorf("%w: reading body: %v", ErrMalformed, err)
	}
	return buf.Bytes(), nil
}

// verify checks the Authorization JWT and the body's hash with LiveKit's
// own verifier (webhook.Receive) on the bytes already read: the token must
// be signed with the secret of its API key, be valid now, and carry the
// base64 sha256 of the body.
func (rc *Receiver) verify(authorization string, body []byte) error {
	if authorization == "" {
		return fmt.Errorf("%w: no Authorization header", ErrUnauthorized)
	}
	req := &http.Request{
		Header: http.Header{"Authorization": []string{authorization}},
		Body:   io.NopCloser(bytes.NewReader(body)),
	}
	if _, err := webhook.Receive(req, rc.keys); err != nil {
		return fmt.Errorf("%w: %v", ErrUnauthorized, err)
	}
	return nil
}

// publish stores body on livekit.webhook.<event> with the event's id as
// message ID, and waits for JetStream's acknowledgement.
func (rc *Receiver) publish(ctx context.Context, req request, body []byte) (*jetstream.PubAck, error) {
	// A publish while disconnected would wait in the reconnect buffer and
	// could land after the 503: refuse it at once instead.
	if nc := rc.js.Conn(); nc != nil && !nc.IsConnected() {
		return nil, fmt.Errorf("%w: NATS connection %s", ErrUnavailable, nc.Status())
	}
	ctx, cancel := context.WithTimeout(ctx, rc.cfg.PublishTimeout)
	defer cancel()
	msg := &nats.Msg{
		Subject: events.WebhookPrefix + req.event,
		Header:  nats.Header{jetstream.MsgIDHeader: []string{req.id}},
		Data:    body,
	}
	// Asynchronously, then await the acknowledgement: the requests in
	// flight share the connection's one acknowledgement subscription
	// instead of a request each (about 10% more requests per second).
	var ack *jetstream.PubAck
	f, err := rc.js.PublishMsgAsync(msg, jetstream.WithExpectStream(events.StreamWebhooks))
	if err == nil {
		select {
		case ack = <-f.Ok():
		case err = <-f.Err():
		case <-ctx.Done():
			err = ctx.Err()
		}
	}
	switch {
	case errors.Is(err, nats.ErrMaxPayload):
		return nil, fmt.Errorf("%w: over the NATS max payload: %v", ErrTooLarge, err)
	case err != nil:
		return nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	return ack, nil
}

// eventToken is what an event name must look like to be one subject token.
// LiveKit's are lower snake case (room_finished, track_published).
var eventToken = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// validID reports whether id can be a Nats-Msg-Id header value: at most 256
// bytes of UTF-8 without control characters. LiveKit's look like EV_xxxx.
func validID(id string) bool {
	if len(id) > 256 || !utf8.ValidString(id) {
		return false
	}
	for _, c := range id {
		if c < 0x20 || c == 0x7f {
			return false
		}
	}
	return true
}

// roomName is the name of the room an event is about, for the log.
func roomName(ev *livekit.WebhookEvent) string {
	switch {
	case ev.GetRoom().GetName() != "":
		return ev.GetRoom().GetName()
	case ev.GetEgressInfo().GetRoomName() != "":
		return ev.GetEgressInfo().GetRoomName()
	default:
		return ev.GetIngressInfo().GetRoomName()
	}
}
