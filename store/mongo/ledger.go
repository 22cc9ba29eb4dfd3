package mongo

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/roomkeeper/roomkeeper/store"
)

// FindCommands implements store.LedgerReader through the commands_prune
// index (status, updatedAt, _id), walked backwards from the position: a
// page reads about q.Limit documents. A record whose guarded completion is
// in flight (StatusCompleting) is listed as pending, as GetCommand reports
// it while its completer is at work.
func (s *Store) FindCommands(ctx context.Context, q store.CommandQuery) ([]store.Command, error) {
	const op = "find commands"
	if err := q.Check(); err != nil {
		return nil, fmt.Errorf("mongo: %s: %w", op, err)
	}
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	var status any = q.Status
	if q.Status == store.StatusPending {
		status = bson.D{{Key: "$in", Value: bson.A{store.StatusPending, StatusCompleting}}}
	}
	filter := bson.D{{Key: "status", Value: status}}
	if q.After != nil {
		at := q.After.UpdatedAt.UTC().Truncate(1e6)
		filter = append(filter,
			bson.E{Key: "updatedAt", Value: bson.D{{Key: "$lte", Value: at}}},
			bson.E{Key: "$or", Value: bson.A{
				bson.D{{Key: "updatedAt", Value: bson.D{{Key: "$lt", Value: at}}}},
				bson.D{{Key: "_id", Value: bson.D{{Key: "$lt", Value: q.After.ID}}}},
			}})
	}
	opts := options.Find().
		SetProjection(bson.D{{Key: "plan", Value: 0}, {Key: "outbox", Value: 0}, {Key: "completing", Value: 0}}).
		SetSort(bson.D{{Key: "updatedAt", Value: -1}, {Key: "_id", Value: -1}}).
		SetLimit(int64(q.Limit)).
		SetHint(IndexPrune)
	cur, err := s.commands.Find(ctx, filter, opts)
	if err != nil {
		return nil, wrapErr(op, err)
	}
	out := []store.Command{}
	if err := cur.All(ctx, &out); err != nil {
		return nil, wrapErr(op, err)
	}
	for i := range out {
		if out[i].Status == StatusCompleting {
			out[i].Status = store.StatusPending
		}
		out[i].CreatedAt = out[i].CreatedAt.UTC()
		out[i].UpdatedAt = out[i].UpdatedAt.UTC()
	}
	return out, nil
}
