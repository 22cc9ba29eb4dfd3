package workers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/store"
	"github.com/roomkeeper/roomkeeper/workers"
)

func TestCreateEndToEnd(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	b.start(t, workerOpts{})

	date := time.Now().Add(2 * time.Hour).UnixMilli()
	b.send(t, "create-1", events.CreateRoom{RoomName: ptr("   .,-------}{¡$#<+My Room *123  "), AutoDeletionDate: &date})
	res := b.result(t, "create-1")
	require.Equal(t, "create-1", res.CommandID)
	require.Equal(t, events.SubjectCreate, res.Type)
	room := roomOf(t, res)
	require.Equal(t, "My Room 123", room.RoomName)
	require.Regexp(t, `^MyRoom123-[a-z0-9]{15}$`, room.RoomID)
	require.Equal(t, date, *room.AutoDeletionDate)
	require.Equal(t, events.DefaultPreferences(), room.Preferences)
	require.Contains(t, room.ModeratorRoomURL, "http://localhost:8080/room/"+room.RoomID+"?secret=")
	require.Contains(t, room.PublisherRoomURL, "/room/"+room.RoomID+"?secret=")
	require.NotEqual(t, room.ModeratorRoomURL, room.PublisherRoomURL)

	stored, err := b.store.GetRoom(ctxT(t, 5*time.Second), room.RoomID)
	require.NoError(t, err)
	require.Equal(t, room.RoomName, stored.RoomName)
	require.Equal(t, room.ModeratorRoomURL, stored.ModeratorRoomURL)
	require.GreaterOrEqual(t, len(stored.ModeratorSecret), 26, "secrets carry at least 128 bits")

	evs := b.streamMsgs(t, events.StreamEvents, "rooms.events.created")
	require.Len(t, evs, 1)
	var ev events.Event
	require.NoError(t, json.Unmarshal(evs[0].Data(), &ev))
	require.Equal(t, "1.0", ev.SpecVersion)
	require.Equal(t, room.RoomID, ev.Subject)
	require.Equal(t, events.EventID("create-1", events.EventCreated, room.RoomID), ev.ID)
	require.Equal(t, ev.ID, evs[0].Headers().Get(nats.MsgIdHdr))
}

func TestCreateDefaultsAndRoomIDsAreUnpredictable(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	b.start(t, workerOpts{})
	b.send(t, "d1", events.CreateRoom{})
	b.send(t, "d2", events.CreateRoom{})
	r1, r2 := roomOf(t, b.result(t, "d1")), roomOf(t, b.result(t, "d2"))
	require.Equal(t, "Room", r1.RoomName)
	require.Nil(t, r1.AutoDeletionDate)
	require.NotEqual(t, r1.RoomID, r2.RoomID)
	require.True(t, strings.HasPrefix(r1.RoomID, "Room-"))
}

func TestSameMsgIDTwiceGivesOneRoomAndOneResult(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	b.start(t, workerOpts{})
	b.send(t, "twice", events.CreateRoom{RoomName: ptr("a")})
	b.send(t, "twice", events.CreateRoom{RoomName: ptr("a")})
	first := roomOf(t, b.result(t, "twice"))
	// Let any second copy be processed before counting.
	b.send(t, "after", events.CreateRoom{})
	b.result(t, "after")
	require.EqualValues(t, 2, b.countRooms(t))
	require.Len(t, b.streamMsgs(t, events.StreamResults, events.ResultSubject("twice")), 1)
	require.Len(t, b.streamMsgs(t, events.StreamEvents, "rooms.events.created"), 2)
	_, err := b.store.GetRoom(ctxT(t, 5*time.Second), first.RoomID)
	require.NoError(t, err)
}

func TestRepeatAfterDuplicatesWindowAnswersFromLedger(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{topology: func(top *events.Topology) { top.Duplicates = 500 * time.Millisecond }})
	b.start(t, workerOpts{})
	b.send(t, "late", events.CreateRoom{RoomName: ptr("late")})
	first := b.result(t, "late")
	time.Sleep(1200 * time.Millisecond) // past the duplicates window: JetStream takes the copy
	b.send(t, "late", events.CreateRoom{RoomName: ptr("late")})
	require.Eventually(t, func() bool {
		info := commandsInfo(b.js)
		return info != nil && info.Delivered.Stream == 2 && info.NumAckPending == 0 && info.NumPending == 0
	}, 20*time.Second, 50*time.Millisecond)
	second := b.result(t, "late")
	require.JSONEq(t, string(first.Data), string(second.Data), "the ledger returns the first result")
	require.EqualValues(t, 1, b.countRooms(t))
	require.Len(t, b.streamMsgs(t, events.StreamEvents, "rooms.events.created"), 1, "no second event")
}

// A crash after any step of the pipeline: the redelivery converges on the
// same room, one result, one event.
func TestCrashBetweenStepsHasOneEffect(t *testing.T) {
	t.Parallel()
	for _, step := range []string{"claimed", "applied", "completed", "published"} {
		t.Run(step, func(t *testing.T) {
			t.Parallel()
			b := setup(t, setupOpts{topology: func(top *events.Topology) { top.AckWait = time.Second }})
			var crashed atomic.Bool
			b.start(t, workerOpts{fault: func(s, id string) bool {
				return s == step && id == "crash" && crashed.CompareAndSwap(false, true)
			}})
			b.send(t, "crash", events.CreateRoom{RoomName: ptr("crash " + step)})
			room := roomOf(t, b.result(t, "crash"))
			require.Eventually(t, crashed.Load, 10*time.Second, 10*time.Millisecond)
			// Wait for the redelivery to be settled, then count.
			require.Eventually(t, func() bool {
				info := commandsInfo(b.js)
				return info != nil && info.NumAckPending == 0 && info.NumPending == 0 && info.NumRedelivered == 0 && info.Delivered.Consumer >= 2
			}, 20*time.Second, 50*time.Millisecond)
			require.EqualValues(t, 1, b.countRooms(t))
			_, err := b.store.GetRoom(ctxT(t, 5*time.Second), room.RoomID)
			require.NoError(t, err)
			require.Len(t, b.streamMsgs(t, events.StreamEvents, "rooms.events.created"), 1)
			require.Len(t, b.streamMsgs(t, events.StreamResults, "rooms.results.>"), 1)
			require.Empty(t, b.streamMsgs(t, events.StreamDead, "rooms.dead.>"))
		})
	}
}

func TestInvalidCommandsAreRejectedOnceAndDeadLettered(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	run := b.start(t, workerOpts{})
	tenMinutes := time.Now().Add(10 * time.Minute).UnixMilli()
	cases := []struct {
		id, subject, body, field string
	}{
		{"bad-json", events.SubjectCreate, `{"roomName": "x"`, ""},
		{"name-number", events.SubjectCreate, `{"roomName": 42}`, "roomName"},
		{"name-bool", events.SubjectCreate, `{"roomName": true}`, "roomName"},
		{"name-51", events.SubjectCreate, fmt.Sprintf(`{"roomName": %q}`, strings.Repeat("a", 51)), "roomName"},
		{"date-10min", events.SubjectCreate, fmt.Sprintf(`{"autoDeletionDate": %d}`, tenMinutes), "autoDeletionDate"},
		{"date-string", events.SubjectCreate, `{"autoDeletionDate": "tomorrow"}`, "autoDeletionDate"},
		{"date-negative", events.SubjectCreate, `{"autoDeletionDate": -5}`, "autoDeletionDate"},
		{"rec-no-access", events.SubjectCreate, `{"preferences": {"chatPreferences": {"enabled": true}, "recordingPreferences": {"enabled": true}, "virtualBackgroundPreferences": {"enabled": true}}}`, "allowAccessTo"},
		{"delete-empty", events.SubjectDelete, `{"roomIds": []}`, "roomIds"},
		{"delete-junk-ids", events.SubjectDelete, `{"roomIds": ["$$$", "   "]}`, "roomIds"},
		{"unknown-type", "rooms.cmd.explode", `{}`, "subject"},
	}
	b.send(t, "good-before", events.CreateRoom{})
	for _, c := range cases {
		b.sendRaw(t, c.id, c.subject, c.body)
	}
	b.sendRaw(t, "bad id!", events.SubjectCreate, `{}`)
	b.send(t, "good-after", events.CreateRoom{})

	for _, c := range cases {
		res := b.result(t, c.id)
		require.False(t, res.OK, c.id)
		require.Equal(t, events.CodeInvalidArgument, res.Error.Code, c.id)
		if c.field != "" {
			require.NotEmpty(t, res.Error.Details, c.id)
			require.Contains(t, res.Error.Details[0].Field, c.field, c.id)
		}
	}
	roomOf(t, b.result(t, "good-before"))
	roomOf(t, b.result(t, "good-after"))

	dead := b.streamMsgs(t, events.StreamDead, "rooms.dead.>")
	require.Len(t, dead, len(cases)+1, "one dead letter per bad command")
	for _, m := range dead {
		require.NotEmpty(t, m.Headers().Get(events.HeaderDeadReason))
		require.Equal(t, "1", m.Headers().Get(events.HeaderDeadDeliveries), "rejected at once, never redelivered")
	}
	// The command with a malformed ID got the ID seq-<stream sequence>-<time>.
	var badID string
	for _, m := range dead {
		if id := m.Headers().Get(events.HeaderDeadCommandID); strings.HasPrefix(id, "seq-") {
			badID = id
		}
	}
	require.NotEmpty(t, badID)
	require.Equal(t, events.CodeInvalidArgument, b.result(t, badID).Error.Code)

	c, err := b.js.Consumer(ctxT(t, 5*time.Second), events.StreamCommands, events.ConsumerWorkers)
	require.NoError(t, err)
	info, err := c.Info(ctxT(t, 5*time.Second))
	require.NoError(t, err)
	require.Zero(t, info.NumRedelivered)
	require.Zero(t, run.metrics.redeliv.Load())
	require.EqualValues(t, 2, b.countRooms(t))
}

func TestCommandWithoutIDGetsSequenceID(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	b.start(t, workerOpts{})
	ack, err := b.js.Publish(ctxT(t, 5*time.Second), events.SubjectCreate, []byte(`{"roomName":"no id"}`))
	require.NoError(t, err)
	var results []jetstream.Msg
	require.Eventually(t, func() bool {
		results = b.streamMsgs(t, events.StreamResults, "rooms.results.>")
		return len(results) == 1
	}, 10*time.Second, 20*time.Millisecond)
	id := strings.TrimPrefix(results[0].Subject(), events.ResultPrefix)
	require.True(t, strings.HasPrefix(id, fmt.Sprintf("seq-%d-", ack.Sequence)), id)
	require.Equal(t, "no id", roomOf(t, b.result(t, id)).RoomName)
}

func TestDeleteRooms(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	b.start(t, workerOpts{})
	b.send(t, "c1", events.CreateRoom{RoomName: ptr("one")})
	b.send(t, "c2", events.CreateRoom{RoomName: ptr("two")})
	r1, r2 := roomOf(t, b.result(t, "c1")), roomOf(t, b.result(t, "c2"))

	b.send(t, "del", events.DeleteRooms{RoomIDs: []string{r1.RoomID, r2.RoomID, r1.RoomID, "missing-room"}})
	res := b.result(t, "del")
	require.True(t, res.OK, "%+v", res.Error)
	var dr events.DeleteResult
	require.NoError(t, json.Unmarshal(res.Data, &dr))
	require.ElementsMatch(t, []string{r1.RoomID, r2.RoomID}, dr.Deleted)
	require.Empty(t, dr.MarkedForDeletion)
	require.EqualValues(t, 0, b.countRooms(t))
	require.Len(t, b.streamMsgs(t, events.StreamEvents, "rooms.events.deleted"), 2)

	// The archived metadata stays for the recordings.
	_, err := b.store.GetArchivedRoom(ctxT(t, 5*time.Second), r1.RoomID)
	require.NoError(t, err)

	// Unknown rooms: an ordinary error result, no dead letter.
	b.send(t, "del-unknown", events.DeleteRooms{RoomIDs: []string{"nope"}})
	res = b.result(t, "del-unknown")
	require.False(t, res.OK)
	require.Equal(t, events.CodeNotFound, res.Error.Code)
	require.Empty(t, b.streamMsgs(t, events.StreamDead, "rooms.dead.>"))
}

// meetings reports a live meeting in the rooms it holds.
// gone lists rooms whose meeting ends right after the check (LiveKit no
// longer has them).
type meetings struct{ active, gone map[string]bool }

func (m meetings) HasActiveMeeting(_ context.Context, id string) (bool, error) {
	return m.active[id], nil
}
func (m meetings) RoomExists(_ context.Context, id string) (bool, error) {
	return m.active[id] && !m.gone[id], nil
}
func (m meetings) DeleteRoom(context.Context, string) error               { return nil }
func (m meetings) SendData(context.Context, string, string, []byte) error { return nil }

func TestGracefulDeleteMarksRoomsInAMeeting(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	live := map[string]bool{}
	b.rooms.Meetings = meetings{active: live}
	b.send(t, "c1", events.CreateRoom{RoomName: ptr("busy")})
	b.send(t, "c2", events.CreateRoom{RoomName: ptr("idle")})
	w := b.start(t, workerOpts{})
	busy, idle := roomOf(t, b.result(t, "c1")), roomOf(t, b.result(t, "c2"))
	w.stop(t)
	live[busy.RoomID] = true
	b.start(t, workerOpts{})

	b.send(t, "del", events.DeleteRooms{RoomIDs: []string{busy.RoomID, idle.RoomID}})
	res := b.result(t, "del")
	var dr events.DeleteResult
	require.NoError(t, json.Unmarshal(res.Data, &dr))
	require.Equal(t, []string{idle.RoomID}, dr.Deleted)
	require.Equal(t, []string{busy.RoomID}, dr.MarkedForDeletion)
	got, err := b.store.GetRoom(ctxT(t, 5*time.Second), busy.RoomID)
	require.NoError(t, err)
	require.True(t, got.MarkedForDeletion)
	require.Len(t, b.streamMsgs(t, events.StreamEvents, "rooms.events.marked_for_deletion"), 1)
}

// The meeting ends between the delete's check and its mark (room_finished
// found the room unmarked): the delete must not leave it marked forever.
func TestMeetingEndingBetweenCheckAndMarkDoesNotStrandTheRoom(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	live, gone := map[string]bool{}, map[string]bool{}
	b.rooms.Meetings = meetings{active: live, gone: gone}
	w := b.start(t, workerOpts{})
	b.send(t, "c1", events.CreateRoom{RoomName: ptr("ending")})
	room := roomOf(t, b.result(t, "c1"))
	w.stop(t)
	live[room.RoomID], gone[room.RoomID] = true, true
	b.start(t, workerOpts{})
	b.send(t, "del", events.DeleteRooms{RoomIDs: []string{room.RoomID}})
	res := b.result(t, "del")
	require.True(t, res.OK, "%+v", res.Error)
	_, err := b.store.GetRoom(ctxT(t, 5*time.Second), room.RoomID)
	require.ErrorIs(t, err, store.ErrNotFound, "not stranded as marked")
	require.Len(t, b.streamMsgs(t, events.StreamEvents, "rooms.events.deleted"), 1)
}

func TestPanicIsRecoveredAndDeadLetteredOnLastDelivery(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{topology: func(top *events.Topology) { top.MaxDeliver = 3 }})
	var calls atomic.Int64
	b.start(t, workerOpts{registry: func(reg *workers.Registry) {
		workers.Unregister(reg, events.SubjectSweep) // replaced by the panicking one
		require.NoError(t, workers.Register(reg, workers.HandlerFunc[events.Sweep](func(context.Context, *workers.Job[events.Sweep]) (*workers.Outcome, error) {
			calls.Add(1)
			panic("boom")
		}), workers.Options[events.Sweep]{}))
	}})
	b.send(t, "panics", events.Sweep{})
	b.send(t, "fine", events.CreateRoom{})
	roomOf(t, b.result(t, "fine"))
	res := b.result(t, "panics")
	require.False(t, res.OK)
	require.Equal(t, events.CodeInternal, res.Error.Code)
	require.EqualValues(t, 3, calls.Load())
	dead := b.streamMsgs(t, events.StreamDead, "rooms.dead.sweep")
	require.Len(t, dead, 1)
	require.Equal(t, "3", dead[0].Headers().Get(events.HeaderDeadDeliveries))
	require.Contains(t, dead[0].Headers().Get(events.HeaderDeadReason), "boom")
}

// The consumer's messages are all settled: nothing pending or unacked.
func settled(t *testing.T, js jetstream.JetStream) func() bool {
	return func() bool {
		info := commandsInfo(js)
		return info != nil && info.NumAckPending == 0 && info.NumPending == 0
	}
}

// A handler that runs longer than AckWait keeps its message (the worker
// sends in-progress heartbeats): it runs once, and is not redelivered.
func TestLongHandlerIsNotRedelivered(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{topology: func(top *events.Topology) { top.AckWait = time.Second }})
	var calls atomic.Int64
	run := b.start(t, workerOpts{registry: func(reg *workers.Registry) {
		workers.Unregister(reg, events.SubjectSweep)
		require.NoError(t, workers.Register(reg, workers.HandlerFunc[events.Sweep](func(ctx context.Context, _ *workers.Job[events.Sweep]) (*workers.Outcome, error) {
			calls.Add(1)
			time.Sleep(2500 * time.Millisecond)
			return &workers.Outcome{Data: events.SweepResult{}}, nil
		}), workers.Options[events.Sweep]{}))
	}})
	b.send(t, "slow", events.Sweep{})
	res := b.result(t, "slow")
	require.True(t, res.OK)
	require.Eventually(t, settled(t, b.js), 10*time.Second, 50*time.Millisecond)
	require.EqualValues(t, 1, calls.Load())
	require.Zero(t, run.metrics.redeliv.Load())
}

// A delete decides before its claim and stores the decision with it: a
// worker that crashes right after the claim leaves the plan in the ledger,
// and the redelivery acts on it even though LiveKit now says otherwise, so
// every delivery answers the same.
func TestDeleteActsOnTheFirstDeliverysPlan(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{topology: func(top *events.Topology) { top.AckWait = time.Second }})
	lk := newLKRooms()
	b.rooms.Meetings = lk
	const id = "Planned-aaaaaaaaaaaaaaa"
	b.insertRoom(t, id, nil, nil)
	var crashed atomic.Bool
	b.start(t, workerOpts{fault: func(s, cmd string) bool {
		return s == "claimed" && cmd == "del-plan" && crashed.CompareAndSwap(false, true)
	}})
	b.send(t, "del-plan", events.DeleteRooms{RoomIDs: []string{id}})
	require.Eventually(t, crashed.Load, 10*time.Second, 10*time.Millisecond)

	rec, err := b.store.GetCommand(ctxT(t, 5*time.Second), "del-plan")
	require.NoError(t, err)
	require.Equal(t, store.StatusPending, rec.Status)
	require.JSONEq(t, `{"delete":["`+id+`"],"mark":null}`, string(rec.Plan), "the claim holds the plan")

	lk.set(id, true, true) // a meeting starts before the redelivery
	res := b.result(t, "del-plan")
	require.True(t, res.OK, "%+v", res.Error)
	var dr events.DeleteResult
	require.NoError(t, json.Unmarshal(res.Data, &dr))
	require.Equal(t, []string{id}, dr.Deleted)
	require.Empty(t, dr.MarkedForDeletion)
	_, err = b.store.GetRoom(ctxT(t, 5*time.Second), id)
	require.ErrorIs(t, err, store.ErrNotFound)
}
