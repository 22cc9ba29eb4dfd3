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
