package rooms_test

// Defects the nemesis (internal/nemesis) found in the room domain, each
// shown at the smallest level.

import (
	"encoding/json"
	"sync/atomic"
	"testing"
	"time"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/internal/workertest"
	"github.com/roomkeeper/roomkeeper/natsapi"
	"github.com/roomkeeper/roomkeeper/store"
	"github.com/stretchr/testify/require"
)

// A delete schedules the deletion of a room with a meeting
// (when_meeting_ends), then its worker crashes before the completion; the
// meeting ends meanwhile and its room_finished deletes the room; the
// redelivery of the delete finds the room gone. Its ok result lists the
// room as scheduled, so its deletion_scheduled event must be there too.
// Found by the nemesis on FerretDB (seed 20261202, n352953-delete-000031,
// FerretDB killed under it), in the old model's mark, which this replaced.
func TestDeleteScheduledThenFinishedBeforeRedeliveryPublishesItsEvent(t *testing.T) {
	t.Parallel()
	b := setup(t, workertest.SetupOpts{Topology: func(top *natsapi.Topology) { top.AckWait = 2 * time.Second }})
	lk := workertest.NewLKRooms()
	b.Rooms.Meetings = lk
	const room = "Meeting-aaaaaaaaaaaaaaa"
	b.insertRoom(t, room, nil, func(r *store.Room) { r.Status = events.StatusActiveMeeting })
	lk.Set(room, true, true)
	var crashed atomic.Bool
	b.Start(t, workertest.WorkerOpts{Fault: func(step, id string) bool {
		return step == "applied" && id == "d1" && crashed.CompareAndSwap(false, true)
	}})
	b.Send(t, "d1", events.DeleteRooms{RoomIDs: []string{room}, WithMeeting: events.PolicyWhenMeetingEnds})
	require.Eventually(t, crashed.Load, 10*time.Second, 10*time.Millisecond)

	// The meeting ends before the redelivery: LiveKit closes the room and
	// its room_finished deletes the room, as the end action says.
	lk.Set(room, false, false)
	b.webhook(t, "EV_finished1", "room_finished", room)
	require.Eventually(t, func() bool { return !b.Exists(t, room) }, 10*time.Second, 10*time.Millisecond)

	var dr events.DeleteResult
	require.NoError(t, json.Unmarshal(b.Result(t, "d1").Data, &dr))
	require.Len(t, dr.Deleted, 1)
	require.Equal(t, events.DeleteSuccessRoomWithActiveMeetingScheduledToBeDeleted, dr.Deleted[0].SuccessCode)
	require.Eventually(t, workertest.Settled(t, b.JS), 10*time.Second, 20*time.Millisecond)
	require.Equal(t, []string{events.EventID("d1", events.EventDeletionScheduled, room)},
		b.eventIDs(t, events.EventSubject(events.EventDeletionScheduled)), "the ok result's scheduled room has its event")
}
