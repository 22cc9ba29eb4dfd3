package mongo_test

import (
	"context"
	"flag"
	"testing"
	"time"

	"github.com/roomkeeper/roomkeeper/internal/testenv/ferret"
	"github.com/roomkeeper/roomkeeper/store"
	"github.com/roomkeeper/roomkeeper/store/mongo"
	"github.com/roomkeeper/roomkeeper/store/storetest"
)

var findRooms = flag.String("find.rooms", "10000",
	"room counts of BenchmarkFindRooms, comma-separated (10000,100000 for the full set)")

// BenchmarkFindRooms measures a page of FindRooms among 10k rooms
// (-find.rooms for more) for every sort, ascending and descending (see
// storetest.BenchFindRooms), on FerretDB unless TEST_MONGO_URI names a real
// MongoDB. FerretDB v1 reads the whole collection for every find whatever
// the indexes, so there every figure follows the room count and the number
// of finds of the page (one to three); the indexes show only on MongoDB:
//
//	go test -run '^$' -bench FindRooms -benchtime 3x -timeout 60m ./store/mongo -find.rooms 10000,100000
func BenchmarkFindRooms(b *testing.B) {
	s := openStore(b, ferret.MongoURI(b), mongo.Config{OpTimeout: 10 * time.Minute})
	rooms := s.Database().Collection(mongo.CollRooms)
	storetest.BenchFindRooms(b, s, storetest.FindBench{
		Sizes: storetest.ParseSizes(b, *findRooms),
		Insert: func(ctx context.Context, batch []*store.Room) error {
			_, err := rooms.InsertMany(ctx, batch)
			return err
		},
	})
}
