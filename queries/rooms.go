package queries

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/store"
)

// getRequest is rooms.api.get as received.
type getRequest struct {
	RoomID      string `json:"roomId"`
	Fields      string `json:"fields"`
	ExtraFields string `json:"extraFields"`
	Secret      string `json:"secret"`
}

func (q *Service) get(ctx context.Context, body []byte) (any, error) {
	var req getRequest
	if err := decodeQuery(body, &req); err != nil {
		return nil, err
	}
	room, err := q.room(ctx, req.RoomID)
	if err != nil {
		return nil, err
	}
	p := newProjection(req.Fields, req.ExtraFields)
	if req.Secret != "" {
		// A room member (upstream's room member token) sees the anonymous
		// links only when its role may share them.
		role, err := roleFor(room, req.Secret)
		if err != nil {
			return nil, err
		}
		p.hideLinks = !permissionsOf(room, role).RoomShareAccessLinks
	}
	return p.roomJSON(room, true)
}

func (q *Service) config(ctx context.Context, body []byte) (any, error) {
	var req events.ConfigRequest
	if err := decodeQuery(body, &req); err != nil {
		return nil, err
	}
	room, err := q.room(ctx, req.RoomID)
	if err != nil {
		return nil, err
	}
	return room.View().Config, nil
}

// unsafeIDChars are what upstream strips from a room ID in a request
// (its sanitizeRoomId keeps letters, digits, '-' and '_').
var unsafeIDChars = regexp.MustCompile(`[^a-zA-Z0-9_-]`)

// room reads the room a request names, its ID sanitised as upstream does
// (invalid_argument when nothing is left); not_found, with upstream's
// message, when there is none.
func (q *Service) room(ctx context.Context, rawID string) (*store.Room, error) {
	id := unsafeIDChars.ReplaceAllString(rawID, "")
	if id == "" {
		return nil, events.Invalid("invalid request",
			events.FieldError{Field: "roomId", Message: "is empty after removing characters other than letters, digits, '-' and '_'"})
	}
	room, err := q.cfg.Store.GetRoom(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, roomError(events.CodeNotFound, "Room '%s' does not exist", id)
	}
	return room, err
}

// roomError is an error upstream names "Room Error".
func roomError(code, format string, args ...any) *events.Error {
	e := events.Errorf(code, format, args...)
	e.Name = "Room Error"
	return e
}

// listRequest is rooms.api.list as received: maxItems is any JSON number.
type listRequest struct {
	RoomName                string   `json:"roomName"`
	RoomNameMatchMode       string   `json:"roomNameMatchMode"`
	RoomNameCaseInsensitive bool     `json:"roomNameCaseInsensitive"`
	Status                  string   `json:"status"`
	Owner                   *string  `json:"owner"`
	Member                  *string  `json:"member"`
	UserAccess              *bool    `json:"userAccess"`
	Fields                  string   `json:"fields"`
	ExtraFields             string   `json:"extraFields"`
	MaxItems                *float64 `json:"maxItems"`
	NextPageToken           string   `json:"nextPageToken"`
	SortField               string   `json:"sortField"`
	SortOrder               string   `json:"sortOrder"`
}

type listReply struct {
	Rooms       []json.RawMessage `json:"rooms"`
	ExtraFields []string          `json:"_extraFields"`
	Pagination  events.Pagination `json:"pagination"`
}

// MaxItems coerces a requested page size as OpenVidu Meet does: absent →
// 10; floored; capped at 100; below 1 (after flooring) or not finite →
// invalid_argument.
func MaxItems(v *float64) (int, error) { return maxItems(events.APIList, v) }

// maxItems is MaxItems for the request of subject.
func maxItems(subject string, v *float64) (int, error) {
	if v == nil {
		return DefaultMaxItems, nil
	}
	f := math.Floor(*v)
	if math.IsNaN(f) || f < 1 {
		return 0, events.Invalid("invalid "+subject+" request",
			events.FieldError{Field: "maxItems", Message: "must be at least 1"})
	}
	return int(min(f, MaxMaxItems)), nil
}

// roomQuery turns a list request into the store's query (without its
// page position and size). none is set when the request selects no room
// at all (filters on Meet user accounts, which roomkeeper does not have).
func roomQuery(req *listRequest) (rq store.RoomQuery, none bool, err error) {
	rq = store.RoomQuery{
		Name: req.RoomName, NameMatch: store.MatchExact, NameCaseInsensitive: req.RoomNameCaseInsensitive,
		Status: req.Status, Sort: store.SortCreationDate, Desc: true,
	}
	if req.RoomNameMatchMode != "" {
		rq.NameMatch = req.RoomNameMatchMode // the schema holds it to the store's modes
	}
	if req.SortField != "" {
		rq.Sort = req.SortField
	}
	// Upstream sorts newest first by default, and its sortOrder defaults
	// to desc whatever the field.
	rq.Desc = req.SortOrder != events.SortAsc
	rq.Limit = 1 // set by the caller; Check wants one
	if err := rq.Check(); err != nil {
		// The schema holds the modes and sort fields to the store's: only
		// a regular expression can be refused here.
		return rq, false, events.Invalid("invalid "+events.APIList+" request",
			events.FieldError{Field: "roomName", Message: fmt.Sprintf("is not a regular expression of at most %d bytes in RE2 syntax", store.MaxNamePattern)})
	}
	// Every room is the admin's, has no members and no user access.
	none = req.Owner != nil && *req.Owner != events.OwnerAdmin ||
		req.Member != nil ||
		req.UserAccess != nil && *req.UserAccess
	return rq, none, nil
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
	rq, none, err := roomQuery(&req)
	if err != nil {
		return nil, err
	}
	if req.NextPageToken != "" {
		if rq.After, err = parsePageToken(req.NextPageToken, rq.Sort, rq.Desc); err != nil {
			return nil, err
		}
	}
	out := listReply{Rooms: []json.RawMessage{}, ExtraFields: events.RoomExtraFields(), Pagination: events.Pagination{MaxItems: limit}}
	if none {
		return out, nil
	}
	rq.Limit = limit + 1
	rooms, err := q.cfg.Store.FindRooms(ctx, rq)
	if err != nil {
		return nil, err
	}
	if len(rooms) > limit {
		rooms = rooms[:limit]
		out.Pagination.IsTruncated = true
		out.Pagination.NextPageToken = PageToken(rq.Sort, rq.Desc, rooms[limit-1].Cursor(rq.Sort))
	}
	// API-key callers act as the admin: they see the anonymous links.
	p := newProjection(req.Fields, req.ExtraFields)
	for i := range rooms {
		raw, err := p.roomJSON(&rooms[i], false)
		if err != nil {
			return nil, err
		}
		out.Rooms = append(out.Rooms, raw)
	}
	return out, nil
}
