package livekit

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"time"

	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"go.opentelemetry.io/otel/trace"

	"github.com/roomkeeper/roomkeeper/internal/tracing"
)

// Client is the adapter around LiveKit's RoomService and token signing. It
// is safe for concurrent use.
type Client struct {
	cfg   Config
	rooms *lksdk.RoomServiceClient // nil when detached
}

// New checks cfg (after WithDefaults) and returns a Client. With an empty
// URL the Client is detached: it never calls a server.
func New(cfg Config) (*Client, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	c := &Client{cfg: cfg}
	if cfg.URL != "" {
		c.rooms = lksdk.NewRoomServiceClient(cfg.URL, cfg.APIKey, cfg.APISecret)
	}
	return c, nil
}

// Detached reports whether the Client runs without LiveKit (no URL): no
// meeting is ever active, no room exists, and calls that need the server
// fail with ErrUnavailable.
func (c *Client) Detached() bool { return c.rooms == nil }

// URL is the LiveKit URL participants connect to (empty when detached).
func (c *Client) URL() string { return c.cfg.URL }

// Config returns the configuration in use, defaults applied.
func (c *Client) Config() Config { return c.cfg }

// Room is what LiveKit reports about one of its rooms.
type Room struct {
	Name             string
	SID              string
	Metadata         string
	NumParticipants  int
	EmptyTimeout     time.Duration
	DepartureTimeout time.Duration
	CreatedAt        time.Time
}

// RoomMetadata is the JSON metadata EnsureRoom gives a LiveKit room, in the
// shape OpenVidu Meet's frontend reads.
type RoomMetadata struct {
	CreatedBy   string          `json:"createdBy"`
	RoomOptions json.RawMessage `json:"roomOptions,omitempty"`
}

// HasActiveMeeting reports whether a meeting is going on in the room: the
// LiveKit room exists and has at least one connected participant that is
// not a LiveKit service (egress recorder, agent). A room that exists but
// that nobody joined (created by EnsureRoom, or emptied and waiting for its
// departure timeout) has no active meeting. One call (ListParticipants),
// which answers empty for a room LiveKit does not have.
//
// Detached: always false, nil (after Config.ExtraLatency).
func (c *Client) HasActiveMeeting(ctx context.Context, roomID string) (bool, error) {
	if c.Detached() {
		return false, c.detachedCall(ctx, "list participants")
	}
	if roomID == "" {
		return false, fmt.Errorf("livekit has active meeting: %w: empty room ID", ErrInvalidArgument)
	}
	var res *livekit.ListParticipantsResponse
	err := c.call(ctx, "list participants", func(ctx context.Context) (err error) {
		res, err = c.rooms.ListParticipants(ctx, &livekit.ListParticipantsRequest{Room: roomID})
		return err
	})
	if err != nil {
		return false, err
	}
	for _, p := range res.GetParticipants() {
		if countsAsMeeting(p) {
			return true, nil
		}
	}
	return false, nil
}

// countsAsMeeting reports whether a participant makes a meeting: a person
// (standard, SIP) or a stream someone brought in (ingress), connected or
// joining; not a recorder or an agent, which only follow a meeting.
func countsAsMeeting(p *livekit.ParticipantInfo) bool {
	if p.GetState() == livekit.ParticipantInfo_DISCONNECTED {
		return false
	}
	switch p.GetKind() {
	case livekit.ParticipantInfo_EGRESS, livekit.ParticipantInfo_AGENT:
		return false
	}
	return true
}

// RoomExists reports whether LiveKit has the room, with or without
// participants. A room that exists will send room_finished when it closes.
//
// Detached: always false, nil (after Config.ExtraLatency).
func (c *Client) RoomExists(ctx context.Context, roomID string) (bool, error) {
	if roomID == "" {
		return false, fmt.Errorf("livekit room exists: %w: empty room ID", ErrInvalidArgument)
	}
	rooms, err := c.ListRooms(ctx, []string{roomID})
	if err != nil {
		return false, err
	}
	return len(rooms) > 0, nil
}

// MeetingStart reports when LiveKit created the room (the start of its
// meeting, as OpenVidu Meet counts a meeting's duration) and the room's
// SID, which names this meeting: a later meeting of the same room gets a
// new one. ok is false when LiveKit does not have the room. One call
// (ListRooms).
//
// Detached: always ok false, nil (after Config.ExtraLatency).
func (c *Client) MeetingStart(ctx context.Context, roomID string) (start time.Time, sid string, ok bool, err error) {
	if roomID == "" {
		return time.Time{}, "", false, fmt.Errorf("livekit meeting start: %w: empty room ID", ErrInvalidArgument)
	}
	rooms, err := c.ListRooms(ctx, []string{roomID})
	if err != nil || len(rooms) == 0 {
		return time.Time{}, "", false, err
	}
	return rooms[0].CreatedAt, rooms[0].SID, true, nil
}

// listRoomsBatch bounds the names sent in one ListRooms call.
const listRoomsBatch = 100

// ListRooms returns the rooms among names that LiveKit has, for reconciling
// many rooms at once. No names means no rooms (it never lists every room of
// the server).
//
// Detached: always nil, nil (after Config.ExtraLatency when names is not
// empty).
func (c *Client) ListRooms(ctx context.Context, names []string) ([]Room, error) {
	if len(names) == 0 {
		return nil, nil
	}
	if c.Detached() {
		return nil, c.detachedCall(ctx, "list rooms")
	}
	var out []Room
	for start := 0; start < len(names); start += listRoomsBatch {
		batch := names[start:min(start+listRoomsBatch, len(names))]
		var res *livekit.ListRoomsResponse
		err := c.call(ctx, "list rooms", func(ctx context.Context) (err error) {
			res, err = c.rooms.ListRooms(ctx, &livekit.ListRoomsRequest{Names: batch})
			return err
		})
		if err != nil {
			return nil, err
		}
		for _, r := range res.GetRooms() {
			out = append(out, roomFromProto(r))
		}
	}
	return out, nil
}

func roomFromProto(r *livekit.Room) Room {
	created := time.Unix(r.GetCreationTime(), 0)
	if ms := r.GetCreationTimeMs(); ms > 0 {
		created = time.UnixMilli(ms)
	}
	return Room{
		Name:             r.GetName(),
		SID:              r.GetSid(),
		Metadata:         r.GetMetadata(),
		NumParticipants:  int(r.GetNumParticipants()),
		EmptyTimeout:     time.Duration(r.GetEmptyTimeout()) * time.Second,
		DepartureTimeout: time.Duration(r.GetDepartureTimeout()) * time.Second,
		CreatedAt:        created,
	}
}

// EnsureRoom creates the LiveKit room when LiveKit does not have it, with
// metadata {"createdBy", "roomOptions"} (roomOptions is marshalled to JSON)
// and the configured empty and departure timeouts. An existing room is left
// as it is. Safe to repeat and to race: LiveKit's CreateRoom is idempotent.
//
// Detached: ErrUnavailable.
func (c *Client) EnsureRoom(ctx context.Context, roomID string, roomOptions any) error {
	if c.Detached() {
		return fmt.Errorf("livekit ensure room: %w: detached (no LiveKit URL)", ErrUnavailable)
	}
	if roomID == "" {
		return fmt.Errorf("livekit ensure room: %w: empty room ID", ErrInvalidArgument)
	}
	md := RoomMetadata{CreatedBy: c.cfg.CreatedBy}
	if roomOptions != nil {
		raw, err := json.Marshal(roomOptions)
		if err != nil {
			return fmt.Errorf("livekit ensure room: %w: room options: %w", ErrInvalidArgument, err)
		}
		md.RoomOptions = raw
	}
	metadata, err := json.Marshal(md)
	if err != nil {
		return fmt.Errorf("livekit ensure room: %w: metadata: %w", ErrInvalidArgument, err)
	}

	exists, err := c.RoomExists(ctx, roomID)
	if err != nil || exists {
		return err
	}
	return c.call(ctx, "create room", func(ctx context.Context) error {
		_, err := c.rooms.CreateRoom(ctx, &livekit.CreateRoomRequest{
			Name:             roomID,
			Metadata:         string(metadata),
			EmptyTimeout:     uint32(seconds(c.cfg.EmptyTimeout)),
			DepartureTimeout: uint32(seconds(c.cfg.DepartureTimeout)),
			MaxParticipants:  maxParticipantsOf(roomOptions),
		})
		return err
	})
}

// DeleteRoom closes the LiveKit room, disconnecting its participants. A room
// LiveKit does not have is not an error, so the call is safe to repeat.
//
// Detached: nil (there is nothing to delete), after Config.ExtraLatency.
func (c *Client) DeleteRoom(ctx context.Context, roomID string) error {
	if c.Detached() {
		return c.detachedCall(ctx, "delete room")
	}
	if roomID == "" {
		return fmt.Errorf("livekit delete room: %w: empty room ID", ErrInvalidArgument)
	}
	err := c.call(ctx, "delete room", func(ctx context.Context) error {
		_, err := c.rooms.DeleteRoom(ctx, &livekit.DeleteRoomRequest{Room: roomID})
		return err
	})
	if isRoomNotFound(err) {
		return nil
	}
	return err
}

// SendData sends payload to every participant of the room as a reliable
// data message with topic. A room without participants drops it; a room
// LiveKit does not have gives ErrRoomNotFound. (LiveKit itself does not
// answer a SendData for a missing room until the request times out, so the
// room's existence is checked first: two calls.)
//
// Detached: ErrUnavailable.
func (c *Client) SendData(ctx context.Context, roomID, topic string, payload []byte) error {
	if c.Detached() {
		return fmt.Errorf("livekit send data: %w: detached (no LiveKit URL)", ErrUnavailable)
	}
	if roomID == "" {
		return fmt.Errorf("livekit send data: %w: empty room ID", ErrInvalidArgument)
	}
	// The nonce lets the server drop a copy should the request be replayed.
	nonce := make([]byte, 16)
	_, _ = rand.Read(nonce)
	req := &livekit.SendDataRequest{
		Room:  roomID,
		Data:  payload,
		Kind:  livekit.DataPacket_RELIABLE,
		Nonce: nonce,
	}
	if topic != "" {
		req.Topic = &topic
	}
	exists, err := c.RoomExists(ctx, roomID)
	if err != nil {
		return err
	}
	if !exists {
		return fmt.Errorf("livekit send data: %w: %s", ErrRoomNotFound, roomID)
	}
	return c.call(ctx, "send data", func(ctx context.Context) error {
		_, err := c.rooms.SendData(ctx, req)
		return err
	})
}

// call runs one request to the server with the request timeout and the
// artificial latency, and classifies its error.
// Each call is a span "livekit <op>" when tracing is on.
func (c *Client) call(ctx context.Context, op string, fn func(context.Context) error) (err error) {
	ctx, span := tracing.StartOf(ctx, "livekit", op, trace.SpanKindClient)
	defer func() { tracing.End(span, err) }()
	ctx, cancel := context.WithTimeout(ctx, c.cfg.RequestTimeout)
	defer cancel()
	if err := c.extraLatency(ctx); err != nil {
		return classify(op, err)
	}
	return classify(op, fn(ctx))
}

// detachedCall stands for a call a detached client answers by itself
// (HasActiveMeeting, RoomExists, ListRooms, DeleteRoom): it only waits
// Config.ExtraLatency, so benchmarks can make handlers I/O-bound without a
// server. With no ExtraLatency (always outside benchmarks) it returns nil
// at once.
func (c *Client) detachedCall(ctx context.Context, op string) error {
	if c.cfg.ExtraLatency <= 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.RequestTimeout)
	defer cancel()
	return classify(op, c.extraLatency(ctx))
}

// extraLatency waits Config.ExtraLatency, or until ctx ends.
func (c *Client) extraLatency(ctx context.Context) error {
	if c.cfg.ExtraLatency <= 0 {
		return nil
	}
	t := time.NewTimer(c.cfg.ExtraLatency)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
