package sqlite_test

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/roomkeeper/roomkeeper/store"
	"github.com/roomkeeper/roomkeeper/store/sqlite"
	"github.com/roomkeeper/roomkeeper/store/storetest"
)

// BenchmarkInsertRoomAndLedger measures the writes of one room.create
// (claim the command, insert the room, complete the command with its result
// and outbox) from 8 goroutines: the raw ceiling of end-to-end room.create
// throughput on this machine. Every iteration creates benchBatch rooms, so
// the figure holds with -benchtime 1x (make bench); it is reported as
// creates/s.
func BenchmarkInsertRoomAndLedger(b *testing.B) {
	const (
		concurrency = 8
		benchBatch  = 2000
	)
	s, err := sqlite.Open(b.Context(), sqlite.Config{Path: filepath.Join(b.TempDir(), sqlite.DefaultFileName)})
	require.NoError(b, err)
	b.Cleanup(func() { _ = s.Close() })

	roomJSON, err := json.Marshal(storetest.NewRoom("Bench-abcdefghijklmno"))
	require.NoError(b, err)
	plan := json.RawMessage(`{"roomId":"Bench-abcdefghijklmno","moderatorSecret":"0123456789abcdef0123456789abcdef","publisherSecret":"0123456789abcdef0123456789abcdef"}`)

	var seq atomic.Int64
	create := func() error {
		n := seq.Add(1)
		id := fmt.Sprintf("create-%d", n)
		roomID := fmt.Sprintf("Bench-%015d", n)
		ctx := b.Context()
		if _, err := s.ClaimCommand(ctx, &store.Command{ID: id, Type: "rooms.cmd.create", Plan: plan}); err != nil {
			return err
		}
		if err := s.InsertRoom(ctx, storetest.NewRoom(roomID)); err != nil {
			return err
		}
		result := json.RawMessage(`{"commandId":"` + id + `","type":"rooms.cmd.create","ok":true,"data":` + string(roomJSON) + `}`)
		_, err := s.CompleteCommand(ctx, id, store.Completion{Status: store.StatusDone, Result: result, Rooms: []string{roomID}, Outbox: []store.OutMsg{
			{Subject: "rooms.results." + id, MsgID: "result:" + id, Data: result},
			{Subject: "rooms.events.created", MsgID: id + ":created:" + roomID, Data: roomJSON},
		}})
		return err
	}

	b.ResetTimer()
	var total atomic.Int64
	for range b.N {
		var (
			wg   sync.WaitGroup
			left atomic.Int64
			fail atomic.Pointer[error]
		)
		left.Store(benchBatch)
		for range concurrency {
			wg.Go(func() {
				for left.Add(-1) >= 0 {
					if err := create(); err != nil {
						fail.CompareAndSwap(nil, &err)
						return
					}
					total.Add(1)
				}
			})
		}
		wg.Wait()
		if err := fail.Load(); err != nil {
			b.Fatal(*err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(total.Load())/b.Elapsed().Seconds(), "creates/s")
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(total.Load()), "µs/create")
}

// BenchmarkRoomHistoryPage reads a page of 10 of one room's history in a
// ledger of 50,000 finished commands about 5,000 rooms (and a bulk delete
// of 1,000 of them): a page costs about a page, not the ledger.
func BenchmarkRoomHistoryPage(b *testing.B) {
	const (
		rooms    = 5000
		commands = 50000
	)
	s, err := sqlite.Open(b.Context(), sqlite.Config{Path: filepath.Join(b.TempDir(), sqlite.DefaultFileName)})
	require.NoError(b, err)
	b.Cleanup(func() { _ = s.Close() })
	ctx := b.Context()
	result := json.RawMessage(`{"ok":true}`)
	var wg sync.WaitGroup
	var next atomic.Int64
	for range 8 {
		wg.Go(func() {
			for n := next.Add(1); n <= commands; n = next.Add(1) {
				id := fmt.Sprintf("c-%d", n)
				room := fmt.Sprintf("Room-%05d", n%rooms)
				_, err := s.ClaimCommand(ctx, &store.Command{ID: id, Type: "rooms.cmd.update_config"})
				if err == nil {
					_, err = s.CompleteCommand(ctx, id, store.Completion{Status: store.StatusDone, Result: result, Rooms: []string{room}})
				}
				if err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	bulk := make([]string, 1000)
	for i := range bulk {
		bulk[i] = fmt.Sprintf("Room-%05d", i)
	}
	_, err = s.ClaimCommand(ctx, &store.Command{ID: "bulk", Type: "rooms.cmd.delete"})
	require.NoError(b, err)
	_, err = s.CompleteCommand(ctx, "bulk", store.Completion{Status: store.StatusDone, Result: result, Rooms: bulk})
	require.NoError(b, err)

	b.ResetTimer()
	i := 0
	for b.Loop() {
		page, err := s.RoomHistory(ctx, store.HistoryQuery{RoomID: fmt.Sprintf("Room-%05d", i%rooms), Limit: 10})
		if err != nil || len(page) < 10 {
			b.Fatalf("page of %d: %v", len(page), err)
		}
		i++
	}
}
