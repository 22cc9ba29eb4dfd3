package natsapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/roomkeeper/roomkeeper/events"
)

// Request sends a query (req marshalled to JSON, or sent as is when it is
// a []byte or json.RawMessage) on subject and decodes the reply into reply
// (a *json.RawMessage keeps it as it is). A failed query comes back as an
// *Error; no worker answering as ErrNoService.
func (c *Client) Request(ctx context.Context, subject string, req, reply any) error {
	var body []byte
	switch r := req.(type) {
	case []byte:
		body = r
	case json.RawMessage:
		body = r
	default:
		var err error
		if body, err = json.Marshal(req); err != nil {
			return err
		}
	}
	msg, err := c.nc.RequestWithContext(ctx, subject, body)
	if errors.Is(err, nats.ErrNoResponders) {
		return fmt.Errorf("%s: %w", subject, ErrNoService)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", subject, err)
	}
	if code := msg.Header.Get(events.HeaderServiceErrorCode); code != "" {
		return replyError(msg)
	}
	if err := json.Unmarshal(msg.Data, reply); err != nil {
		return fmt.Errorf("decode %s reply: %w", subject, err)
	}
	return nil
}

// replyError decodes the *Error of a failed reply; a reply without the
// {"error"} body (another micro service, a newer one) keeps its headers.
func replyError(msg *nats.Msg) error {
	var er events.ErrorReply
	if err := json.Unmarshal(msg.Data, &er); err == nil && er.Error != nil && er.Error.Code != "" {
		if er.Status != 0 && er.Status != events.HTTPStatus(er.Error.Code) {
			er.Error.Status = er.Status
		}
		return er.Error
	}
	desc := msg.Header.Get(events.HeaderServiceError)
	code := events.CodeInternal
	switch msg.Header.Get(events.HeaderServiceErrorCode) {
	case "400", "422": // 400: workers before the REST statuses
		code = events.CodeInvalidArgument
	case "401":
		code = events.CodeInvalidSecret
	case "403":
		code = events.CodeForbidden
	case "404":
		code = events.CodeNotFound
	case "409":
		code = events.CodeConflict
	case "503":
		code = events.CodeUnavailable
	}
	return &events.Error{Code: code, Message: desc}
}

// GetRoom reads a room as the admin sees it, without its config and roles
// (see GetRoomWith). With fields, only those properties are filled in.
func (c *Client) GetRoom(ctx context.Context, roomID string, fields ...string) (*events.Room, error) {
	reply, err := c.GetRoomWith(ctx, events.GetRequest{RoomID: roomID, Fields: strings.Join(fields, ",")})
	if err != nil {
		return nil, err
	}
	return &reply.Room, nil
}

// GetRoomWith reads a room as req says (fields, extraFields, a member's
// secret).
func (c *Client) GetRoomWith(ctx context.Context, req events.GetRequest) (*events.RoomReply, error) {
	var reply events.RoomReply
	if err := c.Request(ctx, events.APIGet, req, &reply); err != nil {
		return nil, err
	}
	return &reply, nil
}

// RoomConfig reads a room's config.
func (c *Client) RoomConfig(ctx context.Context, roomID string) (*events.Config, error) {
	var cfg events.Config
	if err := c.Request(ctx, events.APIConfig, events.ConfigRequest{RoomID: roomID}, &cfg); err != nil {
		return nil, err
	}
	return &cfg, nil
}

// ListRooms reads one page of rooms, in the request's order (newest first
// by default).
func (c *Client) ListRooms(ctx context.Context, req events.ListRequest) (*events.ListReply, error) {
	var reply events.ListReply
	if err := c.Request(ctx, events.APIList, req, &reply); err != nil {
		return nil, err
	}
	return &reply, nil
}

// Role returns the role ("moderator" or "speaker") a secret gives in a
// room; an *Error with code invalid_secret when it is neither secret.
func (c *Client) Role(ctx context.Context, roomID, secret string) (string, error) {
	var reply events.RoleReply
	if err := c.Request(ctx, events.APIRole, events.SecretRequest{RoomID: roomID, Secret: secret}, &reply); err != nil {
		return "", err
	}
	return reply.Role, nil
}

// RecordingToken returns a token for the room's recordings, also after the
// room is deleted.
func (c *Client) RecordingToken(ctx context.Context, roomID, secret string) (string, error) {
	var reply events.TokenReply
	if err := c.Request(ctx, events.APIRecordingToken, events.SecretRequest{RoomID: roomID, Secret: secret}, &reply); err != nil {
		return "", err
	}
	return reply.Token, nil
}

// ParticipantToken returns a LiveKit token to join the room's meeting as
// participantName, with the role the secret gives.
func (c *Client) ParticipantToken(ctx context.Context, req events.ParticipantTokenRequest) (*events.ParticipantTokenReply, error) {
	var reply events.ParticipantTokenReply
	if err := c.Request(ctx, events.APIParticipantToken, req, &reply); err != nil {
		return nil, err
	}
	return &reply, nil
}

// History reads one page of a room's history (rooms.api.history): the
// commands and LiveKit webhook events that were about it, oldest first,
// for as long as the command ledger keeps them. An *Error with code
// not_found when the room has no history and does not exist.
func (c *Client) History(ctx context.Context, req events.HistoryRequest) (*events.HistoryReply, error) {
	var reply events.HistoryReply
	if err := c.Request(ctx, events.APIHistory, req, &reply); err != nil {
		return nil, err
	}
	return &reply, nil
}

// Watch calls handler, one at a time, with every domain event published on
// rooms.events.> after the call, until ctx ends (then it returns nil). It reads
// ROOMS_EVENTS through an ordered consumer, so it needs no durable state and
// resumes where it was after a reconnect. A message that is not a valid
// event is skipped. WatchWith selects events and starts earlier.
func (c *Client) Watch(ctx context.Context, handler func(events.Event)) error {
	return c.WatchWith(ctx, WatchOptions{}, handler)
}

// WatchOptions select the events of WatchWith and where it starts.
type WatchOptions struct {
	// Since, when set, starts with the events stored at or after it (as
	// far back as ROOMS_EVENTS keeps them: 7 days).
	Since time.Time
	// Last, when positive, starts with the last Last events that match
	// Type and RoomID, then follows. It excludes Since.
	Last int
	// Type, when set, keeps the events of one type: the short type
	// ("created"), the last token of the subject; the consumer filters
	// them on the server.
	Type string
	// RoomID, when set, keeps the events of one room (the event's
	// subject); filtered in the client.
	RoomID string
}

func (o WatchOptions) validate() error {
	switch {
	case o.Last < 0:
		return fmt.Errorf("%w: watch: last %d is negative", ErrConfig, o.Last)
	case o.Last > 0 && !o.Since.IsZero():
		return fmt.Errorf("%w: watch: last and since exclude each other", ErrConfig)
	case o.Type != "" && (strings.ContainsAny(o.Type, ".*> \t\r\n")):
		return fmt.Errorf("%w: watch: event type %q", ErrConfig, o.Type)
	}
	return nil
}

// filter is the consumer's filter subject.
func (o WatchOptions) filter() string {
	if o.Type != "" {
		return events.EventPrefix + o.Type
	}
	return events.EventPrefix + ">"
}

// decodeEvent reads msg as an event of o: ok false for a message that is
// not a valid event, or not of o's room.
func (o WatchOptions) decodeEvent(data []byte) (events.Event, bool) {
	var ev events.Event
	if err := json.Unmarshal(data, &ev); err != nil || ev.ID == "" {
		return ev, false
	}
	return ev, o.RoomID == "" || ev.Subject == o.RoomID
}

// WatchWith is Watch with options: the events of one type or room, and
// from a time or the last few before following the new ones.
func (c *Client) WatchWith(ctx context.Context, o WatchOptions, handler func(events.Event)) error {
	if err := o.validate(); err != nil {
		return err
	}
	// Start after the stream's last message at the time of the call, so
	// an event published once Watch was called is never missed, however
	// long the consumer takes to start.
	stream, err := c.js.Stream(ctx, events.StreamEvents)
	if err != nil {
		if ctx.Err() != nil {
			return nil //nolint:nilerr // the caller ended the watch
		}
		return fmt.Errorf("watch %s: %w", events.StreamEvents, err)
	}
	state := stream.CachedInfo().State
	cfg := jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{o.filter()},
		DeliverPolicy:  jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:    state.LastSeq + 1,
	}
	if !o.Since.IsZero() {
		since := o.Since
		cfg.DeliverPolicy, cfg.OptStartSeq, cfg.OptStartTime = jetstream.DeliverByStartTimePolicy, 0, &since
	}
	if o.Last > 0 && state.Msgs > 0 {
		backlog, err := c.lastEvents(ctx, o, state.FirstSeq, state.LastSeq)
		if err != nil {
			if ctx.Err() != nil {
				return nil //nolint:nilerr // the caller ended the watch
			}
			return fmt.Errorf("watch %s: %w", events.StreamEvents, err)
		}
		for _, ev := range backlog {
			if ctx.Err() == nil {
				handler(ev)
			}
		}
	}
	cons, err := c.js.OrderedConsumer(ctx, events.StreamEvents, cfg)
	if err != nil {
		if ctx.Err() != nil {
			return nil //nolint:nilerr // the caller ended the watch
		}
		return fmt.Errorf("watch %s: %w", events.StreamEvents, err)
	}
	cc, err := cons.Consume(func(msg jetstream.Msg) {
		ev, ok := o.decodeEvent(msg.Data())
		if ok && ctx.Err() == nil {
			handler(ev)
		}
	})
	if err != nil {
		return fmt.Errorf("watch %s: %w", events.StreamEvents, err)
	}
	<-ctx.Done()
	cc.Stop()
	<-cc.Closed()
	return nil
}

// lastEvents returns the last o.Last events of o (type and room) stored at
// sequences first..last of ROOMS_EVENTS, oldest first. It reads windows of
// the stream backwards from last, each twice as long as the one before,
// until it has enough or reaches first: the cost is about the messages of
// o's type since the o.Last-th last event of o.
func (c *Client) lastEvents(ctx context.Context, o WatchOptions, first, last uint64) ([]events.Event, error) {
	var out []events.Event
	window := uint64(max(4*o.Last, 256))
	for hi := last; ; {
		lo := first
		if hi-first+1 > window {
			lo = hi - window + 1
		}
		batch, err := c.readEvents(ctx, o, lo, hi)
		if err != nil {
			return nil, err
		}
		out = append(batch, out...)
		if len(out) >= o.Last || lo <= first {
			break
		}
		hi, window = lo-1, 2*window
	}
	if len(out) > o.Last {
		out = out[len(out)-o.Last:]
	}
	return out, nil
}

// readEvents returns the events of o stored at sequences lo..hi, in order.
func (c *Client) readEvents(ctx context.Context, o WatchOptions, lo, hi uint64) ([]events.Event, error) {
	cons, err := c.js.OrderedConsumer(ctx, events.StreamEvents, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{o.filter()},
		DeliverPolicy:  jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:    lo,
	})
	if err != nil {
		return nil, err
	}
	var out []events.Event
	for {
		batch, err := cons.FetchNoWait(int(min(hi-lo+1, 500)))
		if err != nil {
			return nil, err
		}
		n := 0
		for m := range batch.Messages() {
			n++
			meta, err := m.Metadata()
			if err != nil {
				return nil, err
			}
			if meta.Sequence.Stream > hi {
				return out, nil
			}
			if ev, ok := o.decodeEvent(m.Data()); ok {
				out = append(out, ev)
			}
			if meta.Sequence.Stream == hi {
				return out, nil
			}
		}
		if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) {
			return nil, err
		}
		if n == 0 {
			return out, nil // no message of the filter after the last one read
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
}

// Commands reads one page of the command ledger's records of req.State
// (pending, done, failed or dead), the most recently updated first; pass
// the reply's Pagination.NextPageToken as req.NextPageToken for the next
// page. A page may hold fewer than req.MaxItems records while it is
// truncated (see events.CommandsReply).
func (c *Client) Commands(ctx context.Context, req events.CommandsRequest) (*events.CommandsReply, error) {
	var reply events.CommandsReply
	if err := c.Request(ctx, events.APICommands, req, &reply); err != nil {
		return nil, err
	}
	return &reply, nil
}
