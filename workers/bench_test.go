package workers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/store"
	"github.com/roomkeeper/roomkeeper/store/sqlite"
)

const (
	benchCreates     = 3000
	benchConcurrency = 32
)

// BenchmarkCreateEndToEnd measures room.create commands per second from
// publish to stored result on the SQLite store, next to the raw ceiling of
// the same store writes done directly at the same concurrency.
//
//	go test -run '^$' -bench CreateEndToEnd -benchtime 1x ./workers
func BenchmarkCreateEndToEnd(b *testing.B) {
	for range b.N {
		e2e := createEndToEnd(b)
		ceiling := createCeiling(b)
		b.ReportMetric(e2e, "e2e-creates/s")
		b.ReportMetric(ceiling, "ceiling-creates/s")
		b.ReportMetric(e2e/ceiling, "ratio")
		b.Logf("room.create end to end: %.0f/s; same store writes directly: %.0f/s; ratio %.2f (n=%d, concurrency %d)",
			e2e, ceiling, e2e/ceiling, benchCreates, benchConcurrency)
	}
}

func createEndToEnd(b *testing.B) float64 {
	bb := setup(b, setupOpts{})
	bb.start(b, workerOpts{conc: benchConcurrency})
	nc, err := nats.Connect(bb.nats.URL)
	require.NoError(b, err)
	defer nc.Close()
	var got atomic.Int64
	done := make(chan struct{})
	sub, err := nc.Subscribe(events.ResultPrefix+">", func(*nats.Msg) {
		if got.Add(1) == benchCreates {
			close(done)
		}
	})
	require.NoError(b, err)
	defer sub.Unsubscribe()
	require.NoError(b, nc.Flush())

	start := time.Now()
	js := bb.js
	for i := range benchCreates {
		msg := nats.NewMsg(events.SubjectCreate)
		msg.Data = []byte(`{"roomName":"bench room"}`)
		msg.Header.Set(nats.MsgIdHdr, fmt.Sprintf("bench-%d", i))
		_, err := js.PublishMsgAsync(msg)
		require.NoError(b, err)
	}
	select {
	case <-done:
	case <-time.After(5 * time.Minute):
		b.Fatalf("only %d of %d results", got.Load(), benchCreates)
	}
	return float64(benchCreates) / time.Since(start).Seconds()
}

// createCeiling does a create's store writes (claim with plan, insert room,
// archive, complete) directly, benchConcurrency at a time.
func createCeiling(b *testing.B) float64 {
	st, err := sqlite.Open(context.Background(), sqlite.Config{Path: filepath.Join(b.TempDir(), "ceiling.db")})
	require.NoError(b, err)
	defer st.Close()
	ctx := context.Background()
	plan := json.RawMessage(`{"suffix":"abcdefghijklmno","moderatorSecret":"X","publisherSecret":"Y","creationDate":1}`)
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range benchConcurrency {
		wg.Go(func() {
			for {
				i := next.Add(1)
				if i > benchCreates {
					return
				}
				id := fmt.Sprintf("ceiling-%d", i)
				_, err := st.ClaimCommand(ctx, &store.Command{ID: id, Type: events.SubjectCreate, Status: store.StatusPending, Plan: plan})
				require.NoError(b, err)
				room := &store.Room{RoomID: fmt.Sprintf("benchroom-%015d", i), RoomName: "bench room", Preferences: store.DefaultPreferences(), Applied: []string{id}}
				require.NoError(b, st.InsertRoom(ctx, room))
				require.NoError(b, st.PutArchivedRoom(ctx, &store.ArchivedRoom{RoomID: room.RoomID, RoomName: room.RoomName, Preferences: room.Preferences}))
				data, _ := json.Marshal(room)
				_, err = st.CompleteCommand(ctx, id, data, []store.OutMsg{{Subject: "rooms.results." + id, MsgID: "result:" + id, Data: data}})
				require.NoError(b, err)
			}
		})
	}
	wg.Wait()
	return float64(benchCreates) / time.Since(start).Seconds()
}
