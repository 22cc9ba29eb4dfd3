package storetest

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/roomkeeper/roomkeeper/store"
)

// ExpiryBench configures [BenchExpiredRooms] for one store.
type ExpiryBench struct {
	// Sizes are the room counts, ascending; each size adds rooms to those
	// of the one before, so the largest is seeded once.
	Sizes []int
	// Expired is how many of the rooms are expired, the same ones at every
	// size. Default 1000.
	Expired int
	// PageSize is the limit of every query. Default 100 (the seed's page).
	PageSize int
	// Insert stores rooms in bulk (one transaction, InsertMany): seeding a
	// million rooms one InsertRoom at a time takes too long.
	Insert func(ctx context.Context, rooms []*store.Room) error
	// ByID is ExpiredRooms as the store had it before keyset order: up to
	// limit expired, unmarked rooms with an ID greater than after, in
	// ascending ID order, which reads and sorts every expired room on each
	// page. Nil: not measured.
	ByID func(ctx context.Context, now int64, after string, limit int) ([]store.Room, error)
	// Keys is the walk of ExpiredRooms reading only the keys (date and ID)
	// from the index, without fetching the rooms: what is left of a page's
	// cost once the rooms' rows are not read. Nil: not measured.
	Keys func(ctx context.Context, now int64, after store.ExpiryKey, limit int) ([]store.ExpiryKey, error)
	// ScanUpTo is the largest size at which the seed's algorithm (ListRooms
	// through every room, 100 at a time, filtering in the process) runs;
	// 0: every size, negative: none.
	ScanUpTo int
}

// WithDefaults returns c with its zero fields set to their defaults.
func (c ExpiryBench) WithDefaults() ExpiryBench {
	if c.Expired == 0 {
		c.Expired = 1000
	}
	if c.PageSize == 0 {
		c.PageSize = 100
	}
	return c
}

// ParseSizes parses a comma-separated list of room counts ("10000,100000").
func ParseSizes(tb testing.TB, list string) []int {
	tb.Helper()
	var sizes []int
	for f := range strings.SplitSeq(list, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		require.NoError(tb, err, "room count %q", f)
		require.Positive(tb, n)
		sizes = append(sizes, n)
	}
	return sizes
}

// BenchExpiredRooms measures finding every expired room page by page, at
// each of cfg.Sizes rooms with the same cfg.Expired expired among them,
// three ways on the same data:
//
//   - keyset-ms: ExpiredRooms in (autoDeletionDate, roomId) keyset pages,
//     what the sweep runs (and keys-ms: the same walk without fetching the
//     rooms, where cfg.Keys is set; and get-ms: one GetRoom per expired
//     room, what reading those rooms costs at that size);
//   - byid-ms: cfg.ByID, the query before (expired rooms in ID order, all
//     of them read and sorted for each page);
//   - scan-ms: the seed's algorithm, ListRooms through every room.
//
// Every figure is the median time of one whole pass over b.N passes, in
// ms; the pages, the rooms
// found and the store's room count are checked on every pass.
func BenchExpiredRooms(b *testing.B, s store.Store, cfg ExpiryBench) {
	cfg = cfg.WithDefaults()
	now := time.Now().UnixMilli()
	seeded := 0
	for _, n := range cfg.Sizes {
		require.GreaterOrEqual(b, n, cfg.Expired)
		b.Run(fmt.Sprintf("rooms=%d/expired=%d", n, cfg.Expired), func(b *testing.B) {
			if seeded < n {
				start := time.Now()
				seedExpiry(b, cfg, now, seeded, n)
				b.Logf("seeded %d rooms in %v", n-seeded, time.Since(start).Round(time.Millisecond))
				seeded = n
			}
			count, err := s.CountRooms(b.Context())
			require.NoError(b, err)
			require.EqualValues(b, n, count)
			scan := cfg.ScanUpTo == 0 || n <= cfg.ScanUpTo // negative: never

			b.ResetTimer()
			// Each way's b.N passes in a row, so that none starts from a
			// page cache another emptied (the seed's scan reads every room).
			passes := func(find func(ctx context.Context) (int, error)) []time.Duration {
				var ds []time.Duration
				for range b.N {
					ds = append(ds, timeFind(b, cfg.Expired, find))
				}
				return ds
			}
			var keysT, byIDT, scanT []time.Duration
			keysetT := passes(func(ctx context.Context) (int, error) { return findKeyset(ctx, s, now, cfg.PageSize) })
			getT := passes(func(ctx context.Context) (int, error) { return getEach(ctx, s, cfg.Expired) })
			if cfg.Keys != nil {
				keysT = passes(func(ctx context.Context) (int, error) { return findKeys(ctx, cfg.Keys, now, cfg.PageSize) })
			}
			if cfg.ByID != nil {
				byIDT = passes(func(ctx context.Context) (int, error) { return findByID(ctx, cfg.ByID, now, cfg.PageSize) })
			}
			if scan {
				scanT = passes(func(ctx context.Context) (int, error) { return findByScan(ctx, s, now) })
			}
			b.StopTimer()
			b.ReportMetric(0, "ns/op")
			b.ReportMetric(ms(keysetT), "keyset-ms")
			msg := fmt.Sprintf("%d rooms, %d expired, pages of %d: keyset %.1f ms", n, cfg.Expired, cfg.PageSize, ms(keysetT))
			if cfg.Keys != nil {
				b.ReportMetric(ms(keysT), "keys-ms")
				msg += fmt.Sprintf(" (keys only %.1f ms)", ms(keysT))
			}
			b.ReportMetric(ms(getT), "get-ms")
			msg += fmt.Sprintf(", GetRoom of each %.1f ms", ms(getT))
			if cfg.ByID != nil {
				b.ReportMetric(ms(byIDT), "byid-ms")
				msg += fmt.Sprintf(", by ID (before) %.1f ms", ms(byIDT))
			}
			if scan {
				b.ReportMetric(ms(scanT), "scan-ms")
				msg += fmt.Sprintf(", seed's scan %.1f ms", ms(scanT))
			}
			b.Log(msg)
		})
	}
}

// ms is the median of ds in ms: the machine is shared, and a pass that
// another process slowed down says nothing about the query.
func ms(ds []time.Duration) float64 {
	ds = slices.Clone(ds)
	slices.Sort(ds)
	return float64(ds[len(ds)/2].Microseconds()) / 1000
}

// timeFind runs find, checks that it found want rooms and returns how long
// it took.
func timeFind(b *testing.B, want int, find func(ctx context.Context) (int, error)) time.Duration {
	ctx, cancel := context.WithTimeout(b.Context(), 30*time.Minute)
	defer cancel()
	start := time.Now()
	n, err := find(ctx)
	took := time.Since(start)
	require.NoError(b, err)
	require.Equal(b, want, n, "expired rooms found")
	return took
}

// findKeyset pages through ExpiredRooms as the sweep does and returns how
// many rooms it found.
func findKeyset(ctx context.Context, s store.Store, now int64, limit int) (int, error) {
	var after store.ExpiryKey
	found := 0
	for {
		page, err := s.ExpiredRooms(ctx, now, after, limit)
		if err != nil {
			return found, err
		}
		found += len(page)
		if len(page) < limit {
			return found, nil
		}
		after = page[len(page)-1].ExpiryKey()
	}
}

func findKeys(ctx context.Context, keys func(context.Context, int64, store.ExpiryKey, int) ([]store.ExpiryKey, error), now int64, limit int) (int, error) {
	var after store.ExpiryKey
	found := 0
	for {
		page, err := keys(ctx, now, after, limit)
		if err != nil {
			return found, err
		}
		found += len(page)
		if len(page) < limit {
			return found, nil
		}
		after = page[len(page)-1]
	}
}

// getEach reads the expired rooms one GetRoom each: what reading those
// rooms costs at this size, the floor of any pass that returns them.
func getEach(ctx context.Context, s store.Store, expired int) (int, error) {
	for i := range expired {
		if _, err := s.GetRoom(ctx, benchRoomID(i)); err != nil {
			return i, err
		}
	}
	return expired, nil
}

func findByID(ctx context.Context, byID func(context.Context, int64, string, int) ([]store.Room, error), now int64, limit int) (int, error) {
	after := ""
	found := 0
	for {
		page, err := byID(ctx, now, after, limit)
		if err != nil {
			return found, err
		}
		found += len(page)
		if len(page) < limit {
			return found, nil
		}
		after = page[len(page)-1].RoomID
	}
}

// findByScan is the seed's finding: every room, 100 at a time, filtered in
// the process.
func findByScan(ctx context.Context, s store.Store, now int64) (int, error) {
	const page = 100
	after := ""
	found := 0
	for {
		rooms, err := s.ListRooms(ctx, after, page)
		if err != nil {
			return found, err
		}
		for _, r := range rooms {
			if r.AutoDeletionDate != nil && *r.AutoDeletionDate <= now && !r.MarkedForDeletion {
				found++
			}
		}
		if len(rooms) < page {
			return found, nil
		}
		after = rooms[len(rooms)-1].RoomID
	}
}

// seedExpiry inserts rooms from through to-1 of the benchmark's data, in
// chunks. Room i has an ID spread over the ID order by a hash of i; the
// first cfg.Expired expired up to an hour before now, five to a date; of
// the others, half have no date and half expire tomorrow.
func seedExpiry(b *testing.B, cfg ExpiryBench, now int64, from, to int) {
	const chunk = 10_000
	ctx, cancel := context.WithTimeout(b.Context(), 30*time.Minute)
	defer cancel()
	rooms := make([]*store.Room, 0, chunk)
	for i := from; i < to; i++ {
		r := NewRoom(benchRoomID(i))
		switch {
		case i < cfg.Expired:
			r.AutoDeletionDate = ptr(now - 3_600_000 + int64(i/5)*1_000)
		case i%2 == 0:
			r.AutoDeletionDate = nil
		default:
			r.AutoDeletionDate = ptr(now + 86_400_000 + int64(i))
		}
		rooms = append(rooms, r)
		if len(rooms) == chunk || i == to-1 {
			require.NoError(b, cfg.Insert(ctx, rooms))
			rooms = rooms[:0]
		}
	}
}

// benchRoomID is the ID of room i of the benchmark's data.
func benchRoomID(i int) string { return fmt.Sprintf("Bench%016x", mix(uint64(i))) }

// mix is SplitMix64's finaliser: distinct inputs give distinct outputs
// spread over the whole range.
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}
