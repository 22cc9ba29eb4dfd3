package mongo

import (
	"context"
	"fmt"
	"math"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/roomkeeper/roomkeeper/store"
)

// Index names of FindRooms' sorts on rooms.
const (
	IndexCreated  = "rooms_created"
	IndexName     = "rooms_name"
	IndexDeletion = "rooms_deletion"
)

// sortFields are the stored field of each sort of FindRooms, and the index
// in (field, _id) order its finds walk.
var sortFields = map[string]struct{ field, index string }{
	store.SortCreationDate:     {"creationDate", IndexCreated},
	store.SortRoomName:         {"roomName", IndexName},
	store.SortAutoDeletionDate: {"autoDeletionDate", IndexDeletion},
}

// FindRooms implements store.Store. MongoDB has no row-value comparison
// for the keyset (sort value, _id) > cursor, and an $or of its halves would
// leave the planner free to read every match and sort them; so, as in
// ExpiredRooms, a page is a short sequence of finds (segments), each one
// range of the sort's index read in its order (named with a hint; FerretDB
// ignores hints) and stopped at what the page still lacks: the rest of the
// cursor's value past the cursor's ID, then the values beyond. Each index
// holds status and roomName after (field, _id), so the filters are checked
// on the index keys and only the page's rooms are fetched. A sort by
// autoDeletionDate puts the rooms without one (a missing field, which
// MongoDB would sort first) after every dated room, ascending, and before
// them descending: their own segment, {autoDeletionDate: null} in _id
// order. A name filter is an equality, or a $regex (store.RoomQuery's
// pattern, with option i when case-insensitive); an invalid query is
// store.ErrInvalid.
func (s *Store) FindRooms(ctx context.Context, q store.RoomQuery) ([]store.Room, error) {
	const op = "find rooms"
	if err := q.Check(); err != nil {
		return nil, fmt.Errorf("mongo: %s: %w", op, err)
	}
	key := sortFields[q.Sort]
	var base bson.A
	if q.Status != "" {
		base = append(base, bson.D{{Key: "status", Value: q.Status}})
	}
	hint := key.index
	switch {
	case q.NameEquals():
		base = append(base, bson.D{{Key: "roomName", Value: q.Name}})
		if q.Sort != store.SortRoomName {
			hint = "" // the planner's choice: the few rooms of that name, sorted
		}
	case q.Name != "":
		opts := ""
		if q.NameCaseInsensitive {
			opts = "i"
		}
		base = append(base, bson.D{{Key: "roomName", Value: bson.Regex{Pattern: q.NameRegexp(), Options: opts}}})
	}
	dir, past := 1, "$gt"
	if q.Desc {
		dir, past = -1, "$lt"
	}
	sort := bson.D{{Key: key.field, Value: dir}, {Key: "_id", Value: dir}}

	cond := func(field string, v any) bson.D { return bson.D{{Key: field, Value: v}} }
	beyond := func(v any) bson.D { return cond(key.field, bson.D{{Key: past, Value: v}}) }
	afterID := func(id string) bson.D { return cond("_id", bson.D{{Key: past, Value: id}}) }
	null := cond(key.field, nil)

	// segments are the finds of the page, in order; each is a list of
	// conditions ANDed with base.
	var segments [][]bson.D
	c := q.After
	switch {
	case q.Sort != store.SortAutoDeletionDate:
		if c == nil {
			segments = [][]bson.D{{}}
			break
		}
		var v any = c.Int
		if q.Sort == store.SortRoomName {
			v = c.Str
		}
		segments = [][]bson.D{{cond(key.field, v), afterID(c.RoomID)}, {beyond(v)}}
	case !q.Desc:
		// Dated rooms ascending, then the rooms without a date.
		switch {
		case c == nil:
			dated := cond(key.field, bson.D{{Key: "$gte", Value: int64(math.MinInt64)}})
			segments = [][]bson.D{{dated}, {null}}
		case c.HasValue:
			segments = [][]bson.D{{cond(key.field, c.Int), afterID(c.RoomID)}, {beyond(c.Int)}, {null}}
		default:
			segments = [][]bson.D{{null, afterID(c.RoomID)}}
		}
	default:
		// The rooms without a date, then dated rooms descending.
		dated := cond(key.field, bson.D{{Key: "$lte", Value: int64(math.MaxInt64)}})
		switch {
		case c == nil:
			segments = [][]bson.D{{null}, {dated}}
		case c.HasValue:
			segments = [][]bson.D{{cond(key.field, c.Int), afterID(c.RoomID)}, {beyond(c.Int)}}
		default:
			segments = [][]bson.D{{null, afterID(c.RoomID)}, {dated}}
		}
	}

	rooms := []store.Room{}
	for _, seg := range segments {
		all := append(append(bson.A{}, base...), toA(seg)...)
		var filter bson.D
		switch len(all) {
		case 0:
			filter = bson.D{}
		case 1:
			filter = all[0].(bson.D)
		default:
			filter = bson.D{{Key: "$and", Value: all}}
		}
		more, err := s.findRoomsSorted(ctx, op, filter, sort, q.Limit-len(rooms), hint)
		if err != nil {
			return nil, err
		}
		rooms = append(rooms, more...)
		if len(rooms) >= q.Limit {
			break
		}
	}
	return rooms, nil
}

func toA(ds []bson.D) bson.A {
	out := make(bson.A, len(ds))
	for i, d := range ds {
		out[i] = d
	}
	return out
}
