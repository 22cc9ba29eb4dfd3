package rooms_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/internal/workertest"
	"github.com/roomkeeper/roomkeeper/store"
	"github.com/roomkeeper/roomkeeper/store/storetest"
)

const benchExpired = 1000

// BenchmarkSweep measures one sweep, from publishing rooms.cmd.sweep until
// every expired room is gone (one worker process, concurrency 32, SQLite,
// loopback NATS, LiveKit detached), next to the seed's garbage collector on
// the same data: page through every room 100 at a time with ListRooms,
// filter in the process, DeleteRoom each expired one. The same 1,000 rooms
// are expired among 10,000 and among 100,000 rooms: the sweep's time
// follows the expired count, the seed's the room count. Two figures each:
// until every expired room is gone (sweep-ms, seed-ms, speedup), and the
// finding alone (sweep-find-ms: the sweep's result, i.e. the indexed query
// plus its delete commands stored in the ledger and published; seed-scan-ms:
// the seed's ListRooms paging; find-speedup). Seeding 100,000 rooms through
// the store's group commit takes a few seconds; the whole run about 20 s.
//
//	go test -run '^$' -bench Sweep -benchtime 1x ./workers
func BenchmarkSweep(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprintf("rooms=%d/expired=%d", n, benchExpired), func(b *testing.B) {
			bb := setup(b, workertest.SetupOpts{})
			bb.Start(b, workertest.WorkerOpts{Conc: 32})
			seedRooms(b, bb.Store, n-benchExpired)
			b.ResetTimer()
			var sweepT, foundT, seedT, scanT time.Duration
			for i := range b.N {
				b.StopTimer()
				seedExpired(b, bb.Store, fmt.Sprintf("S%d", i))
				b.StartTimer()
				took, found := sweepOnce(b, bb, fmt.Sprintf("bench-sweep-%d", i), int64(n-benchExpired))
				sweepT, foundT = sweepT+took, foundT+found

				b.StopTimer()
				seedExpired(b, bb.Store, fmt.Sprintf("G%d", i))
				b.StartTimer()
				took, scan := seedGC(b, bb.Store, int64(n-benchExpired))
				seedT, scanT = seedT+took, scanT+scan
			}
			ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 / float64(b.N) }
			b.ReportMetric(ms(sweepT), "sweep-ms")
			b.ReportMetric(ms(seedT), "seed-ms")
			b.ReportMetric(ms(seedT)/ms(sweepT), "speedup")
			b.ReportMetric(ms(foundT), "sweep-find-ms")
			b.ReportMetric(ms(scanT), "seed-scan-ms")
			b.ReportMetric(ms(scanT)/ms(foundT), "find-speedup")
			b.ReportMetric(0, "ns/op")
			b.Logf("%d rooms, %d expired: until all are gone: sweep %.0f ms, seed algorithm %.0f ms (%.1fx); "+
				"finding them: sweep result (indexed query, %d delete commands stored and published) %.0f ms, seed's paging %.0f ms (%.1fx)",
				n, benchExpired, ms(sweepT), ms(seedT), ms(seedT)/ms(sweepT), benchExpired, ms(foundT), ms(scanT), ms(scanT)/ms(foundT))
		})
	}
}

// sweepOnce publishes a sweep and waits until expired rooms are gone: their
// deleted events (published once each delete is stored) all came, and the
// store holds left rooms.
func sweepOnce(b *testing.B, bb *bundle, id string, left int64) (took, found time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	seen := map[string]bool{}
	all := make(chan struct{})
	var mu sync.Mutex
	sub, err := bb.NC.Subscribe(events.EventSubject(events.EventDeleted), func(m *nats.Msg) {
		mu.Lock()
		defer mu.Unlock()
		seen[m.Header.Get(nats.MsgIdHdr)] = true
		if len(seen) == benchExpired {
			close(all)
		}
	})
	require.NoError(b, err)
	defer func() { _ = sub.Unsubscribe() }()
	result := make(chan time.Time, 1)
	rsub, err := bb.NC.Subscribe(events.ResultSubject(id), func(*nats.Msg) { result <- time.Now() })
	require.NoError(b, err)
	defer func() { _ = rsub.Unsubscribe() }()
	require.NoError(b, bb.NC.Flush())

	start := time.Now()
	require.NoError(b, bb.Client.Send(ctx, id, events.Sweep{}))
	select {
	case <-all:
	case <-ctx.Done():
		b.Fatalf("sweep %s: %d of %d rooms deleted", id, len(seen), benchExpired)
	}
	took = time.Since(start)
	found = (<-result).Sub(start)
	n, err := bb.Store.CountRooms(ctx)
	require.NoError(b, err)
	require.Equal(b, left, n)
	return took, found
}

// seedGC is the seed's garbage collector: every room, 100 at a time.
func seedGC(b *testing.B, st store.Store, left int64) (took, scan time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	start := time.Now()
	now := time.Now().UnixMilli()
	after := ""
	for {
		t0 := time.Now()
		page, err := st.ListRooms(ctx, after, 100)
		scan += time.Since(t0)
		require.NoError(b, err)
		for _, r := range page {
			if r.AutoDeletionDate != nil && *r.AutoDeletionDate <= now && !r.MarkedForDeletion {
				require.NoError(b, st.DeleteRoom(ctx, r.RoomID))
			}
		}
		if len(page) < 100 {
			break
		}
		after = page[len(page)-1].RoomID
	}
	took = time.Since(start)
	n, err := st.CountRooms(ctx)
	require.NoError(b, err)
	require.Equal(b, left, n)
	return took, scan
}

// seedRooms inserts n rooms that do not expire (half with a future date,
// half without), from many goroutines so the store's group commit batches
// them.
func seedRooms(b *testing.B, st store.Store, n int) {
	future := time.Now().Add(24 * time.Hour).UnixMilli()
	insertMany(b, st, n, func(i int) *store.Room {
		r := storetest.NewRoom(fmt.Sprintf("Room%07d-aaaaaaaaaaaaaaa", i))
		if i%2 == 0 {
			r.AutoDeletionDate = nil
		} else {
			r.AutoDeletionDate = &future
		}
		return r
	})
}

// seedExpired inserts benchExpired rooms expired a minute ago, whose IDs
// (prefixed by tag) spread over the ID order of the others.
func seedExpired(b *testing.B, st store.Store, tag string) {
	past := time.Now().Add(-time.Minute).UnixMilli()
	insertMany(b, st, benchExpired, func(i int) *store.Room {
		r := storetest.NewRoom(fmt.Sprintf("Room%07d%s-aaaaaaaaaaaaaaa", i*97, tag))
		r.AutoDeletionDate = &past
		return r
	})
}

func insertMany(b *testing.B, st store.Store, n int, room func(int) *store.Room) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 1)
	for range 64 {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if err := st.InsertRoom(ctx, room(i)); err != nil {
					select {
					case errs <- err:
					default:
					}
					return
				}
			}
		})
	}
	wg.Wait()
	select {
	case err := <-errs:
		b.Fatal(err)
	default:
	}
}
