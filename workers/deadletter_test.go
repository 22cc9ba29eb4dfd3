package workers_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/handler"
	"github.com/roomkeeper/roomkeeper/internal/workertest"
	"github.com/roomkeeper/roomkeeper/natsapi"
	"github.com/roomkeeper/roomkeeper/store"
	"github.com/roomkeeper/roomkeeper/workers"
)

// startDeadLetters runs a MAX_DELIVERIES listener on its own connection
// until the end of the test.
func (b *bundle) startDeadLetters(t *testing.T, m workers.Metrics) *workers.DeadLetters {
	t.Helper()
	nc, js := b.NATS.Connect(t)
	d, err := workers.NewDeadLetters(workers.DeadLettersConfig{Conn: nc, JetStream: js, Store: b.Store, Log: b.Log, Metrics: m})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() { cancel(); d.Wait() })
	require.NoError(t, d.Start(ctx))
	return d
}

func (b *bundle) streamState(t *testing.T, name string) jetstream.StreamState {
	t.Helper()
	s, err := b.JS.Stream(ctxT(t, 5*time.Second), name)
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
	b := setup(t, workertest.SetupOpts{Topology: func(top *natsapi.Topology) {
		top.AckWait = time.Second
		top.MaxDeliver = 2
	}})
	dlm := &workertest.Counts{}
	b.startDeadLetters(t, dlm)
	b.startDeadLetters(t, dlm) // a second worker process: the queue group picks one
	r := b.Start(t, workertest.WorkerOpts{Fault: func(step, id string) bool { return step == "claimed" && id == "crasher" }})

	start := time.Now()
	b.Send(t, "crasher", events.CreateRoom{RoomName: ptr("never")})
	b.Send(t, "fine", events.CreateRoom{RoomName: ptr("fine")})
	roomOf(t, b.Result(t, "fine"))

	res := b.Result(t, "crasher")
	took := time.Since(start)
	require.False(t, res.OK)
	require.Equal(t, events.CodeUnavailable, res.Error.Code)
	require.Contains(t, res.Error.Message, "2 deliveries")
	t.Logf("dead-lettered %s after sending", took.Round(10*time.Millisecond))

	require.Eventually(t, func() bool { return dlm.DeadLetters.Load() == 1 }, 10*time.Second, 20*time.Millisecond)
	dead := b.StreamMsgs(t, events.StreamDead, "rooms.dead.>")
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
	rec, err := b.Store.GetCommand(ctxT(t, 5*time.Second), "crasher")
	require.NoError(t, err)
	require.Equal(t, store.StatusDead, rec.Status, "given up: recorded dead")
	require.Len(t, b.StreamMsgs(t, events.StreamResults, events.ResultSubject("crasher")), 1)
	require.EqualValues(t, 1, b.CountRooms(t))
	require.Zero(t, r.Metrics.DeadLetters.Load(), "the pipeline never settled it")
}

// A message that fails transiently on every delivery is dead-lettered by
// the pipeline on its last delivery (and termed): the advisory listener
// adds no second dead letter and no second result.
func TestPipelineDeadLetterIsNotDoubledByListener(t *testing.T) {
	t.Parallel()
	b := setup(t, workertest.SetupOpts{Topology: func(top *natsapi.Topology) {
		top.AckWait = time.Second
		top.MaxDeliver = 2
	}})
	dlm := &workertest.Counts{}
	b.startDeadLetters(t, dlm)
	b.Start(t, workertest.WorkerOpts{Reg: failingRegistry(t)})
	b.Send(t, "flaky", events.Sweep{})
	res := b.Result(t, "flaky")
	require.Equal(t, events.CodeUnavailable, res.Error.Code)
	// Give a (wrong) advisory time to arrive.
	time.Sleep(2500 * time.Millisecond)
	require.Len(t, b.StreamMsgs(t, events.StreamDead, "rooms.dead.>"), 1)
	require.NotEqual(t, workers.ReasonMaxDeliveries, b.StreamMsgs(t, events.StreamDead, "rooms.dead.>")[0].Headers().Get(events.HeaderDeadReason))
	require.Zero(t, dlm.DeadLetters.Load())
	require.Zero(t, b.streamState(t, events.StreamCommands).Msgs)
}

// failingRegistry has a sweep handler that always fails transiently.
func failingRegistry(t *testing.T) *handler.Registry {
	t.Helper()
	reg := handler.NewRegistry()
	require.NoError(t, handler.Register(reg, handler.Func[events.Sweep](func(context.Context, *handler.Job[events.Sweep]) (*handler.Outcome, error) {
		return nil, context.DeadlineExceeded
	}), handler.Options[events.Sweep]{}))
	return reg
}

func TestDeadLettersConfig(t *testing.T) {
	t.Parallel()
	_, err := workers.NewDeadLetters(workers.DeadLettersConfig{})
	require.ErrorIs(t, err, workers.ErrConfig)
}
