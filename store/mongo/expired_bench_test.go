package mongo_test

import (
	"context"
	"flag"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/bson"
	driver "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/roomkeeper/roomkeeper/internal/testenv/ferret"
	"github.com/roomkeeper/roomkeeper/store"
	"github.com/roomkeeper/roomkeeper/store/mongo"
	"github.com/roomkeeper/roomkeeper/store/storetest"
)

var (
	expiryRooms = flag.String("expiry.rooms", "10000",
		"room counts of BenchmarkExpiredRooms, comma-separated (10000,100000,1000000 for the full set)")
	expiryScanUpTo = flag.Int("expiry.scan", -1,
		"largest room count at which BenchmarkExpiredRooms runs the seed's scan of every room (0: all, negative: none)")
)

// indexBefore is rooms_expiry as it was before keyset order, created beside
// it under this name for the query of that time.
const indexBefore = "rooms_expiry_before"

// BenchmarkExpiredRooms measures finding 1,000 expired rooms among 10k
// rooms (-expiry.rooms for more), in pages of 100: ExpiredRooms' keyset
// pages beside the query before them (expired rooms in _id order through
// the index of that time) and the seed's scan of every room (see
// storetest.BenchExpiredRooms), on FerretDB unless TEST_MONGO_URI names a
// real MongoDB. FerretDB v1 reads the whole collection for every find
// whatever the indexes (it pushes down only a filter on _id alone), so on
// it every figure follows the room count, and the keyset pages, two finds
// each, cost about twice the query before; the index's effect shows only on
// MongoDB. The seed's scan is one such read per 100 rooms, so it runs only
// when asked, up to -expiry.scan rooms. On FerretDB under load a find of
// 10k rooms takes about 1.5 s and one of 100k about 15 s:
//
//	go test -run '^$' -bench ExpiredRooms -benchtime 1x -timeout 60m ./store/mongo -expiry.rooms 10000,100000 -expiry.scan 10000
func BenchmarkExpiredRooms(b *testing.B) {
	s := openStore(b, ferret.MongoURI(b), mongo.Config{OpTimeout: 10 * time.Minute})
	rooms := s.Database().Collection(mongo.CollRooms)
	_, err := rooms.Indexes().CreateOne(b.Context(), driver.IndexModel{
		Keys:    bson.D{{Key: "autoDeletionDate", Value: 1}, {Key: "markedForDeletion", Value: 1}, {Key: "_id", Value: 1}},
		Options: options.Index().SetName(indexBefore),
	})
	require.NoError(b, err)

	storetest.BenchExpiredRooms(b, s, storetest.ExpiryBench{
		Sizes:    storetest.ParseSizes(b, *expiryRooms),
		ScanUpTo: *expiryScanUpTo,
		Insert: func(ctx context.Context, batch []*store.Room) error {
			_, err := rooms.InsertMany(ctx, batch)
			return err
		},
		ByID: func(ctx context.Context, now int64, after string, limit int) ([]store.Room, error) {
			filter := bson.D{
				{Key: "autoDeletionDate", Value: bson.D{{Key: "$lte", Value: now}}},
				{Key: "markedForDeletion", Value: bson.D{{Key: "$ne", Value: true}}},
				{Key: "_id", Value: bson.D{{Key: "$gt", Value: after}}},
			}
			opts := options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}).SetLimit(int64(limit)).SetHint(indexBefore)
			cur, err := rooms.Find(ctx, filter, opts)
			if err != nil {
				return nil, err
			}
			out := []store.Room{}
			return out, cur.All(ctx, &out)
		},
	})
}
