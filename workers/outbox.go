package workers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/nats-io/nats.go"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/handler"
	"github.com/roomkeeper/roomkeeper/internal/publish"
	"github.com/roomkeeper/roomkeeper/store"
)

// source is the message a command came in, as its ending needs it.
type source struct {
	id      string
	subject string
	// result: the message gets a result (commands; not webhook events).
	result     bool
	deliveries uint64
	streamSeq  uint64
	data       []byte
	// cause is the command that published this one (Roomkeeper-Origin
	// "command:<id>"), or the webhook event a webhook's command is.
	cause string
}

// ending is how a message ends: with the handler's outcome, or with an
// error result; dead, when set, gives the message up with that reason (a
// dead letter goes with it and the message is termed).
type ending struct {
	out  *handler.Outcome
	err  *events.Error
	dead string
}

// maxDeadReason bounds the reason header of a dead letter.
const maxDeadReason = 1024

// outboxBuilder turns an ending into the ledger's completion: the result,
// the events, the fan-out commands and the dead letter, each checked to fit
// in one message of the server (maxPayload bytes, headers included).
type outboxBuilder struct {
	maxPayload int
}

// build returns the completion of src ending with end. An ending whose
// result, events or fan-out do not fit fails with errTooLarge (see
// tooLarge); a dead letter always fits, its body cut when needed.
func (b outboxBuilder) build(src source, end ending) (store.Completion, error) {
	c := store.Completion{Status: store.StatusDone}
	res := events.Result{CommandID: src.id, Type: src.subject, OK: end.err == nil, Error: end.err, Status: 200}
	switch {
	case end.err != nil:
		res.Status = end.err.HTTPStatus()
	case end.out != nil && end.out.Status != 0:
		res.Status = end.out.Status
	}
	if end.out != nil && end.out.Data != nil {
		data, err := json.Marshal(end.out.Data)
		if err != nil {
			return c, fmt.Errorf("encode result: %w", err)
		}
		res.Data = data
	}
	var err error
	if c.Result, err = json.Marshal(res); err != nil {
		return c, fmt.Errorf("encode result: %w", err)
	}
	if src.result {
		c.Outbox = append(c.Outbox, store.OutMsg{Subject: events.ResultSubject(src.id), MsgID: events.ResultMsgID(src.id), Data: c.Result})
	}
	if out := end.out; out != nil {
		for _, ev := range out.Events {
			raw, err := json.Marshal(ev)
			if err != nil {
				return c, fmt.Errorf("encode event: %w", err)
			}
			c.Outbox = append(c.Outbox, store.OutMsg{Subject: events.EventSubject(ev.ShortType()), MsgID: ev.ID, Data: raw})
		}
		for _, m := range out.Publish {
			m.Headers = maps.Clone(m.Headers)
			if m.Headers == nil {
				m.Headers = map[string]string{}
			}
			m.Headers[events.HeaderOrigin] = events.OriginCommandPrefix + src.id
			c.Outbox = append(c.Outbox, m)
		}
		c.Writes = out.Writes
	}
	for _, m := range c.Outbox {
		if n := b.size(m); b.maxPayload > 0 && n > b.maxPayload {
			return c, fmt.Errorf("%w: %s is %d bytes, the server takes %d", errTooLarge, m.Subject, n, b.maxPayload)
		}
	}
	if end.dead != "" {
		c.Status = store.StatusDead
		c.Outbox = append(c.Outbox, b.deadLetter(src, end.dead))
	}
	c.Rooms, c.Cause = historyRooms(src, end), src.cause
	return c, nil
}

// historyRooms are the rooms whose history lists the command: those its
// body names (a command's roomId and roomIds, a LiveKit webhook's room),
// then those of its events and writes, without repeats.
func historyRooms(src source, end ending) []string {
	var rooms []string
	switch {
	case strings.HasPrefix(src.subject, events.CommandPrefix):
		rooms = events.CommandRooms(src.data)
	case strings.HasPrefix(src.subject, events.WebhookPrefix):
		rooms = events.WebhookRooms(src.data)
	}
	add := func(id string) {
		if id != "" && !slices.Contains(rooms, id) {
			rooms = append(rooms, id)
		}
	}
	if out := end.out; out != nil {
		for _, ev := range out.Events {
			add(ev.Subject)
		}
		for _, w := range out.Writes {
			add(w.RoomID())
		}
	}
	return rooms
}

// tooLarge is the ending of a command whose result, events or fan-out do
// not fit in a message: an error result and a dead letter, no effect.
func tooLarge(cause error) ending {
	return ending{
		err:  events.Errorf(events.CodeInvalidArgument, "the command's result or events exceed the maximum message size"),
		dead: cause.Error(),
	}
}

// deadLetter is the copy of src for rooms.dead.<type>: the body unchanged,
// the reason and origin in headers; a body too large to fit beside them is
// cut, with its original size in a header.
func (b outboxBuilder) deadLetter(src source, reason string) store.OutMsg {
	if len(reason) > maxDeadReason {
		reason = reason[:maxDeadReason]
	}
	m := store.OutMsg{
		Subject: events.DeadSubject(src.subject),
		MsgID:   "dead:" + src.id,
		Headers: map[string]string{
			events.HeaderDeadReason:         reason,
			events.HeaderDeadSubject:        src.subject,
			events.HeaderDeadCommandID:      src.id,
			events.HeaderDeadDeliveries:     strconv.FormatUint(src.deliveries, 10),
			events.HeaderDeadStreamSequence: strconv.FormatUint(src.streamSeq, 10),
		},
		Data: src.data,
	}
	if b.maxPayload <= 0 || b.size(m) <= b.maxPayload {
		return m
	}
	m.Headers[events.HeaderDeadOriginalSize] = strconv.Itoa(len(src.data))
	room := max(b.maxPayload-(b.size(m)-len(m.Data)), 0)
	m.Data = src.data[:min(room, len(src.data))]
	return m
}

// size is what m takes of the server's max payload: body and headers
// (with the Nats-Msg-Id header and the header block's framing).
func (outboxBuilder) size(m store.OutMsg) int {
	n := len(m.Data) + len("NATS/1.0\r\n\r\n") + len(nats.MsgIdHdr) + len(m.MsgID) + 4
	for k, v := range m.Headers {
		n += len(k) + len(v) + 4
	}
	return n
}

// giveUpError is the result of a message given up after transient
// failures on its last delivery.
func giveUpError(cause error, deliveries uint64) *events.Error {
	if errors.Is(cause, ErrPanic) {
		return events.Errorf(events.CodeInternal, "handler failed after %d deliveries", deliveries)
	}
	return events.Errorf(events.CodeUnavailable, "gave up after %d deliveries", deliveries)
}

// publisher publishes outboxes with the module's one publisher.
type publisher struct {
	p *publish.Publisher
}

// publish sends msgs and waits until JetStream stored them all, or the
// publish timeout passed.
func (p publisher) publish(ctx context.Context, msgs []store.OutMsg) error {
	if len(msgs) == 0 {
		return nil
	}
	out := make([]publish.Msg, len(msgs))
	for i, m := range msgs {
		out[i] = publish.Msg{Subject: m.Subject, MsgID: m.MsgID, Headers: m.Headers, Data: m.Data}
	}
	_, err := p.p.Publish(ctx, out...)
	return err
}
