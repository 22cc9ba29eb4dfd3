package mongo

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/roomkeeper/roomkeeper/store"
)

// RoomHistory implements store.Store: as FindRooms, a page is at most two
// finds of the commands_history index {rooms, updatedAt, _id} in its order
// (named with a hint; FerretDB ignores hints), each stopped at what the
// page still lacks: the rest of the cursor's time past the cursor's ID,
// then the times beyond. rooms is set when a record finishes, so only
// finished records are in a history.
func (s *Store) RoomHistory(ctx context.Context, q store.HistoryQuery) ([]store.Command, error) {
	const op = "room history"
	if q.Limit < 1 {
		return nil, fmt.Errorf("mongo: %s: %w: limit %d", op, store.ErrInvalid, q.Limit)
	}
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	base := bson.D{
		{Key: "rooms", Value: q.RoomID},
		{Key: "status", Value: bson.D{{Key: "$in", Value: bson.A{store.StatusDone, store.StatusDead}}}},
	}
	var segments []bson.D
	if c := q.After; c != nil {
		at := time.UnixMilli(c.At).UTC()
		segments = []bson.D{
			append(base[:len(base):len(base)], bson.E{Key: "updatedAt", Value: at}, bson.E{Key: "_id", Value: bson.D{{Key: "$gt", Value: c.CommandID}}}),
			append(base[:len(base):len(base)], bson.E{Key: "updatedAt", Value: bson.D{{Key: "$gt", Value: at}}}),
		}
	} else {
		segments = []bson.D{base}
	}
	sort := bson.D{{Key: "updatedAt", Value: 1}, {Key: "_id", Value: 1}}
	out := []store.Command{}
	for _, filter := range segments {
		opts := options.Find().SetSort(sort).SetLimit(int64(q.Limit - len(out))).SetHint(IndexHistory)
		cur, err := s.commands.Find(ctx, filter, opts)
		if err != nil {
			return nil, wrapErr(op, err)
		}
		var recs []record
		if err := cur.All(ctx, &recs); err != nil {
			return nil, wrapErr(op, err)
		}
		for _, r := range recs {
			out = append(out, r.Command)
		}
		if len(out) >= q.Limit {
			break
		}
	}
	return out, nil
}
