package workers_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/store"
	"github.com/roomkeeper/roomkeeper/workers"
)

// startDeadLetters runs a MAX_DELIVERIES listener on its own connection
// until the end of the test.
func (b *bundle) startDeadLetters(t *testing.T, m workers.Metrics) *workers.DeadLetters {
	t.Helper()
	nc, js := b.nats.Connect(t)
	d, err := workers.NewDeadLetters(workers.DeadLettersConfig{Conn: nc, JetStream: js, Store: b.store, Log: b.log, Metrics: m})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() { cancel(); d.Wait() })
	require.NoError(t, d.Start(ctx))
	return d
}

func (b *bundle) streamState(t *testing.T, name string) jetstream.StreamState {
	t.Helper()
	s, err := b.js.Stream(ctxT(t, 5*time.Second), name)
	require.NoError(t, err)
	info, err := s.Info(ctxT(t, 5*time.Second))
	require.NoError(t, err)
	return info.State
}

// A worker that dies on every delivery of one message (neither ack nor nak,
// as a crashed process): after MaxDeliver deliveries JetStream gives up, and
// the listener dead-letters the message, answers the command with
// unavailable and removes it from the work queue. Other commands go on.
func TestMaxDeliveriesAdvisoryDeadLettersUnsettledMessage(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{topology: func(top *events.Topology) {
		top.AckWait = time.Second
		top.MaxDeliver = 2
	}})
	dlm := &counts{}
	b.startDeadLetters(t, dlm)
	b.startDeadLetters(t, dlm) // a second worker process: the queue group picks one
	r := b.start(t, workerOpts{fault: func(step, id string) bool { return step == "claimed" && id == "crasher" }})

	start := time.Now()
	b.send(t, "crasher", events.CreateRoom{RoomName: ptr("never")})
	b.send(t, "fine", events.CreateRoom{RoomName: ptr("fine")})
	roomOf(t, b.result(t, "fine"))

	res := b.result(t, "crasher")
	took := time.Since(start)
	require.False(t, res.OK)
	require.Equal(t, events.CodeUnavailable, res.Error.Code)
	require.Contains(t, res.Error.Message, "2 deliveries")
	t.Logf("dead-lettered %s after sending", took.Round(10*time.Millisecond))

	require.Eventually(t, func() bool { return dlm.dead.Load() == 1 }, 10*time.Second, 20*time.Millisecond)
	dead := b.streamMsgs(t, events.StreamDead, "rooms.dead.>")
	require.Len(t, dead, 1)
	h := dead[0].Headers()
	require.Equal(t, "rooms.dead.create", dead[0].Subject())
	require.Equal(t, workers.ReasonMaxDeliveries, h.Get(events.HeaderDeadReason))
	require.Equal(t, "2", h.Get(events.HeaderDeadDeliveries))
	require.Equal(t, "crasher", h.Get(events.HeaderDeadCommandID))
	require.Equal(t, events.SubjectCreate, h.Get(events.HeaderDeadSubject))
	require.Equal(t, "1", h.Get(events.HeaderDeadStreamSequence))
	require.Equal(t, "dead:crasher", h.Get(nats.MsgIdHdr))
	require.JSONEq(t, `{"roomName":"never"}`, string(dead[0].Data()))

	require.Zero(t, b.streamState(t, events.StreamCommands).Msgs, "the message left the work queue")
	rec, err := b.store.GetCommand(ctxT(t, 5*time.Second), "crasher")
	require.NoError(t, err)
	require.Equal(t, store.StatusDead, rec.Status, "given up: recorded dead")
	require.Len(t, b.streamMsgs(t, events.StreamResults, events.ResultSubject("crasher")), 1)
	require.EqualValues(t, 1, b.countRooms(t))
	require.Zero(t, r.metrics.dead.Load(), "the pipeline never settled it")
}

// A message that fails transiently on every delivery is dead-lettered by
// the pipeline on its last delivery (and termed): the advisory listener
// adds no second dead letter and no second result.
func TestPipelineDeadLetterIsNotDoubledByListener(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{topology: func(top *events.Topology) {
		top.AckWait = time.Second
		top.MaxDeliver = 2
	}})
	dlm := &counts{}
	b.startDeadLetters(t, dlm)
	b.start(t, workerOpts{reg: failingRegistry(t)})
	b.send(t, "flaky", events.Sweep{})
	res := b.result(t, "flaky")
	require.Equal(t, events.CodeUnavailable, res.Error.Code)
	// Give a (wrong) advisory time to arrive.
	time.Sleep(2500 * time.Millisecond)
	require.Len(t, b.streamMsgs(t, events.StreamDead, "rooms.dead.>"), 1)
	require.NotEqual(t, workers.ReasonMaxDeliveries, b.streamMsgs(t, events.StreamDead, "rooms.dead.>")[0].Headers().Get(events.HeaderDeadReason))
	require.Zero(t, dlm.dead.Load())
	require.Zero(t, b.streamState(t, events.StreamCommands).Msgs)
}

// failingRegistry has a sweep handler that always fails transiently.
func failingRegistry(t *testing.T) *workers.Registry {
	t.Helper()
	reg := workers.NewRegistry()
	require.NoError(t, workers.Register(reg, workers.HandlerFunc[events.Sweep](func(context.Context, *workers.Job[events.Sweep]) (*workers.Outcome, error) {
		return nil, context.DeadlineExceeded
	}), workers.Options[events.Sweep]{}))
	return reg
}

func TestDeadLettersConfig(t *testing.T) {
	t.Parallel()
	_, err := workers.NewDeadLetters(workers.DeadLettersConfig{})
	require.ErrorIs(t, err, workers.ErrConfig)
}
