package queries

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"unicode/utf8"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/store"
)

func (q *Service) get(ctx context.Context, body []byte) (any, error) {
	var req events.GetRequest
	if err := decodeQuery(body, &req); err != nil {
		return nil, err
	}
	room, err := q.room(ctx, req.RoomID)
	if err != nil {
		return nil, err
	}
	return roomJSON(room, parseFields(req.Fields))
}

// room reads a room; not_found when there is none.
func (q *Service) room(ctx context.Context, id string) (*store.Room, error) {
	room, err := q.cfg.Store.GetRoom(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, events.Errorf(events.CodeNotFound, "room %s not found", id)
	}
	return room, err
}

// roomFields are the properties of a room, in the contract's order.
var roomFields = []string{
	"roomId", "roomName", "creationDate", "autoDeletionDate", "markedForDeletion",
	"preferences", "moderatorRoomUrl", "publisherRoomUrl",
}

// parseFields reads a comma-separated fields list; nil means every field
// (no list, or one naming nothing at all).
func parseFields(s string) map[string]bool {
	var out map[string]bool
	for f := range strings.SplitSeq(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		if out == nil {
			out = map[string]bool{}
		}
		out[f] = true
	}
	return out
}

// roomJSON is the room as the contract shows it, restricted to fields
// (nil: all) in the contract's order; unknown fields are dropped.
func roomJSON(r *store.Room, fields map[string]bool) (json.RawMessage, error) {
	raw, err := json.Marshal(r.View())
	if err != nil || fields == nil {
		return raw, err
	}
	var all map[string]json.RawMessage
	if err := json.Unmarshal(raw, &all); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.WriteByte('{')
	for _, f := range roomFields {
		v, ok := all[f]
		if !ok || !fields[f] {
			continue
		}
		if b.Len() > 1 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(f)
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// listRequest is rooms.api.list as received: maxItems is any JSON number.
type listRequest struct {
	MaxItems      *float64 `json:"maxItems"`
	NextPageToken string   `json:"nextPageToken"`
	Fields        string   `json:"fields"`
}

type listReply struct {
	Rooms      []json.RawMessage `json:"rooms"`
	Pagination events.Pagination `json:"pagination"`
}

// MaxItems coerces a requested page size as OpenVidu Meet does: absent →
// 10; floored; capped at 100; below 1 (after flooring) or not finite →
// invalid_argument.
func MaxItems(v *float64) (int, error) {
	if v == nil {
		return DefaultMaxItems, nil
	}
	f := math.Floor(*v)
	if math.IsNaN(f) || f < 1 {
		return 0, events.Invalid("invalid "+events.APIList+" request",
			events.FieldError{Field: "maxItems", Message: "must be at least 1"})
	}
	return int(min(f, MaxMaxItems)), nil
}

// pageTokenPrefix versions the page token, which is otherwise opaque.
const pageTokenPrefix = "r1:"

// PageToken is the opaque nextPageToken of a page ending at roomID: the
// list resumes after that ID (keyset pagination), so rooms created or
// deleted between pages shift nothing: a room that exists throughout the
// listing is returned exactly once.
func PageToken(roomID string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(pageTokenPrefix + roomID))
}

// parsePageToken returns the room ID a token resumes after.
func parsePageToken(tok string) (string, error) {
	bad := events.Invalid("invalid "+events.APIList+" request",
		events.FieldError{Field: "nextPageToken", Message: "is not a token of this service"})
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || !utf8.Valid(raw) {
		return "", bad
	}
	id, ok := strings.CutPrefix(string(raw), pageTokenPrefix)
	if !ok || id == "" || len(id) > 512 {
		return "", bad
	}
	return id, nil
}

func (q *Service) list(ctx context.Context, body []byte) (any, error) {
	var req listRequest
	if err := decodeQuery(body, &req); err != nil {
		return nil, err
	}
	limit, err := MaxItems(req.MaxItems)
	if err != nil {
		return nil, err
	}
	after := ""
	if req.NextPageToken != "" {
		if after, err = parsePageToken(req.NextPageToken); err != nil {
			return nil, err
		}
	}
	rooms, err := q.cfg.Store.ListRooms(ctx, after, limit+1)
	if err != nil {
		return nil, err
	}
	out := listReply{Rooms: []json.RawMessage{}, Pagination: events.Pagination{MaxItems: limit}}
	if len(rooms) > limit {
		rooms = rooms[:limit]
		out.Pagination.IsTruncated = true
		out.Pagination.NextPageToken = PageToken(rooms[limit-1].RoomID)
	}
	fields := parseFields(req.Fields)
	for i := range rooms {
		raw, err := roomJSON(&rooms[i], fields)
		if err != nil {
			return nil, err
		}
		out.Rooms = append(out.Rooms, raw)
	}
	return out, nil
}
