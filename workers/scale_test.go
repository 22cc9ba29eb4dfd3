package workers_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/workers"
)

func TestTwoWorkersShareTheLoadEachCommandOnce(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	conn := func() *nats.Conn {
		nc, err := nats.Connect(b.nats.URL)
		require.NoError(t, err)
		t.Cleanup(nc.Close)
		return nc
	}
	w1 := b.start(t, workerOpts{conn: conn()})
	w2 := b.start(t, workerOpts{conn: conn()})
	const n = 1000
	ctx := ctxT(t, 60*time.Second)
	for i := range n {
		require.NoError(t, b.client.Send(ctx, fmt.Sprintf("share-%d", i), events.CreateRoom{RoomName: ptr(fmt.Sprintf("room %d", i))}))
	}
	require.Eventually(t, settled(t, b.js), 90*time.Second, 100*time.Millisecond)
	require.EqualValues(t, n, b.countRooms(t))
	require.Len(t, b.streamMsgs(t, events.StreamResults, "rooms.results.>"), n)
	evs := b.streamMsgs(t, events.StreamEvents, "rooms.events.created")
	require.Len(t, evs, n)
	ids := map[string]bool{}
	for _, m := range evs {
		id := m.Headers().Get(nats.MsgIdHdr)
		require.False(t, ids[id], "event %s twice", id)
		ids[id] = true
	}
	ok1, ok2 := w1.metrics.get("ok"), w2.metrics.get("ok")
	require.Equal(t, n, ok1+ok2)
	require.Positive(t, ok1, "both workers take part")
	require.Positive(t, ok2, "both workers take part")
}

func TestWorkerStoppedAndStartedMidStreamLosesNothing(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	const n = 300
	ctx := ctxT(t, 60*time.Second)
	for i := range n {
		require.NoError(t, b.client.Send(ctx, fmt.Sprintf("mid-%d", i), events.CreateRoom{}))
	}
	w := b.start(t, workerOpts{})
	require.Eventually(t, func() bool { return w.metrics.get("ok") >= 50 }, 30*time.Second, 5*time.Millisecond)
	w.stop(t)
	first := w.metrics.get("ok")
	require.Less(t, first, n, "stopped mid-stream")
	w2 := b.start(t, workerOpts{})
	require.Eventually(t, settled(t, b.js), 60*time.Second, 50*time.Millisecond)
	require.EqualValues(t, n, b.countRooms(t))
	require.Len(t, b.streamMsgs(t, events.StreamResults, "rooms.results.>"), n)
	require.Equal(t, n, first+w2.metrics.get("ok")+w2.metrics.get("duplicate"))
}

// Async acks: every command still applied once, with one result and one
// event, across two workers.
func TestAsyncAckEachCommandOnce(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	b.start(t, workerOpts{ack: workers.AckAsync})
	b.start(t, workerOpts{ack: workers.AckAsync})
	const n = 300
	ctx := ctxT(t, 60*time.Second)
	for i := range n {
		require.NoError(t, b.client.Send(ctx, fmt.Sprintf("async-%d", i), events.CreateRoom{}))
	}
	require.Eventually(t, settled(t, b.js), 60*time.Second, 50*time.Millisecond)
	require.EqualValues(t, n, b.countRooms(t))
	require.Len(t, b.streamMsgs(t, events.StreamResults, "rooms.results.>"), n)
	require.Len(t, b.streamMsgs(t, events.StreamEvents, "rooms.events.created"), n)
}
