package natsapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/internal/publish"
	"github.com/roomkeeper/roomkeeper/internal/tracing"
)

// Client publishes commands to roomkeeper and waits for their results. It
// is what other services import; it is safe for concurrent use.
type Client struct {
	nc *nats.Conn
	js jetstream.JetStream

	mu      sync.Mutex
	results jetstream.Stream // ROOMS_RESULTS, looked up on first use

	// afterSubscribe, when set (tests), runs in Result between the
	// subscription and the read of the stored result.
	afterSubscribe func()
}

// NewClient returns a client on an open NATS connection.
func NewClient(nc *nats.Conn) (*Client, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	return &Client{nc: nc, js: js}, nil
}

// Send publishes cmd with command ID id (the Nats-Msg-Id) and returns once
// JetStream stored it. Sending the same ID again inside the duplicates
// window is a no-op; after it, the ledger answers with the first result.
func (c *Client) Send(ctx context.Context, id string, cmd events.Command) error {
	if !events.ValidCommandID(id) {
		return fmt.Errorf("%w: command ID %q", ErrConfig, id)
	}
	body, err := json.Marshal(cmd)
	if err != nil {
		return err
	}
	return c.SendRaw(ctx, id, cmd.Subject(), body)
}

// SendRaw publishes a raw body on subject with command ID id.
// With a tracer provider installed globally (otel.SetTracerProvider), the
// publish is a span ("publish <subject>") whose context the message
// carries in the W3C traceparent and tracestate headers, so the worker's
// spans continue the caller's trace.
func (c *Client) SendRaw(ctx context.Context, id, subject string, body []byte) (err error) {
	ctx, span := otel.Tracer(tracerName).Start(ctx, "publish "+subject, trace.WithSpanKind(trace.SpanKindProducer))
	defer func() {
		if err != nil {
			span.RecordError(err)
			span.SetStatus(codes.Error, err.Error())
		}
		span.End()
	}()
	msg := nats.NewMsg(subject)
	msg.Data = body
	if span.IsRecording() {
		span.SetAttributes(attribute.String("messaging.system", "nats"),
			attribute.String("messaging.destination.name", subject), attribute.String("command_id", id))
		otel.GetTextMapPropagator().Inject(ctx, tracing.Header(msg.Header))
		if publish.Size(msg, id, "") > c.nc.MaxPayload() {
			// The trace context never makes a command too large to
			// send: such a command goes without it.
			msg.Header = nats.Header{}
		}
	}
	opts := []jetstream.PublishOpt{}
	if id != "" {
		opts = append(opts, jetstream.WithMsgID(id))
	}
	_, err = c.js.PublishMsg(ctx, msg, opts...)
	return err
}

// tracerName names the client's tracer.
const tracerName = "github.com/roomkeeper/roomkeeper/natsapi"

// Result waits for the result of command id, whether it is already stored
// or still to come, until ctx ends. It creates no consumer: it subscribes to
// rooms.results.<id>, then reads the stored result, so a result published
// between the two is not missed; while it waits it reads the stored result
// again now and then, in case the published copy was lost (a reconnect).
func (c *Client) Result(ctx context.Context, id string) (*events.Result, error) {
	if !events.ValidCommandID(id) {
		return nil, fmt.Errorf("%w: command ID %q", ErrConfig, id)
	}
	sub, err := c.nc.SubscribeSync(events.ResultSubject(id))
	if err != nil {
		return nil, fmt.Errorf("subscribe to the result of %s: %w", id, err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	if c.afterSubscribe != nil {
		c.afterSubscribe()
	}
	recheck := resultRecheckMin
	for read := 0; ; read++ {
		r, err := c.storedResult(ctx, id)
		switch {
		case r != nil:
			return r, nil
		case err != nil && (read == 0 || ctx.Err() != nil):
			return nil, err
		}
		// A later read that failed (a reconnect, a stream leader election)
		// is tried again at the next one; the subscription still waits.
		wait, cancel := context.WithTimeout(ctx, recheck)
		msg, err := sub.NextMsgWithContext(wait)
		cancel()
		switch {
		case err == nil:
			return decodeResult(id, msg.Data)
		case ctx.Err() != nil:
			return nil, fmt.Errorf("%w: %s: %w", ErrTimeout, id, ctx.Err())
		case !errors.Is(err, context.DeadlineExceeded):
			return nil, fmt.Errorf("wait for the result of %s: %w", id, err)
		}
		recheck = min(2*recheck, resultRecheckMax)
	}
}

// How long Result waits on its subscription before it reads the stored
// result again: from min, doubling, at most max.
const (
	resultRecheckMin = 250 * time.Millisecond
	resultRecheckMax = 2 * time.Second
)

// storedResult reads the result of id from ROOMS_RESULTS (one message per
// subject, read from the stream leader); nil, nil when there is none yet.
func (c *Client) storedResult(ctx context.Context, id string) (*events.Result, error) {
	s, err := c.resultsStream(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrTimeout, id, ctx.Err())
		}
		return nil, err
	}
	msg, err := s.GetLastMsgForSubject(ctx, events.ResultSubject(id))
	switch {
	case err == nil:
		return decodeResult(id, msg.Data)
	case errors.Is(err, jetstream.ErrMsgNotFound):
		return nil, nil
	case ctx.Err() != nil:
		return nil, fmt.Errorf("%w: %s: %w", ErrTimeout, id, ctx.Err())
	default:
		return nil, fmt.Errorf("read the result of %s: %w", id, err)
	}
}

// resultsStream returns the ROOMS_RESULTS stream, looked up once.
func (c *Client) resultsStream(ctx context.Context) (jetstream.Stream, error) {
	c.mu.Lock()
	s := c.results
	c.mu.Unlock()
	if s != nil {
		return s, nil
	}
	s, err := c.js.Stream(ctx, events.StreamResults)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, fmt.Errorf("%w: stream %s", ErrMissing, events.StreamResults)
	}
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", events.StreamResults, err)
	}
	c.mu.Lock()
	c.results = s
	c.mu.Unlock()
	return s, nil
}

func decodeResult(id string, data []byte) (*events.Result, error) {
	var r events.Result
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("decode result of %s: %w", id, err)
	}
	return &r, nil
}

// Do sends cmd and waits for its result. A result that is not ok is
// returned with its *Error as the error. When id was already used by a
// command of another type, whose result is the one kept for id, Do returns
// an invalid_argument *Error saying so, and no result.
func (c *Client) Do(ctx context.Context, id string, cmd events.Command) (*events.Result, error) {
	if err := c.Send(ctx, id, cmd); err != nil {
		return nil, err
	}
	r, err := c.Result(ctx, id)
	if err != nil {
		return nil, err
	}
	if r.Type != cmd.Subject() {
		other := events.CommandType(r.Type)
		if other == "" {
			other = r.Type
		}
		return nil, events.Invalid(fmt.Sprintf("command ID %s belongs to a %s command", id, other),
			events.FieldError{Field: "Nats-Msg-Id", Message: "already used by a " + other + " command"})
	}
	return r, r.Err()
}

// CreateRoom creates a room and returns it.
func (c *Client) CreateRoom(ctx context.Context, id string, req events.CreateRoom) (*events.Room, error) {
	return decodeData[events.Room](c.Do(ctx, id, req))
}

// UpdateConfig merges a partial config into a room's and returns the
// room's config.
func (c *Client) UpdateConfig(ctx context.Context, id string, req events.UpdateConfig) (*events.Config, error) {
	return decodeData[events.Config](c.Do(ctx, id, req))
}

// UpdateStatus opens or closes a room and returns the room (result status
// 202 when the closure waits for the meeting's end: see Do for the result).
func (c *Client) UpdateStatus(ctx context.Context, id string, req events.UpdateStatus) (*events.Room, error) {
	return decodeData[events.Room](c.Do(ctx, id, req))
}

// UpdateRoles changes a room's role permissions and returns its roles.
func (c *Client) UpdateRoles(ctx context.Context, id string, req events.UpdateRoles) (*events.Roles, error) {
	return decodeData[events.Roles](c.Do(ctx, id, req))
}

// UpdateAccess switches a room's access links and returns its access.
func (c *Client) UpdateAccess(ctx context.Context, id string, req events.UpdateAccess) (*events.Access, error) {
	return decodeData[events.Access](c.Do(ctx, id, req))
}

// DeleteRooms deletes (or marks) rooms.
func (c *Client) DeleteRooms(ctx context.Context, id string, req events.DeleteRooms) (*events.DeleteResult, error) {
	return decodeData[events.DeleteResult](c.Do(ctx, id, req))
}

// UpdatePreferences replaces a room's preferences and returns the room.
func (c *Client) UpdatePreferences(ctx context.Context, id string, req events.UpdatePreferences) (*events.Room, error) {
	return decodeData[events.Room](c.Do(ctx, id, req))
}

func decodeData[T any](r *events.Result, err error) (*T, error) {
	if err != nil {
		return nil, err
	}
	var v T
	if err := json.Unmarshal(r.Data, &v); err != nil {
		return nil, fmt.Errorf("decode %s result: %w", r.Type, err)
	}
	return &v, nil
}
