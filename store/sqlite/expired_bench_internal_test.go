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

var (
	expiryRooms = flag.String("expiry.rooms", "10000,100000",
		"room counts of BenchmarkExpiredRooms, comma-separated (the full set: 10000,100000,1000000)")
	expiryScanUpTo = flag.Int("expiry.scan", 0,
		"largest room count at which BenchmarkExpiredRooms runs the seed's scan of every room (0: all, negative: none)")
)

// qExpiredByID is qExpiredRooms before keyset order: expired rooms in ID
// order, which the index cannot give, so every page reads every expired
// room and sorts them.
const qExpiredByID = `SELECT ` + roomCols + ` FROM rooms INDEXED BY rooms_expiry
	WHERE auto_deletion_date <= ? AND marked_for_deletion = 0 AND id > ? ORDER BY id LIMIT ?`

// qExpiredKeys is qExpiredRooms reading only the index (covered).
const qExpiredKeys = `SELECT auto_deletion_date, id FROM rooms INDEXED BY rooms_expiry
	WHERE auto_deletion_date <= ? AND marked_for_deletion = 0
	AND (auto_deletion_date, id) > (?, ?)
	ORDER BY auto_deletion_date, id LIMIT ?`

// BenchmarkExpiredRooms measures finding 1,000 expired rooms among 10k and
// 100k rooms (-expiry.rooms for others), in pages of 100: ExpiredRooms'
// keyset pages beside the query before them and the seed's scan of every
// room (see storetest.BenchExpiredRooms). The rooms are inserted in one
// transaction per 10,000. A million rooms take about a minute to seed:
//
//	go test -run '^$' -bench ExpiredRooms -benchtime 5x ./store/sqlite -expiry.rooms 10000,100000,1000000
func BenchmarkExpiredRooms(b *testing.B) {
	s, err := Open(b.Context(), Config{Path: filepath.Join(b.TempDir(), DefaultFileName)})
	require.NoError(b, err)
	b.Cleanup(func() { _ = s.Close() })
	byID, err := s.reader.PrepareContext(b.Context(), qExpiredByID)
	require.NoError(b, err)
	b.Cleanup(func() { _ = byID.Close() })

	keys, err := s.reader.PrepareContext(b.Context(), qExpiredKeys)
	require.NoError(b, err)
	b.Cleanup(func() { _ = keys.Close() })

	storetest.BenchExpiredRooms(b, s, storetest.ExpiryBench{
		Sizes:    storetest.ParseSizes(b, *expiryRooms),
		ScanUpTo: *expiryScanUpTo,
		Insert: func(ctx context.Context, rooms []*store.Room) error {
			return s.insertRoomsTx(ctx, rooms)
		},
		Keys: func(ctx context.Context, now int64, after store.ExpiryKey, limit int) ([]store.ExpiryKey, error) {
			date, id := expiryStart(after)
			rows, err := keys.QueryContext(ctx, now, date, id, limit)
			if err != nil {
				return nil, err
			}
			defer func() { _ = rows.Close() }()
			var out []store.ExpiryKey
			for rows.Next() {
				var k store.ExpiryKey
				if err := rows.Scan(&k.Date, &k.RoomID); err != nil {
					return nil, err
				}
				out = append(out, k)
			}
			return out, rows.Err()
		},
		ByID: func(ctx context.Context, now int64, after string, limit int) ([]store.Room, error) {
			return s.queryRooms(ctx, "expired rooms by ID", byID, now, after, limit)
		},
	})
}

// insertRoomsTx inserts rooms in one transaction on the writer, beside the
// store's write queue (the benchmark writes nothing else meanwhile).
func (s *Store) insertRoomsTx(ctx context.Context, rooms []*store.Room) error {
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	stmt := tx.StmtContext(ctx, s.wInsertRoom)
	for _, r := range rooms {
		args, err := roomArgs(r, 1)
		if err != nil {
			return err
		}
		if _, err := stmt.ExecContext(ctx, args...); err != nil {
			return err
		}
	}
	return tx.Commit()
}
