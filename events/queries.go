package events

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// ServiceName is the name of the NATS micro service that answers the
// rooms.api.* queries ($SRV.INFO.roomkeeper).
const ServiceName = "roomkeeper"

// Roles a room secret maps to.
const (
	RoleModerator = "moderator"
	RolePublisher = "publisher"
)

// Micro error headers of a failed query reply (the NATS micro convention).
const (
	HeaderServiceError     = "Nats-Service-Error"
	HeaderServiceErrorCode = "Nats-Service-Error-Code"
)

// StatusOf is the Nats-Service-Error-Code a query reply carries for an
// error code (HTTP-like status numbers, as NATS micro services use).
func StatusOf(code string) string {
	switch code {
	case CodeInvalidArgument:
		return "400"
	case CodeInvalidSecret:
		return "401"
	case CodeForbidden:
		return "403"
	case CodeNotFound:
		return "404"
	case CodeUnavailable:
		return "503"
	default:
		return "500"
	}
}

// GetRequest is the request of rooms.api.get.
type GetRequest struct {
	RoomID string `json:"roomId"`
	// Fields, a comma-separated list of room properties, restricts the
	// reply to them; unknown ones are dropped. Empty: the whole room.
	Fields string `json:"fields,omitempty"`
}

// ListRequest is the request of rooms.api.list.
type ListRequest struct {
	// MaxItems is the page size, 1..100 (larger is capped at 100); 0 means
	// the default, 10.
	MaxItems int `json:"maxItems,omitempty"`
	// NextPageToken is the previous page's Pagination.NextPageToken; empty
	// for the first page.
	NextPageToken string `json:"nextPageToken,omitempty"`
	// Fields restricts every room to these properties (see GetRequest).
	Fields string `json:"fields,omitempty"`
}

// Pagination describes a page of rooms.api.list.
type Pagination struct {
	IsTruncated   bool   `json:"isTruncated"`
	NextPageToken string `json:"nextPageToken,omitempty"`
	MaxItems      int    `json:"maxItems"`
}

// ListReply is the reply of rooms.api.list. With Fields, the rooms hold
// only those properties (the others are zero).
type ListReply struct {
	Rooms      []Room     `json:"rooms"`
	Pagination Pagination `json:"pagination"`
}

// SecretRequest is the request of rooms.api.role and
// rooms.api.recording_token: a room and one of its two secrets.
type SecretRequest struct {
	RoomID string `json:"roomId"`
	Secret string `json:"secret"`
}

// RoleReply is the reply of rooms.api.role.
type RoleReply struct {
	Role string `json:"role"`
}

// TokenReply is the reply of rooms.api.recording_token.
type TokenReply struct {
	Token string `json:"token"`
}

// ParticipantTokenRequest is the request of rooms.api.participant_token.
type ParticipantTokenRequest struct {
	RoomID          string `json:"roomId"`
	Secret          string `json:"secret"`
	ParticipantName string `json:"participantName"`
}

// ParticipantTokenReply is the reply of rooms.api.participant_token.
type ParticipantTokenReply struct {
	Token      string `json:"token"`
	LiveKitURL string `json:"livekitUrl"`
	Role       string `json:"role"`
}

// ErrorReply is the body of a failed query reply.
type ErrorReply struct {
	Error *Error `json:"error"`
}

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
	if code := msg.Header.Get(HeaderServiceErrorCode); code != "" {
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
	var er ErrorReply
	if err := json.Unmarshal(msg.Data, &er); err == nil && er.Error != nil && er.Error.Code != "" {
		return er.Error
	}
	desc := msg.Header.Get(HeaderServiceError)
	code := CodeInternal
	switch msg.Header.Get(HeaderServiceErrorCode) {
	case "400":
		code = CodeInvalidArgument
	case "401":
		code = CodeInvalidSecret
	case "403":
		code = CodeForbidden
	case "404":
		code = CodeNotFound
	case "503":
		code = CodeUnavailable
	}
	return &Error{Code: code, Message: desc}
}

// GetRoom reads a room. With fields, only those properties are filled in.
func (c *Client) GetRoom(ctx context.Context, roomID string, fields ...string) (*Room, error) {
	var room Room
	if err := c.Request(ctx, APIGet, GetRequest{RoomID: roomID, Fields: strings.Join(fields, ",")}, &room); err != nil {
		return nil, err
	}
	return &room, nil
}

// ListRooms reads one page of rooms, in ascending room ID order.
func (c *Client) ListRooms(ctx context.Context, req ListRequest) (*ListReply, error) {
	var reply ListReply
	if err := c.Request(ctx, APIList, req, &reply); err != nil {
		return nil, err
	}
	return &reply, nil
}

// Role returns the role ("moderator" or "publisher") a secret gives in a
// room; an *Error with code invalid_secret when it is neither secret.
func (c *Client) Role(ctx context.Context, roomID, secret string) (string, error) {
	var reply RoleReply
	if err := c.Request(ctx, APIRole, SecretRequest{RoomID: roomID, Secret: secret}, &reply); err != nil {
		return "", err
	}
	return reply.Role, nil
}

// RecordingToken returns a token for the room's recordings, also after the
// room is deleted.
func (c *Client) RecordingToken(ctx context.Context, roomID, secret string) (string, error) {
	var reply TokenReply
	if err := c.Request(ctx, APIRecordingToken, SecretRequest{RoomID: roomID, Secret: secret}, &reply); err != nil {
		return "", err
	}
	return reply.Token, nil
}

// ParticipantToken returns a LiveKit token to join the room's meeting as
// participantName, with the role the secret gives.
func (c *Client) ParticipantToken(ctx context.Context, req ParticipantTokenRequest) (*ParticipantTokenReply, error) {
	var reply ParticipantTokenReply
	if err := c.Request(ctx, APIParticipantToken, req, &reply); err != nil {
		return nil, err
	}
	return &reply, nil
}

// Watch calls handler, one at a time, with every domain event published on
// rooms.events.> after the call, until ctx ends (then it returns nil). It reads
// ROOMS_EVENTS through an ordered consumer, so it needs no durable state and
// resumes where it was after a reconnect. A message that is not a valid
// event is skipped.
func (c *Client) Watch(ctx context.Context, handler func(Event)) error {
	// Start after the stream's last message at the time of the call, so
	// an event published once Watch was called is never missed, however
	// long the consumer takes to start.
	stream, err := c.js.Stream(ctx, StreamEvents)
	if err != nil {
		if ctx.Err() != nil {
			return nil //nolint:nilerr // the caller ended the watch
		}
		return fmt.Errorf("watch %s: %w", StreamEvents, err)
	}
	cons, err := c.js.OrderedConsumer(ctx, StreamEvents, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{EventPrefix + ">"},
		DeliverPolicy:  jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:    stream.CachedInfo().State.LastSeq + 1,
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil //nolint:nilerr // the caller ended the watch
		}
		return fmt.Errorf("watch %s: %w", StreamEvents, err)
	}
	cc, err := cons.Consume(func(msg jetstream.Msg) {
		var ev Event
		if err := json.Unmarshal(msg.Data(), &ev); err != nil || ev.ID == "" {
			return
		}
		if ctx.Err() == nil {
			handler(ev)
		}
	})
	if err != nil {
		return fmt.Errorf("watch %s: %w", StreamEvents, err)
	}
	<-ctx.Done()
	cc.Stop()
	<-cc.Closed()
	return nil
}
