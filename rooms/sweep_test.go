package rooms_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/handler"
	lktest "github.com/roomkeeper/roomkeeper/internal/testenv/livekit"
	"github.com/roomkeeper/roomkeeper/internal/workertest"
	"github.com/roomkeeper/roomkeeper/livekit"
	"github.com/roomkeeper/roomkeeper/natsapi"
	"github.com/roomkeeper/roomkeeper/rooms"
	"github.com/roomkeeper/roomkeeper/store"
	"github.com/roomkeeper/roomkeeper/store/storetest"
)

// insertRoom puts a room straight into the store: date nil means no
// autoDeletionDate; change, when set, adjusts the room first.
func (b *bundle) insertRoom(t *testing.T, id string, date *int64, change func(*store.Room)) *store.Room {
	t.Helper()
	r := storetest.NewRoom(id)
	r.AutoDeletionDate = date
	if change != nil {
		change(r)
	}
	require.NoError(t, b.Store.InsertRoom(ctxT(t, 5*time.Second), r))
	return r
}

// sweep sends a sweep with command ID id, as the scheduler does, and
// returns its result.
func (b *bundle) sweep(t *testing.T, id string) events.SweepResult {
	t.Helper()
	b.SendSystem(t, id, events.SubjectSweep, `{}`)
	res := b.Result(t, id)
	require.True(t, res.OK, "sweep %s: %+v", id, res.Error)
	var sr events.SweepResult
	require.NoError(t, json.Unmarshal(res.Data, &sr))
	return sr
}

// settle waits until every command published so far has been handled.
func (b *bundle) settle(t *testing.T) {
	t.Helper()
	require.Eventually(t, workertest.Settled(t, b.JS), 60*time.Second, 20*time.Millisecond)
}

func past() *int64   { return ptr(time.Now().Add(-time.Minute).UnixMilli()) }
func future() *int64 { return ptr(time.Now().Add(time.Hour).UnixMilli()) }

func TestSweepDeletesExpiredEmptyRoom(t *testing.T) {
	t.Parallel()
	b := setup(t, workertest.SetupOpts{})
	b.Rooms.MinAutoDeletionDelay = 0
	b.Start(t, workertest.WorkerOpts{})

	date := time.Now().Add(time.Second).UnixMilli()
	b.Send(t, "c1", events.CreateRoom{RoomName: ptr("soon"), AutoDeletionDate: &date})
	room := roomOf(t, b.Result(t, "c1"))

	// Before the date: nothing to do.
	require.Equal(t, events.SweepResult{}, b.sweep(t, "sweep-early"))
	require.True(t, b.Exists(t, room.RoomID))

	time.Sleep(time.Until(time.UnixMilli(date)) + 50*time.Millisecond)
	require.Equal(t, events.SweepResult{Expired: 1, DeleteCommands: 1}, b.sweep(t, "sweep-late"))
	del := b.Result(t, rooms.ExpirePrefix+room.RoomID)
	require.True(t, del.OK, "%+v", del.Error)
	var dr events.DeleteResult
	require.NoError(t, json.Unmarshal(del.Data, &dr))
	require.Len(t, dr.Deleted, 1)
	require.Equal(t, events.DeleteSuccessRoomDeleted, dr.Deleted[0].SuccessCode)
	require.False(t, b.Exists(t, room.RoomID))
	evs := b.StreamMsgs(t, events.StreamEvents, "rooms.events.deleted")
	require.Len(t, evs, 1)
	require.Equal(t, events.EventID(rooms.ExpirePrefix+room.RoomID, events.EventDeleted, room.RoomID), evs[0].Headers().Get(nats.MsgIdHdr))
}

func TestSweepLeavesFutureAndUndatedRoomsAlone(t *testing.T) {
	t.Parallel()
	b := setup(t, workertest.SetupOpts{})
	b.Start(t, workertest.WorkerOpts{})
	b.insertRoom(t, "Future-aaaaaaaaaaaaaaa", future(), nil)
	b.insertRoom(t, "Undated-aaaaaaaaaaaaaaa", nil, nil)
	b.insertRoom(t, "Far-aaaaaaaaaaaaaaa", ptr(int64(1<<52)), nil)
	for i := range 3 {
		require.Equal(t, events.SweepResult{}, b.sweep(t, fmt.Sprintf("sweep-%d", i)))
	}
	b.settle(t)
	require.EqualValues(t, 3, b.CountRooms(t))
	require.Empty(t, b.StreamMsgs(t, events.StreamEvents, "rooms.events.>"))
}

// OpenVidu Meet's garbage-collector check: of ten rooms, exactly the two
// that are not expired remain.
func TestSweepMixedTenRoomsLeavesTheRightTwo(t *testing.T) {
	t.Parallel()
	b := setup(t, workertest.SetupOpts{})
	lk := workertest.NewLKRooms()
	b.Rooms.Meetings = lk
	b.Start(t, workertest.WorkerOpts{})

	now := time.Now()
	var gone []string
	for i := range 6 { // expired, empty: deleted through expire-<id>
		id := fmt.Sprintf("Expired%d-aaaaaaaaaaaaaaa", i)
		b.insertRoom(t, id, ptr(now.Add(-time.Duration(i+1)*time.Hour).UnixMilli()), nil)
		gone = append(gone, id)
	}
	// Expired a second ago.
	b.insertRoom(t, "JustExpired-aaaaaaaaaaaaaaa", ptr(now.Add(-time.Second).UnixMilli()), nil)
	gone = append(gone, "JustExpired-aaaaaaaaaaaaaaa")
	// Scheduled for deletion earlier while a meeting ran; its
	// room_finished never came.
	b.insertRoom(t, "Marked-aaaaaaaaaaaaaaa", past(), scheduledDelete)
	gone = append(gone, "Marked-aaaaaaaaaaaaaaa")
	b.insertRoom(t, "Future-aaaaaaaaaaaaaaa", ptr(now.Add(time.Hour).UnixMilli()), nil)
	b.insertRoom(t, "Undated-aaaaaaaaaaaaaaa", nil, nil)

	require.Equal(t, events.SweepResult{Expired: 7, DeleteCommands: 7, Reconciled: 1}, b.sweep(t, "sweep-1"))
	b.settle(t)
	require.EqualValues(t, 2, b.CountRooms(t))
	require.True(t, b.Exists(t, "Future-aaaaaaaaaaaaaaa"))
	require.True(t, b.Exists(t, "Undated-aaaaaaaaaaaaaaa"))
	for _, id := range gone {
		require.False(t, b.Exists(t, id), id)
	}
	require.Len(t, b.StreamMsgs(t, events.StreamEvents, "rooms.events.deleted"), 8)
	// Nothing left: the next sweep finds nothing.
	require.Equal(t, events.SweepResult{}, b.sweep(t, "sweep-2"))
}

// An expired room with a participant in: the sweep's delete, with the
// room's default autoDeletionPolicy (when_meeting_ends, close), schedules
// its deletion; a sweep while the meeting goes on leaves it; once the
// participant left and LiveKit closed the room, the next sweep ends its
// meeting with its end action and so deletes it (its room_finished is not
// delivered here: no webhook receiver).
func TestSweepExpiredRoomInAMeetingIsScheduledThenDeletedAfterItEnds(t *testing.T) {
	t.Parallel()
	srv, lk := startQuickLiveKit(t)
	b := setup(t, workertest.SetupOpts{})
	b.Rooms.Meetings = lk
	b.Start(t, workertest.WorkerOpts{})

	const busy, idle = "Busy-aaaaaaaaaaaaaaa", "Idle-aaaaaaaaaaaaaaa"
	b.insertRoom(t, busy, past(), activeRoom)
	b.insertRoom(t, idle, past(), nil)
	p := lktest.Join(t, srv, busy, "alice")

	require.Equal(t, events.SweepResult{Expired: 2, DeleteCommands: 2}, b.sweep(t, "sweep-1"))
	b.settle(t)
	require.True(t, b.Result(t, rooms.ExpirePrefix+idle).OK) // the sweep's deletes are published after its result
	require.False(t, b.Exists(t, idle), "expired and empty: deleted")
	got, err := b.Store.GetRoom(ctxT(t, 5*time.Second), busy)
	require.NoError(t, err)
	require.Equal(t, events.EndActionDelete, got.MeetingEndAction, "expired with a participant in: scheduled")
	res := b.Result(t, rooms.ExpirePrefix+busy)
	require.Equal(t, 202, res.Status)
	var dr events.DeleteResult
	require.NoError(t, json.Unmarshal(res.Data, &dr))
	require.Equal(t, events.DeleteSuccessRoomWithActiveMeetingScheduledToBeDeleted, dr.Deleted[0].SuccessCode)

	// The meeting goes on: a scheduled room is neither scheduled again nor
	// deleted.
	require.Equal(t, events.SweepResult{}, b.sweep(t, "sweep-2"))
	b.settle(t)
	require.True(t, b.Exists(t, busy))
	require.Len(t, b.StreamMsgs(t, events.StreamEvents, "rooms.events.deletion_scheduled"), 1)

	p.Leave()
	require.Eventually(t, func() bool {
		ok, err := lk.RoomExists(context.Background(), busy)
		return err == nil && !ok
	}, 30*time.Second, 100*time.Millisecond, "LiveKit closes the room after the departure timeout")

	require.Equal(t, events.SweepResult{Reconciled: 1}, b.sweep(t, "sweep-3"))
	b.settle(t)
	require.False(t, b.Exists(t, busy))
	require.Equal(t, []string{events.EventID("sweep-3", events.EventDeleted, busy)}, b.eventIDs(t, "rooms.events.deleted")[1:])
}

// scheduledDelete is a room whose deletion waits for its meeting to end.
func scheduledDelete(r *store.Room) {
	activeRoom(r)
	r.MeetingEndAction = events.EndActionDelete
}

// Reconciliation (upstream's active rooms status GC): a room whose status
// is active_meeting while LiveKit has no such room (a lost room_finished)
// gets its meeting ended with its end action: delete, close or open; rooms
// LiveKit still has, and rooms not in a meeting, are left alone.
func TestSweepReconcilesLostRoomFinished(t *testing.T) {
	t.Parallel()
	b := setup(t, workertest.SetupOpts{})
	lk := workertest.NewLKRooms()
	b.Rooms.Meetings = lk
	b.Start(t, workertest.WorkerOpts{})

	closing := func(r *store.Room) { activeRoom(r); r.MeetingEndAction = events.EndActionClose }
	b.insertRoom(t, "DeleteGone-aaaaaaaaaaaaaaa", future(), scheduledDelete)
	recs := b.putRecordings(t, "DeleteGone-aaaaaaaaaaaaaaa", 1)
	b.insertRoom(t, "DeleteLive-aaaaaaaaaaaaaaa", nil, scheduledDelete)
	lk.Set("DeleteLive-aaaaaaaaaaaaaaa", true, true)
	b.insertRoom(t, "CloseGone-aaaaaaaaaaaaaaa", nil, closing)
	b.insertRoom(t, "ActiveGone-aaaaaaaaaaaaaaa", nil, activeRoom)
	b.insertRoom(t, "ActiveLive-aaaaaaaaaaaaaaa", nil, activeRoom)
	lk.Set("ActiveLive-aaaaaaaaaaaaaaa", true, true)
	b.insertRoom(t, "Plain-aaaaaaaaaaaaaaa", future(), nil) // LiveKit has no room: nothing to do

	require.Equal(t, events.SweepResult{Reconciled: 3}, b.sweep(t, "sweep-r1"))
	b.settle(t)
	require.False(t, b.Exists(t, "DeleteGone-aaaaaaaaaaaaaaa"))
	require.Empty(t, b.recordingsOf(t, "DeleteGone-aaaaaaaaaaaaaaa"))
	require.Equal(t, []string{events.EventID("sweep-r1", events.EventRecordingDeleted, "DeleteGone-aaaaaaaaaaaaaaa:"+recs[0])},
		b.eventIDs(t, "rooms.events.recording_deleted"))
	require.True(t, b.Exists(t, "DeleteLive-aaaaaaaaaaaaaaa"))
	require.True(t, b.Exists(t, "Plain-aaaaaaaaaaaaaaa"))
	got := b.storedRoom(t, "CloseGone-aaaaaaaaaaaaaaa")
	require.Equal(t, events.StatusClosed, got.Status)
	require.Equal(t, events.EndActionNone, got.MeetingEndAction)
	got = b.storedRoom(t, "ActiveGone-aaaaaaaaaaaaaaa")
	require.Equal(t, events.StatusOpen, got.Status)
	got = b.storedRoom(t, "ActiveLive-aaaaaaaaaaaaaaa")
	require.Equal(t, events.StatusActiveMeeting, got.Status)

	ended := b.StreamMsgs(t, events.StreamEvents, "rooms.events.meeting_ended")
	require.Len(t, ended, 3)
	var subjects []string
	for _, m := range ended {
		var ev events.Event
		require.NoError(t, json.Unmarshal(m.Data(), &ev))
		subjects = append(subjects, ev.Subject)
		// The room, as the end left it (as it was, for DeleteGone).
		var room events.Room
		require.NoError(t, json.Unmarshal(ev.Data, &room))
		require.Equal(t, ev.Subject, room.RoomID)
		require.Equal(t, "Room "+ev.Subject, room.RoomName)
		require.Equal(t, events.EventID("sweep-r1", events.EventMeetingEnded, ev.Subject), ev.ID)
	}
	require.ElementsMatch(t, []string{"DeleteGone-aaaaaaaaaaaaaaa", "CloseGone-aaaaaaaaaaaaaaa", "ActiveGone-aaaaaaaaaaaaaaa"}, subjects)

	// The live meeting ends and its room_finished is lost too.
	lk.Set("DeleteLive-aaaaaaaaaaaaaaa", false, false)
	require.Equal(t, events.SweepResult{Reconciled: 1}, b.sweep(t, "sweep-r2"))
	b.settle(t)
	require.False(t, b.Exists(t, "DeleteLive-aaaaaaaaaaaaaaa"))
	require.EqualValues(t, 4, b.CountRooms(t))
	// Nothing is active any more: the next sweep has nothing to do.
	require.Equal(t, events.SweepResult{}, b.sweep(t, "sweep-r3"))
}

// Detached (no LiveKit): RoomExists is always false. Rooms in a meeting
// get it ended (a scheduled deletion happens); no room outside a meeting
// is ever touched for that.
func TestSweepReconcileDetachedEndsOnlyActiveRooms(t *testing.T) {
	t.Parallel()
	b := setup(t, workertest.SetupOpts{})
	b.Rooms.Meetings = rooms.Detached{}
	b.Start(t, workertest.WorkerOpts{})
	for i := range 5 {
		b.insertRoom(t, fmt.Sprintf("Kept%d-aaaaaaaaaaaaaaa", i), future(), nil)
		b.insertRoom(t, fmt.Sprintf("Undated%d-aaaaaaaaaaaaaaa", i), nil, nil)
	}
	b.insertRoom(t, "Marked-aaaaaaaaaaaaaaa", nil, scheduledDelete)
	require.Equal(t, events.SweepResult{Reconciled: 1}, b.sweep(t, "sweep-d1"))
	b.settle(t)
	require.EqualValues(t, 10, b.CountRooms(t))
	require.False(t, b.Exists(t, "Marked-aaaaaaaaaaaaaaa"))
	require.Equal(t, events.SweepResult{}, b.sweep(t, "sweep-d2"))
}

// A sweep publishes at most MaxDeleteCommands deletes, for the rooms that
// expired first; the next sweep takes the rest.
func TestSweepBoundsItsWorkPerSweep(t *testing.T) {
	t.Parallel()
	b := setup(t, workertest.SetupOpts{})
	b.Start(t, workertest.WorkerOpts{Registry: func(reg *handler.Registry) {
		rooms.SetSweepConfig(reg, b.Rooms, rooms.SweepConfig{PageSize: 2, MaxDeleteCommands: 3})
	}})
	// Expired4 expired first, Expired0 last; Expired2 and Expired3 at the
	// same time, so a page boundary falls inside one date.
	at := time.Now().Add(-time.Hour).UnixMilli()
	for i, ago := range []int64{1, 2, 3, 3, 5} {
		b.insertRoom(t, fmt.Sprintf("Expired%d-aaaaaaaaaaaaaaa", i), ptr(at-ago*60_000), nil)
	}
	b.insertRoom(t, "Future-aaaaaaaaaaaaaaa", future(), nil)
	require.Equal(t, events.SweepResult{Expired: 3, DeleteCommands: 3}, b.sweep(t, "sweep-b1"))
	b.settle(t)
	require.EqualValues(t, 3, b.CountRooms(t))
	for i := range 5 { // the three that expired first
		require.Equal(t, i < 2, b.Exists(t, fmt.Sprintf("Expired%d-aaaaaaaaaaaaaaa", i)), "Expired%d", i)
	}
	require.Equal(t, events.SweepResult{Expired: 2, DeleteCommands: 2}, b.sweep(t, "sweep-b2"))
	b.settle(t)
	require.EqualValues(t, 1, b.CountRooms(t))
	require.True(t, b.Exists(t, "Future-aaaaaaaaaaaaaaa"))
}

// Reconciliation past MaxReconcile starts somewhere else in every sweep and
// wraps around, so every active room is reached over a few sweeps.
func TestSweepReconcileBoundWrapsAround(t *testing.T) {
	t.Parallel()
	b := setup(t, workertest.SetupOpts{})
	lk := workertest.NewLKRooms()
	b.Rooms.Meetings = lk
	b.Start(t, workertest.WorkerOpts{Registry: func(reg *handler.Registry) {
		rooms.SetSweepConfig(reg, b.Rooms, rooms.SweepConfig{PageSize: 3, MaxReconcile: 4})
	}})
	const n = 12
	// Names over the whole alphabet (room IDs start with a letter or digit)
	// so scan starts fall between them.
	alphabet := "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	for i := range n {
		c := alphabet[i*len(alphabet)/n]
		b.insertRoom(t, fmt.Sprintf("%cmarked-aaaaaaaaaaaaaaa", c), nil, scheduledDelete)
	}
	total := 0
	for i := 0; b.CountRooms(t) > 0; i++ {
		require.Less(t, i, 60, "marked rooms left after 60 bounded sweeps")
		before := lk.Calls.Load()
		res := b.sweep(t, fmt.Sprintf("sweep-w%d", i))
		require.LessOrEqual(t, lk.Calls.Load()-before, int64(4), "at most MaxReconcile LiveKit checks")
		require.LessOrEqual(t, res.Reconciled, 4)
		total += res.Reconciled
		b.settle(t)
	}
	require.Equal(t, n, total)
}

// A crash after any step of a sweep: the redelivery publishes no second
// delete (the message IDs drop the copies) and no second meeting_ended.
func TestSweepCrashBetweenStepsHasOneEffect(t *testing.T) {
	t.Parallel()
	for _, step := range []string{"claimed", "applied", "completed", "published"} {
		t.Run(step, func(t *testing.T) {
			t.Parallel()
			b := setup(t, workertest.SetupOpts{Topology: func(top *natsapi.Topology) { top.AckWait = time.Second }})
			var crashed atomic.Bool
			w := b.Start(t, workertest.WorkerOpts{Fault: func(s, id string) bool {
				return s == step && id == "sweep-crash" && crashed.CompareAndSwap(false, true)
			}})
			for i := range 3 {
				b.insertRoom(t, fmt.Sprintf("Expired%d-aaaaaaaaaaaaaaa", i), past(), nil)
			}
			b.insertRoom(t, "Active-aaaaaaaaaaaaaaa", nil, activeRoom)
			b.insertRoom(t, "Marked-aaaaaaaaaaaaaaa", nil, scheduledDelete)

			require.Equal(t, events.SweepResult{Expired: 3, DeleteCommands: 3, Reconciled: 2}, b.sweep(t, "sweep-crash"))
			require.Eventually(t, crashed.Load, 10*time.Second, 10*time.Millisecond)
			require.Eventually(t, func() bool {
				info := commandsInfo(b.JS)
				return info != nil && info.NumAckPending == 0 && info.NumPending == 0 && info.NumRedelivered == 0
			}, 30*time.Second, 20*time.Millisecond)
			require.EqualValues(t, 1, b.CountRooms(t))
			got, err := b.Store.GetRoom(ctxT(t, 5*time.Second), "Active-aaaaaaaaaaaaaaa")
			require.NoError(t, err)
			require.Equal(t, events.StatusOpen, got.Status)
			require.Len(t, b.StreamMsgs(t, events.StreamEvents, "rooms.events.meeting_ended"), 2)
			require.Len(t, b.StreamMsgs(t, events.StreamEvents, "rooms.events.deleted"), 4)
			// Each delete ran once: no copy reached a worker. The sweep
			// itself, redelivered after its completion, is a duplicate.
			dup := 0
			if step == "completed" || step == "published" {
				dup = 1
			}
			require.Equal(t, 4-dup, w.Metrics.Get("ok"), "the sweep and its three deletes")
			require.Equal(t, dup, w.Metrics.Get("duplicate"))
			require.Zero(t, w.Metrics.Get("error"))
		})
	}
}

// startQuickLiveKit starts a livekit-server that closes a room a second
// after it empties, and a client of it with the same timeouts.
func startQuickLiveKit(t *testing.T) (*lktest.Server, *livekit.Client) {
	t.Helper()
	srv := lktest.Start(t, lktest.Options{EmptyTimeout: time.Second, DepartureTimeout: time.Second})
	lk, err := livekit.New(livekit.Config{URL: srv.URL, APIKey: srv.APIKey, APISecret: srv.APISecret,
		EmptyTimeout: time.Second, DepartureTimeout: time.Second})
	require.NoError(t, err)
	return srv, lk
}

// Sweeps while creates and deletes flow: no room is deleted that has not
// expired, and none that expired is left after the next sweep.
func TestSweepWhileCreatesAndDeletesFlow(t *testing.T) {
	t.Parallel()
	b := setup(t, workertest.SetupOpts{})
	b.Rooms.MinAutoDeletionDelay = 0
	conn := func() *nats.Conn {
		nc, err := nats.Connect(b.NATS.URL)
		require.NoError(t, err)
		t.Cleanup(nc.Close)
		return nc
	}
	b.Start(t, workertest.WorkerOpts{Conn: conn()})
	b.Start(t, workertest.WorkerOpts{Conn: conn()})

	type created struct {
		id          string
		date        *int64
		userDeleted bool
	}
	var (
		mu    sync.Mutex
		rooms []*created
	)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { // sweeps every 300ms
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(300 * time.Millisecond):
			}
			if err := b.Client.Send(context.Background(), fmt.Sprintf("flow-sweep-%d", i), events.Sweep{}); err != nil {
				t.Error(err)
				return
			}
		}
	})
	ctx := ctxT(t, 2*time.Minute)
	deadline := time.Now().Add(3 * time.Second)
	for i := 0; time.Now().Before(deadline); i++ {
		var date *int64
		switch i % 4 {
		case 0, 1: // expires during the flow
			date = ptr(time.Now().Add(time.Second + time.Duration(i%7)*200*time.Millisecond).UnixMilli())
		case 2:
			date = future()
		}
		res, err := b.Client.Do(ctx, fmt.Sprintf("flow-create-%d", i), events.CreateRoom{AutoDeletionDate: date})
		require.NoError(t, err)
		if !res.OK {
			require.Equal(t, events.CodeInvalidArgument, res.Error.Code, "only a date already past is refused")
			continue
		}
		var r events.Room
		require.NoError(t, json.Unmarshal(res.Data, &r))
		c := &created{id: r.RoomID, date: date}
		if i%5 == 0 {
			c.userDeleted = true
			require.NoError(t, b.Client.Send(ctx, fmt.Sprintf("flow-delete-%d", i), events.DeleteRooms{RoomIDs: []string{r.RoomID}}))
		}
		mu.Lock()
		rooms = append(rooms, c)
		mu.Unlock()
	}
	close(stop)
	wg.Wait()
	b.settle(t)

	// Meanwhile: no room that has not expired was deleted.
	now := time.Now().UnixMilli()
	for _, c := range rooms {
		if !c.userDeleted && (c.date == nil || *c.date > now+100) {
			require.True(t, b.Exists(t, c.id), "room %s deleted before its date", c.id)
		}
	}
	// The next sweep after every short date: none expired is left.
	var last int64
	for _, c := range rooms {
		if c.date != nil && *c.date < now+time.Minute.Milliseconds() {
			last = max(last, *c.date)
		}
	}
	time.Sleep(time.Until(time.UnixMilli(last)) + 50*time.Millisecond)
	b.sweep(t, "flow-final-sweep")
	b.settle(t)
	kept, expired := 0, 0
	for _, c := range rooms {
		switch {
		case c.userDeleted:
			require.False(t, b.Exists(t, c.id))
		case c.date != nil && *c.date <= last:
			expired++
			require.False(t, b.Exists(t, c.id), "expired room %s left behind", c.id)
		default:
			kept++
			require.True(t, b.Exists(t, c.id), "room %s deleted before its date", c.id)
		}
	}
	require.EqualValues(t, kept, b.CountRooms(t))
	require.Positive(t, expired)
	require.Positive(t, kept)
	t.Logf("%d rooms created: %d expired and deleted by sweeps, %d kept", len(rooms), expired, kept)
}

func TestSweepFanoutIDs(t *testing.T) {
	t.Parallel()
	require.Equal(t, "expire-Room-abc", rooms.FanoutID("expire-Room-abc", ""))
	require.Equal(t, "reconcile-Room-abc-sweep-1", rooms.FanoutID("reconcile-Room-abc-", "sweep-1"))
	long := rooms.FanoutID("reconcile-Room-abc-", strings.Repeat("x", 128))
	require.True(t, events.ValidCommandID(long))
	require.True(t, strings.HasPrefix(long, "reconcile-Room-abc-"))
	require.Equal(t, long, rooms.FanoutID("reconcile-Room-abc-", strings.Repeat("x", 128)), "stable")
	require.NotEqual(t, long, rooms.FanoutID("reconcile-Room-abc-", strings.Repeat("y", 128)))
	require.Len(t, rooms.ScanStart("sweep-1"), 2)
	require.Equal(t, rooms.ScanStart("sweep-1"), rooms.ScanStart("sweep-1"))
}

// outage is LiveKit down until up is set: a real client of a loopback port
// nothing listens on, then a deployment without meetings.
type outage struct {
	up   atomic.Bool
	down *livekit.Client
}

func newOutage(t *testing.T) *outage {
	down, err := livekit.New(livekit.Config{URL: "http://127.0.0.1:9", APIKey: workertest.TokenKey, APISecret: workertest.TokenSecret, RequestTimeout: 2 * time.Second})
	require.NoError(t, err)
	return &outage{down: down}
}

func (o *outage) now() rooms.Meetings {
	if o.up.Load() {
		return rooms.Detached{}
	}
	return o.down
}

func (o *outage) HasActiveMeeting(ctx context.Context, id string) (bool, error) {
	return o.now().HasActiveMeeting(ctx, id)
}

func (o *outage) RoomExists(ctx context.Context, id string) (bool, error) {
	return o.now().RoomExists(ctx, id)
}
func (o *outage) MeetingStart(ctx context.Context, id string) (time.Time, string, bool, error) {
	return o.now().MeetingStart(ctx, id)
}
func (o *outage) DeleteRoom(ctx context.Context, id string) error { return o.now().DeleteRoom(ctx, id) }
func (o *outage) SendData(ctx context.Context, id, topic string, p []byte) error {
	return o.now().SendData(ctx, id, topic, p)
}

// published are the message IDs of the deletes command id published (its
// ledger record's outbox).
func (b *bundle) published(t *testing.T, id string) []string {
	t.Helper()
	rec, err := b.Store.GetCommand(ctxT(t, 5*time.Second), id)
	require.NoError(t, err)
	var ids []string
	for _, m := range rec.Outbox {
		if m.Subject == events.SubjectDelete {
			ids = append(ids, m.MsgID)
		}
	}
	return ids
}

// An expiry delete of a room in a meeting that fails because LiveKit
// cannot be asked whether the meeting still runs: the room stays, its
// deletion scheduled (meetingEndAction delete), and no later expiry
// delete is needed: once LiveKit answers again, the sweep's status GC
// finds the meeting gone and applies the end action.
func TestSweepExpiryDeleteFailingOnLiveKitIsFinishedByTheStatusGC(t *testing.T) {
	t.Parallel()
	b := setup(t, workertest.SetupOpts{})
	lk := newOutage(t)
	b.Rooms.Meetings = lk
	b.Start(t, workertest.WorkerOpts{})
	const room = "Expired-aaaaaaaaaaaaaaa"
	b.insertRoom(t, room, past(), activeRoom)

	require.Equal(t, events.SweepResult{Expired: 1, DeleteCommands: 1}, b.sweep(t, "sweep-down"))
	require.Equal(t, []string{"expire-" + room}, b.published(t, "sweep-down"))
	first := b.Result(t, "expire-"+room)
	require.False(t, first.OK)
	require.Equal(t, events.CodeUnavailable, first.Error.Code)
	b.settle(t)
	require.True(t, b.Exists(t, room))
	require.Equal(t, events.EndActionDelete, b.storedRoom(t, room).MeetingEndAction)

	lk.up.Store(true)
	require.Equal(t, events.SweepResult{Reconciled: 1}, b.sweep(t, "sweep-up"))
	b.settle(t)
	require.False(t, b.Exists(t, room))
	require.Equal(t, []string{events.EventID("sweep-up", events.EventDeleted, room)},
		b.eventIDs(t, events.EventSubject(events.EventDeleted)))
	require.Equal(t, events.SweepResult{}, b.sweep(t, "sweep-after"))
}

// A room whose expiry delete is still being worked on when the next sweep
// runs gets the same command again (dropped by JetStream), not a second
// one.
func TestSweepDoesNotRepeatAnExpiryDeleteInProgress(t *testing.T) {
	t.Parallel()
	b := setup(t, workertest.SetupOpts{})
	const room = "Expired-aaaaaaaaaaaaaaa"
	held, release := make(chan struct{}), make(chan struct{})
	var once atomic.Bool
	b.Start(t, workertest.WorkerOpts{Fault: func(s, id string) bool {
		if s == "claimed" && id == "expire-"+room && once.CompareAndSwap(false, true) {
			close(held)
			select {
			case <-release:
			case <-time.After(60 * time.Second):
			}
		}
		return false
	}})
	b.insertRoom(t, room, past(), nil)
	b.sweep(t, "sweep-1")
	select {
	case <-held:
	case <-time.After(30 * time.Second):
		t.Fatal("the expiry delete was not claimed")
	}
	require.Equal(t, events.SweepResult{Expired: 1, DeleteCommands: 1}, b.sweep(t, "sweep-2"))
	require.Equal(t, []string{"expire-" + room}, b.published(t, "sweep-2"), "the pending attempt, not a new one")
	close(release)
	require.True(t, b.Result(t, "expire-"+room).OK)
	b.settle(t)
	require.False(t, b.Exists(t, room))
	// The two sweeps' and the one delete's.
	require.Len(t, b.StreamMsgs(t, events.StreamResults, "rooms.results.>"), 3)
	require.Len(t, b.eventIDs(t, events.EventSubject(events.EventDeleted)), 1)
}

// failAttempts records n expiry deletes of room as done with an
// "unavailable" result, as n attempts through a LiveKit outage leave them.
func (b *bundle) failAttempts(t *testing.T, room string, n int) {
	t.Helper()
	ctx := ctxT(t, 10*time.Second)
	for i := range n {
		id := rooms.ExpireID(room, i)
		_, err := b.Store.ClaimCommand(ctx, &store.Command{ID: id, Type: events.SubjectDelete, Status: store.StatusPending})
		require.NoError(t, err)
		res, err := json.Marshal(events.Result{CommandID: id, Type: events.SubjectDelete, Error: events.Errorf(events.CodeUnavailable, "gave up")})
		require.NoError(t, err)
		_, err = b.Store.CompleteCommand(ctx, id, store.Completion{Status: store.StatusDone, Result: res})
		require.NoError(t, err)
	}
}

// After any number of failed attempts, a sweep publishes the next one:
// attempts are found in the ledger by doubling and bisecting. An attempt
// still pending is published again rather than followed by another.
func TestSweepExpiryAttemptFollowsTheLedger(t *testing.T) {
	t.Parallel()
	b := setup(t, workertest.SetupOpts{})
	want := map[string]string{}
	var expiring []string
	for _, n := range []int{0, 1, 2, 3, 4, 5, 7, 8, 13} {
		room := fmt.Sprintf("Failed%02d-aaaaaaaaaaaaaaa", n)
		b.insertRoom(t, room, past(), nil)
		b.failAttempts(t, room, n)
		want[room] = rooms.ExpireID(room, n)
		expiring = append(expiring, room)
	}
	const pending = "Pending-aaaaaaaaaaaaaaa"
	b.insertRoom(t, pending, past(), nil)
	b.failAttempts(t, pending, 2)
	_, err := b.Store.ClaimCommand(ctxT(t, 5*time.Second), &store.Command{ID: rooms.ExpireID(pending, 2), Type: events.SubjectDelete, Status: store.StatusPending})
	require.NoError(t, err)
	want[pending] = rooms.ExpireID(pending, 2)
	expiring = append(expiring, pending)

	b.Start(t, workertest.WorkerOpts{})
	require.Equal(t, events.SweepResult{Expired: len(expiring), DeleteCommands: len(expiring)}, b.sweep(t, "sweep-ledger"))
	var ids []string
	for _, r := range expiring {
		ids = append(ids, want[r])
	}
	require.ElementsMatch(t, ids, b.published(t, "sweep-ledger"))
	b.settle(t)
	for _, r := range expiring {
		require.False(t, b.Exists(t, r), r)
		require.True(t, b.Result(t, want[r]).OK, r)
	}
	require.Equal(t, "expire-Failed13-aaaaaaaaaaaaaaa:13", want["Failed13-aaaaaaaaaaaaaaa"])
}

func TestSweepExpireIDs(t *testing.T) {
	t.Parallel()
	require.Equal(t, "expire-Room-abc", rooms.ExpireID("Room-abc", 0))
	require.Equal(t, "expire-Room-abc:1", rooms.ExpireID("Room-abc", 1))
	require.NotEqual(t, rooms.ExpireID("Room-abc", 1), rooms.ExpireID("Room-abc-1", 0))
	long := strings.Repeat("r", 125)
	seen := map[string]bool{}
	for n := range 3 {
		id := rooms.ExpireID(long, n)
		require.True(t, events.ValidCommandID(id), id)
		require.True(t, strings.HasPrefix(id, "expire-rrr"), id)
		require.False(t, seen[id], "attempts of one room have distinct IDs")
		seen[id] = true
	}
}

// A room closed by a user (PUT status closed) is still deleted when its
// autoDeletionDate passes; a room the expiry itself closed (it has
// recordings, policy close) is not sent its expiry again. Found by the
// nemesis once its HTTP load closed rooms.
func TestSweepDeletesAnExpiredClosedRoom(t *testing.T) {
	t.Parallel()
	b := setup(t, workertest.SetupOpts{})
	b.Start(t, workertest.WorkerOpts{})
	b.insertRoom(t, "Closed-aaaaaaaaaaaaaaa", past(), func(r *store.Room) { r.Status = events.StatusClosed })
	kept := b.insertRoom(t, "Kept-aaaaaaaaaaaaaaa", past(), nil)
	b.putRecordings(t, kept.RoomID, 1)

	require.Equal(t, events.SweepResult{Expired: 2, DeleteCommands: 2}, b.sweep(t, "sweep-1"))
	b.settle(t)
	require.False(t, b.Exists(t, "Closed-aaaaaaaaaaaaaaa"), "an expired closed room is deleted")
	got, err := b.Store.GetRoom(ctxT(t, 5*time.Second), kept.RoomID)
	require.NoError(t, err)
	require.Equal(t, events.StatusClosed, got.Status, "a room with recordings is closed by its expiry")

	require.Equal(t, events.SweepResult{}, b.sweep(t, "sweep-2"), "the expiry that closed it is not sent again")
}
