package storetest

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/store"
)

// FindBench configures [BenchFindRooms] for one store.
type FindBench struct {
	// Sizes are the room counts, ascending; each size adds rooms to those
	// of the one before, so the largest is seeded once.
	Sizes []int
	// PageSize is the limit of every query. Default 10 (rooms.api.list's
	// default maxItems).
	PageSize int
	// Insert stores rooms in bulk (one transaction, InsertMany).
	Insert func(ctx context.Context, rooms []*store.Room) error
}

// BenchFindRooms measures one page of FindRooms at each of cfg.Sizes
// rooms, for every sort ascending and descending, three ways:
//
//   - first-ms: the first page, no filter;
//   - middle-ms: the page after the room halfway through the order (a
//     cursor deep in the index);
//   - filtered-ms: the first page of rooms whose status is closed (a third
//     of them) and whose name contains "ab", case-insensitively (a regular
//     expression on every room the walk meets; about one name in 37, so
//     the walk meets some 1,100 rooms for a page of 10).
//
// Every figure is the median over b.N runs, in ms; each page is checked
// against the order computed in Go.
func BenchFindRooms(b *testing.B, s store.Store, cfg FindBench) {
	if cfg.PageSize == 0 {
		cfg.PageSize = 10
	}
	var all []*store.Room
	for _, n := range cfg.Sizes {
		b.Run(fmt.Sprintf("rooms=%d", n), func(b *testing.B) {
			if len(all) < n {
				start := time.Now()
				all = append(all, seedFind(b, cfg, len(all), n)...)
				b.Logf("seeded %d rooms in %v", n, time.Since(start).Round(time.Millisecond))
			}
			for _, q := range sorts {
				b.Run(sortName(q), func(b *testing.B) {
					benchFindSort(b, s, cfg, q, all)
				})
			}
		})
	}
}

func benchFindSort(b *testing.B, s store.Store, cfg FindBench, q store.RoomQuery, all []*store.Room) {
	order := expectedOrder(q, all)
	byID := map[string]*store.Room{}
	for _, r := range all {
		byID[r.RoomID] = r
	}
	q.Limit = cfg.PageSize
	mid := q
	midCursor := byID[order[len(order)/2]].Cursor(q.Sort)
	mid.After = &midCursor
	filtered := q
	filtered.Status = events.StatusClosed
	filtered.Name, filtered.NameMatch, filtered.NameCaseInsensitive = "AB", store.MatchPartial, true
	var wantFiltered []string
	for _, id := range order {
		r := byID[id]
		if r.Status == events.StatusClosed && containsFold(r.RoomName, "ab") {
			wantFiltered = append(wantFiltered, id)
			if len(wantFiltered) == cfg.PageSize {
				break
			}
		}
	}

	run := func(q store.RoomQuery, want []string) time.Duration {
		start := time.Now()
		rooms, err := s.FindRooms(b.Context(), q)
		took := time.Since(start)
		require.NoError(b, err)
		require.Equal(b, want, ids(rooms))
		return took
	}
	b.ResetTimer()
	var first, middle, filter []time.Duration
	for range b.N {
		first = append(first, run(q, order[:cfg.PageSize]))
		middle = append(middle, run(mid, order[len(order)/2+1:len(order)/2+1+cfg.PageSize]))
		filter = append(filter, run(filtered, wantFiltered))
	}
	b.StopTimer()
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(ms(first), "first-ms")
	b.ReportMetric(ms(middle), "middle-ms")
	b.ReportMetric(ms(filter), "filtered-ms")
}

func containsFold(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		match := true
		for j := range len(sub) {
			c := s[i+j]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != sub[j] {
				match = false
				break
			}
		}
		if match {
			return true
		}
	}
	return false
}

// seedFind inserts rooms from through to-1 of the benchmark's data, in
// chunks, and returns them. Room i has an ID spread over the ID order by a
// hash of i, a name of hex digits from another hash (upper case for odd
// rooms), a creation date ten to a millisecond, a deletion date for two
// rooms in three, and a status open, active_meeting or closed in turn.
func seedFind(b *testing.B, cfg FindBench, from, to int) []*store.Room {
	const chunk = 10_000
	ctx, cancel := context.WithTimeout(b.Context(), 30*time.Minute)
	defer cancel()
	var out []*store.Room
	rooms := make([]*store.Room, 0, chunk)
	for i := from; i < to; i++ {
		r := NewRoom(fmt.Sprintf("Find%016x", mix(uint64(i))))
		name := fmt.Sprintf("%08x room", mix(uint64(i)+1<<40)>>32)
		if i%2 == 1 {
			name = fmt.Sprintf("%08X room", mix(uint64(i)+1<<40)>>32)
		}
		r.RoomName = name
		r.CreationDate = 1_764_000_000_000 + int64(i/10)
		r.Status = []string{events.StatusOpen, events.StatusActiveMeeting, events.StatusClosed}[i%3]
		if i%3 == 0 {
			r.AutoDeletionDate, r.AutoDeletionPolicy = nil, nil
		} else {
			r.AutoDeletionDate = ptr(int64(1_900_000_000_000 + mix(uint64(i)+2<<40)%1_000_000))
		}
		rooms = append(rooms, r)
		out = append(out, r)
		if len(rooms) == chunk || i == to-1 {
			require.NoError(b, cfg.Insert(ctx, slices.Clone(rooms)))
			rooms = rooms[:0]
		}
	}
	return out
}
