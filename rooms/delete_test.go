package rooms_test

import (
	"context"
	"encoding/json"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/roomkeeper/roomkeeper/events"
	lktest "github.com/roomkeeper/roomkeeper/internal/testenv/livekit"
	"github.com/roomkeeper/roomkeeper/internal/workertest"
	"github.com/roomkeeper/roomkeeper/natsapi"
	"github.com/roomkeeper/roomkeeper/store"
)

// requireMarkedThenDeleted checks the end of a delete command cmd of room
// whose meeting ended while it was marking: the result says marked, the
// room is gone, and marked_for_deletion and deleted are out once each.
func (b *bundle) requireMarkedThenDeleted(t *testing.T, cmd, room string) {
	t.Helper()
	res := b.Result(t, cmd)
	require.True(t, res.OK, "%+v", res.Error)
	var dr events.DeleteResult
	require.NoError(t, json.Unmarshal(res.Data, &dr))
	require.Equal(t, []string{room}, dr.MarkedForDeletion)
	require.Empty(t, dr.Deleted)
	require.Eventually(t, workertest.Settled(t, b.JS), 30*time.Second, 20*time.Millisecond)
	require.False(t, b.Exists(t, room), "not stranded as marked")
	require.Equal(t, []string{events.EventID(cmd, events.EventMarkedForDeletion, room)},
		b.eventIDs(t, events.EventSubject(events.EventMarkedForDeletion)))
	require.Equal(t, []string{events.EventID(cmd, events.EventDeleted, room)},
		b.eventIDs(t, events.EventSubject(events.EventDeleted)))
	require.Len(t, b.StreamMsgs(t, events.StreamResults, events.ResultSubject(cmd)), 1)
}

// The meeting ends between a delete's check and its mark, and the worker
// crashes after a step: the redelivery still deletes the room and publishes
// marked_for_deletion and deleted, once each. (Before, a crash after
// "applied" left the room deleted and the redelivery, finding no room to
// mark, published neither event.)
func TestDeleteMeetingEndedWhileMarkingCrashBetweenSteps(t *testing.T) {
	t.Parallel()
	for _, step := range []string{"claimed", "applied", "completed", "published"} {
		t.Run(step, func(t *testing.T) {
			t.Parallel()
			b := setup(t, workertest.SetupOpts{Topology: func(top *natsapi.Topology) { top.AckWait = time.Second }})
			const room = "Ending-aaaaaaaaaaaaaaa"
			b.insertRoom(t, room, nil, nil)
			// Active at the check, gone from LiveKit right after it.
			b.Rooms.Meetings = workertest.Meetings{Active: map[string]bool{room: true}, Gone: map[string]bool{room: true}}
			var crashed atomic.Bool
			b.Start(t, workertest.WorkerOpts{Fault: func(s, id string) bool {
				return s == step && id == "del-ending" && crashed.CompareAndSwap(false, true)
			}})
			b.Send(t, "del-ending", events.DeleteRooms{RoomIDs: []string{room}})
			require.Eventually(t, crashed.Load, 10*time.Second, 10*time.Millisecond)
			b.requireMarkedThenDeleted(t, "del-ending", room)
		})
	}
}

// The same against a real livekit-server: a participant is in the room when
// the delete decides (so it marks), and leaves before the delete marks
// (the test holds the worker right after the claim until LiveKit has
// closed the room); the worker then crashes after applying. The
// redelivery finishes the delete with both events.
func TestDeleteMeetingEndedWhileMarkingCrashAfterApplyLiveKit(t *testing.T) {
	t.Parallel()
	srv, lk := startQuickLiveKit(t)
	b := setup(t, workertest.SetupOpts{})
	b.Rooms.Meetings = lk
	const room = "Leaving-aaaaaaaaaaaaaaa"
	b.insertRoom(t, room, nil, nil)
	p := lktest.Join(t, srv, room, "alice")

	claimed, ended := make(chan struct{}), make(chan struct{})
	var held, crashed atomic.Bool
	b.Start(t, workertest.WorkerOpts{Fault: func(s, id string) bool {
		if id != "del-leaving" {
			return false
		}
		if s == "claimed" && held.CompareAndSwap(false, true) {
			close(claimed)
			select { // the plan (mark) is stored; let the meeting end
			case <-ended:
			case <-time.After(60 * time.Second):
			}
			return false
		}
		return s == "applied" && crashed.CompareAndSwap(false, true)
	}})
	b.Send(t, "del-leaving", events.DeleteRooms{RoomIDs: []string{room}})
	select {
	case <-claimed:
	case <-time.After(30 * time.Second):
		t.Fatal("the delete was not claimed")
	}
	rec, err := b.Store.GetCommand(ctxT(t, 5*time.Second), "del-leaving")
	require.NoError(t, err)
	require.JSONEq(t, `{"delete":null,"mark":["`+room+`"]}`, string(rec.Plan), "decided to mark: a meeting was on")
	p.Leave()
	require.Eventually(t, func() bool {
		ok, err := lk.RoomExists(context.Background(), room)
		return err == nil && !ok
	}, 30*time.Second, 100*time.Millisecond, "LiveKit closes the room after the departure timeout")
	close(ended)

	require.Eventually(t, crashed.Load, 10*time.Second, 10*time.Millisecond)
	b.requireMarkedThenDeleted(t, "del-leaving", room)
	_, err = b.Store.GetRoom(ctxT(t, 5*time.Second), room)
	require.ErrorIs(t, err, store.ErrNotFound)
}
