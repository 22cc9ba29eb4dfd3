package workers_test

// Regression tests of the failure paths (issue 12): each failed on the
// pipeline before it had one outcome path.

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/handler"
	"github.com/roomkeeper/roomkeeper/internal/workertest"
	"github.com/roomkeeper/roomkeeper/natsapi"
	"github.com/roomkeeper/roomkeeper/store"
	"github.com/roomkeeper/roomkeeper/store/sqlite"
	"github.com/roomkeeper/roomkeeper/workers"
)

// An invalid command so large that its dead letter (body plus headers) no
// longer fits in a message ends once, in bounded time, with its result and
// a dead letter whose body is cut and says its original size; the worker
// then stops at once. It used to loop on its last delivery forever.
func TestOversizeInvalidCommandEndsOnce(t *testing.T) {
	t.Parallel()
	b := setup(t, workertest.SetupOpts{Topology: func(top *natsapi.Topology) {
		top.AckWait = time.Second
		top.MaxDeliver = 2
	}})
	run := b.Start(t, workertest.WorkerOpts{})
	maxPayload := int(b.NC.MaxPayload())
	body := `{"roomName": 42, "pad": "` + strings.Repeat("a", maxPayload-120-len(`{"roomName": 42, "pad": ""}`)) + `"}`
	b.SendRaw(t, "huge-invalid", events.SubjectCreate, body)

	res := b.Result(t, "huge-invalid")
	require.False(t, res.OK)
	require.Equal(t, events.CodeInvalidArgument, res.Error.Code)
	var dead []jetstream.Msg
	require.Eventually(t, func() bool {
		dead = b.StreamMsgs(t, events.StreamDead, "rooms.dead.>")
		return len(dead) == 1
	}, 10*time.Second, 50*time.Millisecond, "a dead letter that fits")
	h := dead[0].Headers()
	require.Equal(t, strconv.Itoa(len(body)), h.Get(events.HeaderDeadOriginalSize))
	require.Less(t, len(dead[0].Data()), len(body), "body cut")
	require.Equal(t, body[:len(dead[0].Data())], string(dead[0].Data()), "cut, not changed")
	require.NotEmpty(t, h.Get(events.HeaderDeadReason))
	require.Eventually(t, func() bool { return b.streamState(t, events.StreamCommands).Msgs == 0 }, 5*time.Second, 20*time.Millisecond)
	require.Len(t, b.StreamMsgs(t, events.StreamResults, "rooms.results.>"), 1)

	start := time.Now()
	run.Stop(t)
	require.Less(t, time.Since(start), 5*time.Second, "shutdown is not held up")
}

// A handler whose events do not fit in a message gets an error result and
// a dead letter, and none of its room writes happen: an effect is never
// left without its events. It used to loop on its last delivery forever.
func TestOutcomeTooLargeToPublishHasNoEffect(t *testing.T) {
	t.Parallel()
	b := setup(t, workertest.SetupOpts{Topology: func(top *natsapi.Topology) {
		top.AckWait = time.Second
		top.MaxDeliver = 2
	}})
	room := &store.Room{RoomID: "Big-aaaaaaaaaaaaaaa", RoomName: "Big", Preferences: events.DefaultPreferences()}
	reg := handler.NewRegistry()
	require.NoError(t, handler.Register(reg, handler.Func[events.Sweep](func(_ context.Context, job *handler.Job[events.Sweep]) (*handler.Outcome, error) {
		out := &handler.Outcome{Data: map[string]string{"ok": "yes"}, Writes: []store.Write{store.InsertRoom(room)}}
		return out, out.Event(job.ID, events.EventCreated, room.RoomID, job.Now, map[string]string{"pad": strings.Repeat("x", int(b.NC.MaxPayload()))})
	}), handler.Options[events.Sweep]{}))
	b.Start(t, workertest.WorkerOpts{Reg: reg})
	b.Send(t, "big-outcome", events.Sweep{})

	res := b.Result(t, "big-outcome")
	require.False(t, res.OK)
	require.Equal(t, events.CodeInvalidArgument, res.Error.Code)
	require.Contains(t, res.Error.Message, "maximum message size")
	require.Eventually(t, func() bool { return len(b.StreamMsgs(t, events.StreamDead, "rooms.dead.>")) == 1 }, 10*time.Second, 50*time.Millisecond)
	require.Empty(t, b.StreamMsgs(t, events.StreamEvents, "rooms.events.>"))
	require.Zero(t, b.CountRooms(t), "no write without its events")
	require.Eventually(t, func() bool { return b.streamState(t, events.StreamCommands).Msgs == 0 }, 5*time.Second, 20*time.Millisecond)
}

// outageStore is the real store with its ledger made unreachable while
// down is set, as when the database is away.
type outageStore struct {
	store.Store
	down atomic.Bool
}

func (s *outageStore) err(op string) error {
	return fmt.Errorf("%s: %w", op, store.ErrUnavailable)
}

func (s *outageStore) ClaimCommand(ctx context.Context, c *store.Command) (*store.Command, error) {
	if s.down.Load() {
		return nil, s.err("claim")
	}
	return s.Store.ClaimCommand(ctx, c)
}

func (s *outageStore) GetCommand(ctx context.Context, id string) (*store.Command, error) {
	if s.down.Load() {
		return nil, s.err("get command")
	}
	return s.Store.GetCommand(ctx, id)
}

func (s *outageStore) CompleteCommand(ctx context.Context, id string, c store.Completion) (*store.Command, error) {
	if s.down.Load() {
		return nil, s.err("complete")
	}
	return s.Store.CompleteCommand(ctx, id, c)
}

// A command whose store is away through all its deliveries is not given up
// without a result: it is requeued, and once the store is back it gets its
// one result and its one effect. It used to end with a dead letter and no
// result, ever.
func TestStoreAwayOnLastDeliveryStillOneResult(t *testing.T) {
	t.Parallel()
	inner, err := sqlite.Open(context.Background(), sqlite.Config{Path: filepath.Join(t.TempDir(), "roomkeeper.db")})
	require.NoError(t, err)
	t.Cleanup(func() { _ = inner.Close() })
	st := &outageStore{Store: inner}
	st.down.Store(true)
	b := setup(t, workertest.SetupOpts{Store: st, Topology: func(top *natsapi.Topology) {
		top.AckWait = time.Second
		top.MaxDeliver = 2
	}})
	run := b.Start(t, workertest.WorkerOpts{})
	b.Send(t, "during-outage", events.CreateRoom{RoomName: ptr("outage")})
	require.Eventually(t, func() bool { return run.Metrics.Get("requeued") >= 1 }, 20*time.Second, 20*time.Millisecond, "requeued on its last delivery")
	st.down.Store(false)

	res := b.Result(t, "during-outage")
	require.Equal(t, "outage", roomOf(t, res).RoomName)
	require.Eventually(t, func() bool { return b.streamState(t, events.StreamCommands).Msgs == 0 }, 20*time.Second, 50*time.Millisecond)
	require.Len(t, b.StreamMsgs(t, events.StreamResults, "rooms.results.>"), 1)
	require.Len(t, b.StreamMsgs(t, events.StreamEvents, "rooms.events.created"), 1)
	require.Empty(t, b.StreamMsgs(t, events.StreamDead, "rooms.dead.>"))
	require.EqualValues(t, 1, b.CountRooms(t))
}

// A create valid at its first delivery stays valid on a redelivery minutes
// later: time-dependent rules use the first delivery's time. It used to
// end invalid_argument ("autoDeletionDate too soon") on the redelivery.
func TestRedeliveryValidatesAtFirstDeliveryTime(t *testing.T) {
	t.Parallel()
	b := setup(t, workertest.SetupOpts{Topology: func(top *natsapi.Topology) {
		top.AckWait = time.Second
	}})
	var skew atomic.Int64 // added to the clock after the first delivery
	var crashed atomic.Bool
	b.Start(t, workertest.WorkerOpts{
		Clock: func() time.Time { return time.Now().Add(time.Duration(skew.Load())) },
		Fault: func(step, id string) bool {
			if step == "claimed" && id == "soon" && crashed.CompareAndSwap(false, true) {
				skew.Store(int64(10 * time.Minute))
				return true
			}
			return false
		},
	})
	date := time.Now().Add(time.Hour + 2*time.Minute).UnixMilli()
	b.Send(t, "soon", events.CreateRoom{RoomName: ptr("soon"), AutoDeletionDate: &date})
	room := roomOf(t, b.Result(t, "soon"))
	require.Equal(t, date, *room.AutoDeletionDate)
	require.True(t, crashed.Load())
}

// A client's command ID with a prefix roomkeeper keeps for its own commands
// is invalid_argument, and leaves the ID free: roomkeeper's command of that
// ID still applies. A client's "expire-..." used to take the place of the
// sweep's delete.
func TestReservedIDPrefixIsRejectedAndLeftFree(t *testing.T) {
	t.Parallel()
	b := setup(t, workertest.SetupOpts{Topology: func(top *natsapi.Topology) { top.Duplicates = 300 * time.Millisecond }})
	b.Start(t, workertest.WorkerOpts{})
	b.Send(t, "c1", events.CreateRoom{RoomName: ptr("keep")})
	room := roomOf(t, b.Result(t, "c1"))

	for _, id := range []string{"expire-" + room.RoomID, "seq-1", "sweep-1", "lk:EV_1", "reconcile-x"} {
		b.Send(t, id, events.DeleteRooms{RoomIDs: []string{room.RoomID}})
		res := b.Result(t, id)
		require.False(t, res.OK, id)
		require.Equal(t, events.CodeInvalidArgument, res.Error.Code, id)
		require.Contains(t, res.Error.Message, "roomkeeper's own", id)
		require.False(t, b.LedgerHas(t, id), "%s: no ledger record", id)
	}
	require.True(t, b.Exists(t, room.RoomID))

	// The sweep's own delete with that ID applies (once the duplicates
	// window no longer holds the client's message ID).
	time.Sleep(500 * time.Millisecond)
	id := "expire-" + room.RoomID
	body, err := json.Marshal(events.DeleteRooms{RoomIDs: []string{room.RoomID}})
	require.NoError(t, err)
	b.SendSystem(t, id, events.SubjectDelete, string(body))
	require.Eventually(t, func() bool { return !b.Exists(t, room.RoomID) }, 10*time.Second, 20*time.Millisecond)
	// The room is gone from the store before its result is published: the
	// last result of the ID turns from the client's refusal to ok.
	var res *events.Result
	require.Eventually(t, func() bool { res = b.Result(t, id); return res.OK }, 10*time.Second, 20*time.Millisecond, "%+v", res)
}

// Commands without Nats-Msg-Id get IDs that do not repeat when the command
// stream is recreated and its sequences restart. The second used to get
// the first one's result, and no room.
func TestAutomaticIDsSurviveStreamRecreation(t *testing.T) {
	t.Parallel()
	b := setup(t, workertest.SetupOpts{})
	run := b.Start(t, workertest.WorkerOpts{})
	ctx := ctxT(t, 20*time.Second)
	_, err := b.JS.Publish(ctx, events.SubjectCreate, []byte(`{"roomName":"first"}`))
	require.NoError(t, err)
	require.Eventually(t, func() bool { return b.CountRooms(t) == 1 }, 10*time.Second, 20*time.Millisecond)
	run.Stop(t)

	require.NoError(t, b.JS.DeleteStream(ctx, events.StreamCommands))
	require.NoError(t, natsapi.Bootstrap(ctx, b.JS, b.Topology))
	b.Start(t, workertest.WorkerOpts{})
	ack, err := b.JS.Publish(ctx, events.SubjectCreate, []byte(`{"roomName":"second"}`))
	require.NoError(t, err)
	require.EqualValues(t, 1, ack.Sequence, "the sequence restarted")
	require.Eventually(t, func() bool { return b.CountRooms(t) == 2 }, 10*time.Second, 20*time.Millisecond, "both creates applied")
	results := b.StreamMsgs(t, events.StreamResults, "rooms.results.>")
	require.Len(t, results, 2)
	require.NotEqual(t, results[0].Subject(), results[1].Subject())
}

// A command ID already used by a command of another type gets no second
// result (the first command's stays), no effect, and a dead letter that
// names the type the ID belongs to. The delete used to be answered with
// the create's result as if it were its own.
func TestIDReusedForAnotherType(t *testing.T) {
	t.Parallel()
	b := setup(t, workertest.SetupOpts{Topology: func(top *natsapi.Topology) { top.Duplicates = 300 * time.Millisecond }})
	b.Start(t, workertest.WorkerOpts{})
	b.Send(t, "shared-id", events.CreateRoom{RoomName: ptr("owner")})
	room := roomOf(t, b.Result(t, "shared-id"))
	time.Sleep(500 * time.Millisecond) // past the duplicates window: a new message
	b.Send(t, "shared-id", events.DeleteRooms{RoomIDs: []string{room.RoomID}})

	var dead []jetstream.Msg
	require.Eventually(t, func() bool {
		dead = b.StreamMsgs(t, events.StreamDead, "rooms.dead.delete")
		return len(dead) == 1
	}, 10*time.Second, 20*time.Millisecond)
	require.Contains(t, dead[0].Headers().Get(events.HeaderDeadReason), "belongs to a rooms.cmd.create command")
	require.True(t, b.Exists(t, room.RoomID), "no effect")
	res := b.Result(t, "shared-id")
	require.Equal(t, events.SubjectCreate, res.Type, "the ID's result stays the create's")
	require.Len(t, b.StreamMsgs(t, events.StreamResults, "rooms.results.>"), 1)
}

// A command completed but not published before a crash, and redelivered
// after the streams' duplicates window, publishes its events exactly once;
// a repeat of a published command past the window publishes none again.
// The first case used to republish only the result: the created event was
// lost.
func TestFinishedCommandPastDuplicatesWindow(t *testing.T) {
	t.Parallel()
	b := setup(t, workertest.SetupOpts{Topology: func(top *natsapi.Topology) {
		top.Duplicates = 500 * time.Millisecond
		top.AckWait = 2 * time.Second
	}})
	var crashed atomic.Bool
	b.Start(t, workertest.WorkerOpts{Fault: func(step, id string) bool {
		return step == "completed" && id == "unpublished" && crashed.CompareAndSwap(false, true)
	}})
	b.Send(t, "unpublished", events.CreateRoom{RoomName: ptr("late")})
	roomOf(t, b.Result(t, "unpublished"))
	require.True(t, crashed.Load())
	require.Len(t, b.StreamMsgs(t, events.StreamEvents, "rooms.events.created"), 1, "the redelivery, past the window, published the event")

	b.Send(t, "published", events.CreateRoom{RoomName: ptr("once")})
	roomOf(t, b.Result(t, "published"))
	time.Sleep(time.Second) // past the window
	b.Send(t, "published", events.CreateRoom{RoomName: ptr("once")})
	require.Eventually(t, func() bool { return b.streamState(t, events.StreamCommands).Msgs == 0 }, 10*time.Second, 20*time.Millisecond)
	time.Sleep(200 * time.Millisecond)
	require.Len(t, b.StreamMsgs(t, events.StreamEvents, "rooms.events.created"), 2, "one created event per room, not more")
	require.EqualValues(t, 2, b.CountRooms(t))
}

// publishAdvisory publishes a MAX_DELIVERIES advisory, as the server does
// (or as anyone who can publish there could).
func (b *bundle) publishAdvisory(t *testing.T, subjectStream, bodyStream string, seq uint64) {
	t.Helper()
	body := fmt.Sprintf(`{"type":"io.nats.jetstream.advisory.v1.max_deliver","stream":%q,"consumer":"workers","stream_seq":%d,"deliveries":5}`, bodyStream, seq)
	require.NoError(t, b.NC.Publish(workers.MaxDeliveriesSubject(subjectStream, events.ConsumerWorkers), []byte(body)))
	require.NoError(t, b.NC.Flush())
}

// Forged MAX_DELIVERIES advisories change nothing: one naming another
// stream than the one it came for, and one naming a message still in
// progress. The first used to delete a stored result from ROOMS_RESULTS,
// the second to dead-letter a command being handled.
func TestForgedAdvisoriesChangeNothing(t *testing.T) {
	t.Parallel()
	b := setup(t, workertest.SetupOpts{})
	dlm := &workertest.Counts{}
	b.startDeadLetters(t, dlm)
	release := make(chan struct{})
	b.Start(t, workertest.WorkerOpts{Reg: slowSweepRegistry(t, release)})
	b.Send(t, "done-before", events.Sweep{})
	close(release)
	b.Result(t, "done-before")

	b.publishAdvisory(t, events.StreamCommands, events.StreamResults, 1)
	time.Sleep(500 * time.Millisecond)
	require.Len(t, b.StreamMsgs(t, events.StreamResults, "rooms.results.>"), 1, "the stored result stays")
	require.Zero(t, dlm.DeadLetters.Load())
}

// slowSweepRegistry has a sweep handler that waits for release.
func slowSweepRegistry(t *testing.T, release <-chan struct{}) *handler.Registry {
	t.Helper()
	reg := handler.NewRegistry()
	require.NoError(t, handler.Register(reg, handler.Func[events.Sweep](func(ctx context.Context, _ *handler.Job[events.Sweep]) (*handler.Outcome, error) {
		select {
		case <-release:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		return &handler.Outcome{Data: map[string]bool{"done": true}}, nil
	}), handler.Options[events.Sweep]{}))
	return reg
}

// A forged advisory naming a command still being handled does not give it
// up: it ends with its own result. It used to be dead-lettered with an
// unavailable result while its handler ran.
func TestForgedAdvisoryForMessageInProgress(t *testing.T) {
	t.Parallel()
	b := setup(t, workertest.SetupOpts{})
	dlm := &workertest.Counts{}
	b.startDeadLetters(t, dlm)
	release := make(chan struct{})
	b.Start(t, workertest.WorkerOpts{Reg: slowSweepRegistry(t, release)})
	b.Send(t, "in-progress", events.Sweep{})
	require.Eventually(t, func() bool {
		info := commandsInfo(b.JS)
		return info != nil && info.NumAckPending == 1
	}, 10*time.Second, 10*time.Millisecond)
	b.publishAdvisory(t, events.StreamCommands, events.StreamCommands, 1)
	time.Sleep(time.Second)
	close(release)
	res := b.Result(t, "in-progress")
	require.True(t, res.OK, "%+v", res.Error)
	require.Empty(t, b.StreamMsgs(t, events.StreamDead, "rooms.dead.>"))
	require.Zero(t, dlm.DeadLetters.Load())
}

// A worker whose second consumer is missing returns from Run with an error
// and leaves no loop consuming the first stream behind it. It used to keep
// taking commands, unwatched, after Run returned.
func TestRunFailingOnOneConsumerStartsNoLoop(t *testing.T) {
	t.Parallel()
	b := setup(t, workertest.SetupOpts{})
	reg := handler.NewRegistry()
	require.NoError(t, b.Rooms.Register(reg))
	w, err := workers.New(workers.Config{Streams: []string{events.StreamCommands, "NO_SUCH_STREAM"}}, b.JS, b.Store, reg, b.Log, nil)
	require.NoError(t, err)
	require.Error(t, w.Run(ctxT(t, 10*time.Second)))

	b.Send(t, "after-failed-run", events.CreateRoom{})
	time.Sleep(time.Second)
	require.EqualValues(t, 1, b.streamState(t, events.StreamCommands).Msgs, "nobody took it")
	require.Zero(t, b.CountRooms(t))
}

// A message JetStream gave up on while no max-deliveries listener ran (its
// advisory lost) is settled by the listener's scan: its command gets its
// one result and a dead letter, and it leaves the work queue. It used to
// stay in the queue, unanswered, for good.
func TestScanSettlesMessageWhoseAdvisoryWasLost(t *testing.T) {
	t.Parallel()
	b := setup(t, workertest.SetupOpts{Topology: func(top *natsapi.Topology) {
		top.AckWait = 500 * time.Millisecond
		top.MaxDeliver = 2
	}})
	// A worker that dies on every delivery of "crasher" (neither ack nor
	// nak), and no listener.
	run := b.Start(t, workertest.WorkerOpts{Fault: func(step, id string) bool { return step == "claimed" && id == "crasher" }})
	b.Send(t, "crasher", events.CreateRoom{RoomName: ptr("never")})
	require.Eventually(t, func() bool {
		info := commandsInfo(b.JS)
		return info != nil && info.NumAckPending == 0 && info.NumRedelivered == 1 && info.Delivered.Stream == 1
	}, 10*time.Second, 50*time.Millisecond, "delivered twice, then given up")
	run.Stop(t)
	time.Sleep(time.Second)
	require.EqualValues(t, 1, b.streamState(t, events.StreamCommands).Msgs, "left in the queue")

	nc, js := b.NATS.Connect(t)
	d, err := workers.NewDeadLetters(workers.DeadLettersConfig{Conn: nc, JetStream: js, Store: b.Store, Log: b.Log, ScanInterval: -1, ExhaustedAge: 100 * time.Millisecond})
	require.NoError(t, err)
	n, err := d.Scan(ctxT(t, 10*time.Second), events.StreamCommands)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	res := b.Result(t, "crasher")
	require.Equal(t, events.CodeUnavailable, res.Error.Code)
	dead := b.StreamMsgs(t, events.StreamDead, "rooms.dead.>")
	require.Len(t, dead, 1)
	require.Equal(t, workers.ReasonMaxDeliveries, dead[0].Headers().Get(events.HeaderDeadReason))
	require.Zero(t, b.streamState(t, events.StreamCommands).Msgs)
	n, err = d.Scan(ctxT(t, 10*time.Second), events.StreamCommands)
	require.NoError(t, err)
	require.Zero(t, n, "nothing left")
}

// A create whose first delivery could not claim its ledger record (the
// store away) is judged on its redelivery by the time the stream stored
// it, not the redelivery's: a valid create stays valid. The nemesis found
// it answered invalid_argument ("autoDeletionDate too soon") after a store
// lock (seed 14).
func TestRedeliveryAfterFailedClaimValidatesAtStoredTime(t *testing.T) {
	t.Parallel()
	inner, err := sqlite.Open(context.Background(), sqlite.Config{Path: filepath.Join(t.TempDir(), "roomkeeper.db")})
	require.NoError(t, err)
	t.Cleanup(func() { _ = inner.Close() })
	st := &outageStore{Store: inner}
	st.down.Store(true)
	b := setup(t, workertest.SetupOpts{Store: st, Topology: func(top *natsapi.Topology) { top.AckWait = time.Second }})
	var skew atomic.Int64
	run := b.Start(t, workertest.WorkerOpts{Clock: func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }})
	date := time.Now().Add(time.Hour + 2*time.Minute).UnixMilli()
	b.Send(t, "claim-failed", events.CreateRoom{RoomName: ptr("late"), AutoDeletionDate: &date})
	require.Eventually(t, func() bool { return run.Metrics.Get("retry") >= 1 }, 10*time.Second, 10*time.Millisecond, "first delivery failed")
	skew.Store(int64(10 * time.Minute)) // the redelivery comes "10 minutes later"
	st.down.Store(false)
	room := roomOf(t, b.Result(t, "claim-failed"))
	require.Equal(t, date, *room.AutoDeletionDate)
}
