package events

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/roomkeeper/roomkeeper/store"
)

// Client publishes commands to roomkeeper and waits for their results. It
// is what other services import; it is safe for concurrent use.
type Client struct {
	nc *nats.Conn
	js jetstream.JetStream
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
func (c *Client) Send(ctx context.Context, id string, cmd Command) error {
	if !ValidCommandID(id) {
		return fmt.Errorf("%w: command ID %q", ErrConfig, id)
	}
	body, err := json.Marshal(cmd)
	if err != nil {
		return err
	}
	return c.SendRaw(ctx, id, cmd.Subject(), body)
}

// SendRaw publishes a raw body on subject with command ID id.
func (c *Client) SendRaw(ctx context.Context, id, subject string, body []byte) error {
	msg := nats.NewMsg(subject)
	msg.Data = body
	opts := []jetstream.PublishOpt{}
	if id != "" {
		opts = append(opts, jetstream.WithMsgID(id))
	}
	_, err := c.js.PublishMsg(ctx, msg, opts...)
	return err
}

// Result waits for the result of command id, whether it is already stored
// or still to come, until ctx ends.
func (c *Client) Result(ctx context.Context, id string) (*Result, error) {
	cons, err := c.js.OrderedConsumer(ctx, StreamResults, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{ResultSubject(id)},
		DeliverPolicy:  jetstream.DeliverLastPerSubjectPolicy,
	})
	if err != nil {
		return nil, err
	}
	for {
		wait := 5 * time.Second
		if dl, ok := ctx.Deadline(); ok {
			wait = max(min(time.Until(dl), wait), time.Millisecond)
		}
		msg, err := cons.Next(jetstream.FetchMaxWait(wait))
		if err == nil {
			var r Result
			if err := json.Unmarshal(msg.Data(), &r); err != nil {
				return nil, fmt.Errorf("decode result of %s: %w", id, err)
			}
			return &r, nil
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrTimeout, id, ctx.Err())
		}
		if !errors.Is(err, nats.ErrTimeout) && !errors.Is(err, context.DeadlineExceeded) {
			return nil, err
		}
	}
}

// Do sends cmd and waits for its result. A result that is not ok is
// returned with its *Error as the error.
func (c *Client) Do(ctx context.Context, id string, cmd Command) (*Result, error) {
	if err := c.Send(ctx, id, cmd); err != nil {
		return nil, err
	}
	r, err := c.Result(ctx, id)
	if err != nil {
		return nil, err
	}
	return r, r.Err()
}

// CreateRoom creates a room and returns it.
func (c *Client) CreateRoom(ctx context.Context, id string, req CreateRoom) (*store.Room, error) {
	return decodeData[store.Room](c.Do(ctx, id, req))
}

// DeleteRooms deletes (or marks) rooms.
func (c *Client) DeleteRooms(ctx context.Context, id string, req DeleteRooms) (*DeleteResult, error) {
	return decodeData[DeleteResult](c.Do(ctx, id, req))
}

// UpdatePreferences replaces a room's preferences and returns the room.
func (c *Client) UpdatePreferences(ctx context.Context, id string, req UpdatePreferences) (*store.Room, error) {
	return decodeData[store.Room](c.Do(ctx, id, req))
}

func decodeData[T any](r *Result, err error) (*T, error) {
	if err != nil {
		return nil, err
	}
	var v T
	if err := json.Unmarshal(r.Data, &v); err != nil {
		return nil, fmt.Errorf("decode %s result: %w", r.Type, err)
	}
	return &v, nil
}
