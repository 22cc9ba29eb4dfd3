package workers_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/internal/workertest"
	"github.com/roomkeeper/roomkeeper/workers"
)

func TestTwoWorkersShareTheLoadEachCommandOnce(t *testing.T) {
	t.Parallel()
	b := setup(t, workertest.SetupOpts{})
	conn := func() *nats.Conn {
		nc, err := nats.Connect(b.NATS.URL)
		require.NoError(t, err)
		t.Cleanup(nc.Close)
		return nc
	}
	w1 := b.Start(t, workertest.WorkerOpts{Conn: conn()})
	w2 := b.Start(t, workertest.WorkerOpts{Conn: conn()})
	const n = 1000
	ctx := ctxT(t, 60*time.Second)
	for i := range n {
		require.NoError(t, b.Client.Send(ctx, fmt.Sprintf("share-%d", i), events.CreateRoom{RoomName: ptr(fmt.Sprintf("room %d", i))}))
	}
	require.Eventually(t, workertest.Settled(t, b.JS), 90*time.Second, 100*time.Millisecond)
	require.EqualValues(t, n, b.CountRooms(t))
	require.Len(t, b.StreamMsgs(t, events.StreamResults, "rooms.results.>"), n)
	evs := b.StreamMsgs(t, events.StreamEvents, "rooms.events.created")
	require.Len(t, evs, n)
	ids := map[string]bool{}
	for _, m := range evs {
		id := m.Headers().Get(nats.MsgIdHdr)
		require.False(t, ids[id], "event %s twice", id)
		ids[id] = true
	}
	ok1, ok2 := w1.Metrics.Get("ok"), w2.Metrics.Get("ok")
	require.Equal(t, n, ok1+ok2)
	require.Positive(t, ok1, "both workers take part")
	require.Positive(t, ok2, "both workers take part")
}

func TestWorkerStoppedAndStartedMidStreamLosesNothing(t *testing.T) {
	t.Parallel()
	b := setup(t, workertest.SetupOpts{})
	const n = 300
	ctx := ctxT(t, 60*time.Second)
	for i := range n {
		require.NoError(t, b.Client.Send(ctx, fmt.Sprintf("mid-%d", i), events.CreateRoom{}))
	}
	w := b.Start(t, workertest.WorkerOpts{})
	require.Eventually(t, func() bool { return w.Metrics.Get("ok") >= 50 }, 30*time.Second, 5*time.Millisecond)
	w.Stop(t)
	first := w.Metrics.Get("ok")
	require.Less(t, first, n, "stopped mid-stream")
	w2 := b.Start(t, workertest.WorkerOpts{})
	require.Eventually(t, workertest.Settled(t, b.JS), 60*time.Second, 50*time.Millisecond)
	require.EqualValues(t, n, b.CountRooms(t))
	require.Len(t, b.StreamMsgs(t, events.StreamResults, "rooms.results.>"), n)
	require.Equal(t, n, first+w2.Metrics.Get("ok")+w2.Metrics.Get("duplicate"))
}

// Async acks: every command still applied once, with one result and one
// event, across two workers.
func TestAsyncAckEachCommandOnce(t *testing.T) {
	t.Parallel()
	b := setup(t, workertest.SetupOpts{})
	b.Start(t, workertest.WorkerOpts{Ack: workers.AckAsync})
	b.Start(t, workertest.WorkerOpts{Ack: workers.AckAsync})
	const n = 300
	ctx := ctxT(t, 60*time.Second)
	for i := range n {
		require.NoError(t, b.Client.Send(ctx, fmt.Sprintf("async-%d", i), events.CreateRoom{}))
	}
	require.Eventually(t, workertest.Settled(t, b.JS), 60*time.Second, 50*time.Millisecond)
	require.EqualValues(t, n, b.CountRooms(t))
	require.Len(t, b.StreamMsgs(t, events.StreamResults, "rooms.results.>"), n)
	require.Len(t, b.StreamMsgs(t, events.StreamEvents, "rooms.events.created"), n)
}

// A worker stopped while commands keep coming leaves no message delivered to
// it unsettled: each stop hands the rest over at once, none waits for
// AckWait. (A pull request cut short by an unsubscribe could leave messages
// the server counted as delivered on their way to nobody: CI saw 17 after a
// clean SIGTERM in TestWorkerSIGTERM.)
func TestStoppedWorkerLeavesNothingPending(t *testing.T) {
	t.Parallel()
	b := setup(t, workertest.SetupOpts{})
	const rounds = 6
	ctx := ctxT(t, 2*time.Minute)
	sent := 0
	for r := range rounds {
		stop := make(chan struct{})
		done := make(chan int)
		go func() {
			n := 0
			defer func() { done <- n }()
			for n < 2000 {
				select {
				case <-stop:
					return
				default:
				}
				if b.Client.Send(ctx, fmt.Sprintf("stop-%d-%d", r, n), events.CreateRoom{}) != nil {
					return
				}
				n++
			}
		}()
		w := b.Start(t, workertest.WorkerOpts{Conc: 1})
		require.Eventually(t, func() bool { return w.Metrics.Get("ok") >= 20 }, 30*time.Second, time.Millisecond)
		w.Stop(t)
		close(stop)
		sent += <-done
		info := workertest.CommandsInfo(b.JS)
		require.NotNil(t, info)
		require.Zero(t, info.NumAckPending, "round %d: a stopped worker left a message delivered and unsettled", r)
	}
	w := b.Start(t, workertest.WorkerOpts{})
	require.Eventually(t, workertest.Settled(t, b.JS), 60*time.Second, 50*time.Millisecond)
	require.EqualValues(t, sent, b.CountRooms(t))
	require.Zero(t, w.Metrics.Redeliveries.Load(), "nothing redelivered")
}
