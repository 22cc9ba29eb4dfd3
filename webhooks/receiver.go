package webhooks

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"regexp"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	"github.com/livekit/protocol/webhook"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/sirupsen/logrus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/internal/publish"
	"github.com/roomkeeper/roomkeeper/internal/tracing"
)

// Path is where LiveKit posts its webhooks (docs/contract.md).
const Path = "/livekit/webhook"

// Defaults of [Config].
const (
	// DefaultMaxBody is the largest body accepted: 1 MiB.
	DefaultMaxBody int64 = 1 << 20
	// DefaultPublishTimeout bounds the wait for JetStream's acknowledgement.
	// LiveKit's HTTP client gives up after 10 s.
	DefaultPublishTimeout = 5 * time.Second
	// DefaultMaxInFlightBytes bounds the body buffers of all requests in
	// flight together: 32 MiB, 32 bodies of the largest size or about 8000
	// of LiveKit's usual ones (a 4 KiB buffer each).
	DefaultMaxInFlightBytes int64 = 32 << 20
	// BusyRetryAfter is the Retry-After, in seconds, of a 503 answered
	// because the in-flight budget is spent: LiveKit's client waits that
	// long (at most its own maximum wait) before it retries.
	BusyRetryAfter = 1
)

// Outcomes of a request, as counted by [Metrics] and logged.
const (
	OutcomeStored           = "stored"             // 200: stored now
	OutcomeDuplicate        = "duplicate"          // 200: already stored
	OutcomeMethodNotAllowed = "method_not_allowed" // 405
	OutcomeTooLarge         = "too_large"          // 413
	OutcomeUnauthorized     = "unauthorized"       // 401
	OutcomeMalformed        = "malformed"          // 400
	OutcomeUnavailable      = "unavailable"        // 503: not stored
	OutcomeBusy             = "busy"               // 503 + Retry-After: in-flight budget spent
)

// Outcomes lists every Outcome constant, for metrics that bound their
// label values.
func Outcomes() []string {
	return []string{
		OutcomeStored, OutcomeDuplicate, OutcomeMethodNotAllowed, OutcomeTooLarge,
		OutcomeUnauthorized, OutcomeMalformed, OutcomeUnavailable, OutcomeBusy,
	}
}

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
	// MaxInFlightBytes bounds the bytes of the body buffers that requests
	// in flight hold together; a request that would go over it is answered
	// 503 with a Retry-After before its body is read.
	// DefaultMaxInFlightBytes when 0; at least MaxBody.
	MaxInFlightBytes int64
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
	if c.MaxInFlightBytes == 0 {
		c.MaxInFlightBytes = DefaultMaxInFlightBytes
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
	case c.MaxBody > math.MaxInt32:
		return fmt.Errorf("%w: max body %d over 2 GiB", ErrConfig, c.MaxBody)
	case c.PublishTimeout <= 0:
		return fmt.Errorf("%w: publish timeout %s must be positive", ErrConfig, c.PublishTimeout)
	case c.MaxInFlightBytes < c.MaxBody:
		return fmt.Errorf("%w: max in-flight bytes %d must be at least max body %d", ErrConfig, c.MaxInFlightBytes, c.MaxBody)
	}
	return nil
}

// Receiver is the http.Handler of POST [Path]. It is safe for concurrent use.
type Receiver struct {
	cfg     Config
	js      jetstream.JetStream
	pub     *publish.Publisher
	log     logrus.FieldLogger
	keys    auth.KeyProvider
	metrics Metrics
	decode  protojson.UnmarshalOptions

	bufs     *bufPool
	inflight budget
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
	pub, err := publish.New(publish.Config{Timeout: cfg.PublishTimeout, ExpectStream: events.StreamWebhooks, SpanName: "webhook republish"}, js)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	if log == nil {
		l := logrus.New()
		l.SetOutput(io.Discard)
		log = l
	}
	return &Receiver{
		cfg:     cfg,
		js:      js,
		pub:     pub,
		log:     log,
		keys:    auth.NewSimpleKeyProvider(cfg.APIKey, cfg.APISecret),
		metrics: cfg.Metrics,
		// As LiveKit's own ReceiveWebhookEvent: fields a newer server adds
		// must not turn its events into 400s.
		decode:   protojson.UnmarshalOptions{DiscardUnknown: true, AllowPartial: true},
		bufs:     newBufPool(int(cfg.MaxBody)),
		inflight: budget{max: cfg.MaxInFlightBytes},
	}, nil
}

// InFlightBytes is how many bytes of body buffers the requests in flight
// hold now, at most Config.MaxInFlightBytes.
func (rc *Receiver) InFlightBytes() int64 { return rc.inflight.held.Load() }

// Routes registers the receiver on mux at [Path].
func (rc *Receiver) Routes(mux *http.ServeMux) {
	mux.Handle(Path, rc)
}

// request is what a request came to, for the answer, the log and metrics.
type request struct {
	id, event, room string
	duplicate       bool
	seq             uint64
	// bodyRead: the whole body was read.
	bodyRead bool
}

// ServeHTTP handles one webhook delivery.
func (rc *Receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	// LiveKit sends no trace context: a webhook starts its own trace.
	ctx, span := tracing.Start(r.Context(), "webhook receive", trace.SpanKindServer)
	defer span.End()
	if span.IsRecording() {
		r = r.WithContext(ctx)
	}
	req, err := rc.ingest(w, r)
	status, outcome := StatusOf(err)
	if err == nil && req.duplicate {
		outcome = OutcomeDuplicate
	}
	if span.IsRecording() {
		span.SetAttributes(attribute.String("livekit.event", req.event), attribute.String("livekit.event_id", req.id),
			attribute.String("room", req.room), attribute.String("outcome", outcome), attribute.Int("http.response.status_code", status))
	}

	if rc.metrics != nil {
		rc.metrics.Webhook(outcome)
	}
	log := tracing.LogFields(ctx, rc.log.WithFields(logrus.Fields{
		"event_id": req.id,
		"event":    req.event,
		"room":     req.room,
		"outcome":  outcome,
		"status":   status,
		"duration": time.Since(start),
	}))
	switch {
	case err == nil:
		log.WithField("stream_seq", req.seq).Debug("webhook stored")
	case outcome == OutcomeUnavailable:
		log.WithError(err).Warn("webhook not stored")
	default:
		log.WithError(err).Info("webhook refused")
	}

	if err != nil && !req.bodyRead && r.ContentLength != 0 {
		// Refused without reading the body: close the connection rather
		// than wait for the rest of the body to discard it.
		w.Header().Set("Connection", "close")
	}
	switch status {
	case http.StatusOK:
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, outcome+"\n")
	case http.StatusMethodNotAllowed:
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, http.StatusText(status), status)
	case http.StatusServiceUnavailable:
		if outcome == OutcomeBusy {
			w.Header().Set("Retry-After", strconv.Itoa(BusyRetryAfter))
		}
		fallthrough
	default:
		http.Error(w, http.StatusText(status), status)
	}
}

// StatusOf maps the error of a request to its HTTP status and outcome: nil
// is 200 stored, the sentinels their own status, anything else 503
// unavailable.
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
	case errors.Is(err, ErrBusy):
		return http.StatusServiceUnavailable, OutcomeBusy
	default:
		return http.StatusServiceUnavailable, OutcomeUnavailable
	}
}

// ingest verifies, reads, decodes and stores one request's event.
func (rc *Receiver) ingest(w http.ResponseWriter, r *http.Request) (req request, err error) {
	if r.Method != http.MethodPost {
		return req, ErrMethod
	}
	// The token first: a request that is not LiveKit's gets its 401 before
	// a byte of its body is read or any memory is set aside for it.
	hash, err := rc.authorize(r.Header.Get("Authorization"))
	if err != nil {
		return req, err
	}
	body, err := rc.readBody(w, r)
	if err != nil {
		return req, err
	}
	req.bodyRead = true
	reuse := true // false once the buffer may still be referenced
	defer func() { body.release(reuse) }()
	if err := checkHash(hash, body.bytes()); err != nil {
		return req, err
	}

	var ev livekit.WebhookEvent
	if err := rc.decode.Unmarshal(body.bytes(), &ev); err != nil {
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

	ack, settled, err := rc.publish(r.Context(), req, body.bytes())
	reuse = settled
	if err != nil {
		return req, err
	}
	req.duplicate, req.seq = ack.Duplicate, ack.Sequence
	return req, nil
}

// authorize checks the Authorization JWT as LiveKit's own verifier
// (webhook.Receive) does, without the body: signed (HS256) with the secret
// of the API key it names as issuer, not expired, not before its time. It
// returns the token's sha256 claim, which the body must then match.
func (rc *Receiver) authorize(authorization string) (string, error) {
	if authorization == "" {
		return "", fmt.Errorf("%w: no Authorization header", ErrUnauthorized)
	}
	v, err := auth.ParseAPIToken(authorization)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrUnauthorized, err)
	}
	secret := rc.keys.GetSecret(v.APIKey())
	if secret == "" {
		return "", fmt.Errorf("%w: %v", ErrUnauthorized, webhook.ErrSecretNotFound)
	}
	_, claims, err := v.Verify(secret)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrUnauthorized, err)
	}
	if claims.Sha256 == "" {
		return "", fmt.Errorf("%w: no sha256 claim", ErrUnauthorized)
	}
	return claims.Sha256, nil
}

// checkHash compares the body's sha256 with the token's claim (base64,
// standard encoding), in constant time as webhook.Receive does.
func checkHash(claim string, body []byte) error {
	sum := sha256.Sum256(body)
	if subtle.ConstantTimeCompare([]byte(claim), []byte(base64.StdEncoding.EncodeToString(sum[:]))) != 1 {
		return fmt.Errorf("%w: %v", ErrUnauthorized, webhook.ErrInvalidChecksum)
	}
	return nil
}

// body is a request's body in a pooled buffer whose size is counted in the
// receiver's in-flight budget until release.
type body struct {
	rc    *Receiver
	buf   *[]byte
	class int
	n     int
}

func (b *body) bytes() []byte {
	if b.buf == nil {
		return nil
	}
	return (*b.buf)[:b.n]
}

// grow swaps the buffer for one of the next class (the first one, when
// there is none yet) that holds at least need bytes, the bytes read so far
// copied over. ErrBusy when the budget has no room for it.
func (b *body) grow(need int) error {
	class := b.rc.bufs.class(need)
	if b.buf != nil && class <= b.class {
		class = b.class + 1
	}
	size := int64(b.rc.bufs.sizes[class])
	if !b.rc.inflight.take(size) {
		return fmt.Errorf("%w: %d bytes of bodies in flight, %d more needed", ErrBusy, b.rc.inflight.held.Load(), size)
	}
	buf := b.rc.bufs.get(class)
	if b.buf != nil {
		copy(*buf, (*b.buf)[:b.n])
		b.release(true)
	}
	b.buf, b.class = buf, class
	return nil
}

// release gives the buffer's bytes back to the budget and, when reuse, the
// buffer to the pool: not when something may still read it.
func (b *body) release(reuse bool) {
	if b.buf == nil {
		return
	}
	b.rc.inflight.give(int64(b.rc.bufs.sizes[b.class]))
	if reuse {
		b.rc.bufs.put(b.class, b.buf)
	}
	b.buf = nil
}

// readBody reads the whole body, at most MaxBody bytes, into a pooled
// buffer sized to it: its Content-Length, or, when it is chunked, a buffer
// that grows a class at a time as bytes arrive. The buffer counts in the
// in-flight budget from before the first byte is read until release; on an
// error it is already released.
func (rc *Receiver) readBody(w http.ResponseWriter, r *http.Request) (b *body, err error) {
	if r.ContentLength > rc.cfg.MaxBody {
		return nil, fmt.Errorf("%w: content length %d over %d", ErrTooLarge, r.ContentLength, rc.cfg.MaxBody)
	}
	b = &body{rc: rc}
	defer func() {
		if err != nil {
			b.release(true)
			b = nil
		}
	}()
	if r.Body == nil || r.ContentLength == 0 {
		return b, nil
	}
	// MaxBytesReader reads at most MaxBody+1 bytes and, past MaxBody, tells
	// the server to close the connection rather than drain the rest.
	src := http.MaxBytesReader(w, r.Body, rc.cfg.MaxBody)
	if r.ContentLength > 0 {
		// The server ends the body at its Content-Length.
		if err := b.grow(int(r.ContentLength)); err != nil {
			return b, err
		}
		n, err := io.ReadFull(src, (*b.buf)[:r.ContentLength])
		b.n = n
		if err != nil {
			return b, readError(err, rc.cfg.MaxBody)
		}
		return b, nil
	}
	if err := b.grow(minBufClass); err != nil {
		return b, err
	}
	for {
		if b.n == len(*b.buf) {
			if int64(b.n) == rc.cfg.MaxBody {
				// Full: one byte more is too many.
				var one [1]byte
				n, err := io.ReadFull(src, one[:])
				switch {
				case n == 0 && errors.Is(err, io.EOF):
					return b, nil
				case err != nil && n == 0:
					return b, readError(err, rc.cfg.MaxBody)
				default:
					return b, fmt.Errorf("%w: body over %d bytes", ErrTooLarge, rc.cfg.MaxBody)
				}
			}
			if err := b.grow(b.n + 1); err != nil {
				return b, err
			}
		}
		n, err := src.Read((*b.buf)[b.n:])
		b.n += n
		if errors.Is(err, io.EOF) {
			return b, nil
		}
		if err != nil {
			return b, readError(err, rc.cfg.MaxBody)
		}
	}
}

// readError is the request error of a failed body read.
func readError(err error, maxBody int64) error {
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		return fmt.Errorf("%w: body over %d bytes", ErrTooLarge, maxBody)
	}
	return fmt.Errorf("%w: reading body: %v", ErrMalformed, err)
}

// publish stores body on livekit.webhook.<event> with the event's message
// ID (events.WebhookMsgID of its id), and waits for JetStream's
// acknowledgement (PublishTimeout bounds the wait). settled is false when
// the publish may still hold body (it was not acknowledged nor failed
// before ctx or the timeout ended).
func (rc *Receiver) publish(ctx context.Context, req request, body []byte) (ack *jetstream.PubAck, settled bool, err error) {
	// A publish while disconnected would wait in the reconnect buffer and
	// could land after the 503: refuse it at once instead.
	if nc := rc.js.Conn(); nc != nil && !nc.IsConnected() {
		return nil, true, fmt.Errorf("%w: NATS connection %s", ErrUnavailable, nc.Status())
	}
	msg := publish.Msg{Subject: events.WebhookPrefix + req.event, MsgID: events.WebhookMsgID(req.id), Data: body}
	if msg.MsgID != req.id {
		msg.Headers = map[string]string{events.HeaderWebhookEventID: req.id}
	}
	// Asynchronously, then await the acknowledgement: the requests in
	// flight share the connection's one acknowledgement subscription
	// instead of a request each (about 10% more requests per second).
	acks, err := rc.pub.Publish(ctx, msg)
	if err == nil {
		return acks[0], true, nil
	}
	me, _ := errors.AsType[*publish.MsgError](err)
	settled = me != nil && me.Settled
	if errors.Is(err, nats.ErrMaxPayload) {
		return nil, settled, fmt.Errorf("%w: over the NATS max payload: %v", ErrTooLarge, err)
	}
	return nil, settled, fmt.Errorf("%w: %v", ErrUnavailable, err)
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
