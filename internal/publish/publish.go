package publish

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/roomkeeper/roomkeeper/internal/tracing"
)

// DefaultTimeout bounds one Publish when Config.Timeout is 0.
const DefaultTimeout = 10 * time.Second

// Config of a Publisher.
type Config struct {
	// Timeout bounds one Publish: sending every message of the batch and
	// awaiting every acknowledgement (DefaultTimeout when 0).
	Timeout time.Duration
	// ExpectStream, when set, is the stream every message must be stored
	// in; JetStream refuses one that another stream would take.
	ExpectStream string
	// SpanName names the span of a batch when tracing is on
	// (DefaultSpanName when empty); every message of the batch carries
	// its trace context.
	SpanName string
}

// DefaultSpanName names a batch's span when Config.SpanName is empty.
const DefaultSpanName = "publish"

// WithDefaults returns c with zero fields set to their defaults.
func (c Config) WithDefaults() Config {
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.SpanName == "" {
		c.SpanName = DefaultSpanName
	}
	return c
}

// Validate reports a setting out of range.
func (c Config) Validate() error {
	if c.Timeout <= 0 {
		return fmt.Errorf("%w: timeout %s must be positive", ErrConfig, c.Timeout)
	}
	return nil
}

// Msg is one message to publish.
type Msg struct {
	Subject string
	// MsgID is the Nats-Msg-Id header: JetStream stores one message per ID
	// inside the stream's duplicates window. Empty: no ID.
	MsgID   string
	Headers map[string]string
	Data    []byte
}

// Publisher publishes batches of messages to JetStream and awaits their
// acknowledgements. It is safe for concurrent use.
type Publisher struct {
	cfg Config
	js  jetstream.JetStream
}

// New returns a publisher on js.
func New(cfg Config, js jetstream.JetStream) (*Publisher, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if js == nil {
		return nil, fmt.Errorf("%w: no JetStream", ErrConfig)
	}
	return &Publisher{cfg: cfg, js: js}, nil
}

// Publish sends msgs asynchronously, then waits until JetStream stored
// every one of them, the timeout passed or ctx ended. On success it returns
// one acknowledgement per message, in order (Duplicate set for a message
// whose ID JetStream had already stored). Otherwise it returns a *MsgError
// for the first message, in order, that failed; the messages before it
// were stored, the ones after it may have been.
func (p *Publisher) Publish(ctx context.Context, msgs ...Msg) (acks []*jetstream.PubAck, err error) {
	if len(msgs) == 0 {
		return nil, nil
	}
	ctx, span := tracing.Start(ctx, p.cfg.SpanName, trace.SpanKindProducer)
	if span.IsRecording() {
		span.SetAttributes(attribute.String("messaging.system", "nats"),
			attribute.Int("messaging.batch.message_count", len(msgs)),
			attribute.String("messaging.destination.name", msgs[0].Subject))
		// Each message by name (a trace shows which events a step
		// published), as a span event: subject and message ID.
		for _, m := range msgs {
			span.AddEvent("message", trace.WithAttributes(attribute.String("messaging.destination.name", m.Subject),
				attribute.String("messaging.message.id", m.MsgID)))
		}
	}
	defer func() { tracing.End(span, err) }()
	ctx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
	defer cancel()
	futures := make([]jetstream.PubAckFuture, 0, len(msgs))
	for i, m := range msgs {
		if err := ctx.Err(); err != nil {
			return nil, msgError(i, m, ErrNoAck, err)
		}
		f, err := p.js.PublishMsgAsync(p.natsMsg(ctx, m), p.opts(m)...)
		if err != nil {
			return nil, msgError(i, m, ErrNotSent, err)
		}
		futures = append(futures, f)
	}
	acks = make([]*jetstream.PubAck, len(msgs))
	for i, f := range futures {
		select {
		case acks[i] = <-f.Ok():
		case err := <-f.Err():
			e := msgError(i, msgs[i], ErrNoAck, err)
			if refused(err) {
				e.Kind = ErrRefused
			}
			e.Settled = true
			return nil, e
		case <-ctx.Done():
			return nil, msgError(i, msgs[i], ErrNoAck, ctx.Err())
		}
	}
	return acks, nil
}

// natsMsg is m as nats.go sends it (the message ID goes in by option),
// with the trace context of ctx.
func (p *Publisher) natsMsg(ctx context.Context, m Msg) *nats.Msg {
	nm := nats.NewMsg(m.Subject)
	nm.Data = m.Data
	for k, v := range m.Headers {
		nm.Header.Set(k, v)
	}
	if tracing.Enabled() {
		tracing.Inject(ctx, tracing.Header(nm.Header))
		if nc := p.js.Conn(); nc != nil && nc.MaxPayload() > 0 && Size(nm, m.MsgID, p.cfg.ExpectStream) > nc.MaxPayload() {
			// The trace context never makes a message too large to
			// send: such a message goes without it.
			nm.Header.Del(tracing.HeaderTraceParent)
			nm.Header.Del(tracing.HeaderTraceState)
		}
	}
	return nm
}

// Size is what nm takes of the server's max payload as nats.go sends it
// with JetStream options: the body and the header block, with the
// Nats-Msg-Id (msgID) and Nats-Expected-Stream (expectStream) headers the
// options add when not empty.
func Size(nm *nats.Msg, msgID, expectStream string) int64 {
	n := len(nm.Data) + len("NATS/1.0\r\n\r\n")
	for k, vs := range nm.Header {
		for _, v := range vs {
			n += len(k) + len(": \r\n") + len(v)
		}
	}
	if msgID != "" {
		n += len(jetstream.MsgIDHeader) + len(": \r\n") + len(msgID)
	}
	if expectStream != "" {
		n += len(jetstream.ExpectedStreamHeader) + len(": \r\n") + len(expectStream)
	}
	return int64(n)
}

// opts are the publish options of m.
func (p *Publisher) opts(m Msg) []jetstream.PublishOpt {
	var opts []jetstream.PublishOpt
	if m.MsgID != "" {
		opts = append(opts, jetstream.WithMsgID(m.MsgID))
	}
	if p.cfg.ExpectStream != "" {
		opts = append(opts, jetstream.WithExpectStream(p.cfg.ExpectStream))
	}
	return opts
}

// msgError is the failure of message i of a batch; a message too large for
// the server or the stream also wraps ErrTooLarge.
func msgError(i int, m Msg, kind, cause error) *MsgError {
	if errors.Is(cause, nats.ErrMaxPayload) || errors.Is(cause, jetstream.ErrStreamMessageExceedsMaximum) {
		cause = fmt.Errorf("%w: %w", ErrTooLarge, cause)
	}
	return &MsgError{Index: i, Subject: m.Subject, MsgID: m.MsgID, Kind: kind, Err: cause}
}

// refused reports whether err, the error of a message's acknowledgement,
// says JetStream did not store it: an answer of the server, or no stream
// answering for the subject.
func refused(err error) bool {
	_, api := errors.AsType[*jetstream.APIError](err)
	return api || errors.Is(err, jetstream.ErrNoStreamResponse) || errors.Is(err, nats.ErrNoResponders)
}
