package sqlite

import (
	"context"
	"flag"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/roomkeeper/roomkeeper/store"
	"github.com/roomkeeper/roomkeeper/store/storetest"
)

var findRooms = flag.String("find.rooms", "10000,100000",
	"room counts of BenchmarkFindRooms, comma-separated")

// BenchmarkFindRooms measures a page of FindRooms among 10k and 100k rooms
// (-find.rooms for others) for every sort, ascending and descending: the
// first page, a page from a cursor halfway, and a page filtered on status
// and a case-insensitive partial name (see storetest.BenchFindRooms):
//
//	go test -run '^$' -bench FindRooms -benchtime 20x ./store/sqlite
func BenchmarkFindRooms(b *testing.B) {
	s, err := Open(b.Context(), Config{Path: filepath.Join(b.TempDir(), DefaultFileName)})
	require.NoError(b, err)
	b.Cleanup(func() { _ = s.Close() })
	storetest.BenchFindRooms(b, s, storetest.FindBench{
		Sizes: storetest.ParseSizes(b, *findRooms),
		Insert: func(ctx context.Context, rooms []*store.Room) error {
			return s.insertRoomsTx(ctx, rooms)
		},
	})
}
