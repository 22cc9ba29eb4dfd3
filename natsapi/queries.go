package natsapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

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

// Watch calls handler, one at a time, with every domain event published on
// rooms.events.> after the call, until ctx ends (then it returns nil). It reads
// ROOMS_EVENTS through an ordered consumer, so it needs no durable state and
// resumes where it was after a reconnect. A message that is not a valid
// event is skipped.
func (c *Client) Watch(ctx context.Context, handler func(events.Event)) error {
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
	cons, err := c.js.OrderedConsumer(ctx, events.StreamEvents, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{events.EventPrefix + ">"},
		DeliverPolicy:  jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:    stream.CachedInfo().State.LastSeq + 1,
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil //nolint:nilerr // the caller ended the watch
		}
		return fmt.Errorf("watch %s: %w", events.StreamEvents, err)
	}
	cc, err := cons.Consume(func(msg jetstream.Msg) {
		var ev events.Event
		if err := json.Unmarshal(msg.Data(), &ev); err != nil || ev.ID == "" {
			return
		}
		if ctx.Err() == nil {
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
