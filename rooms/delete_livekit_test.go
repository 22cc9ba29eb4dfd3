package rooms_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/roomkeeper/roomkeeper/events"
	lktest "github.com/roomkeeper/roomkeeper/internal/testenv/livekit"
	"github.com/roomkeeper/roomkeeper/internal/workertest"
	"github.com/roomkeeper/roomkeeper/store"
)

// waitRoom waits until room satisfies ok (or is gone when ok is nil).
func (b *bundle) waitRoom(t *testing.T, room, what string, ok func(*store.Room) bool) {
	t.Helper()
	require.Eventually(t, func() bool {
		r, err := b.Store.GetRoom(ctxT(t, 5*time.Second), room)
		if ok == nil {
			return err != nil
		}
		return err == nil && ok(r)
	}, 30*time.Second, 50*time.Millisecond, "%s: %s", room, what)
}

func isActive(r *store.Room) bool { return r.Status == events.StatusActiveMeeting }

// The cells of the deletion matrix that need a live meeting, with a real
// livekit-server: a participant joins (LiveKit's room_started makes the
// room active_meeting), the delete decides, and LiveKit's own
// room_finished applies the room's meetingEndAction.
func TestDeleteWithALiveMeeting(t *testing.T) {
	t.Parallel()
	b := setup(t, workertest.SetupOpts{})
	srv := b.LiveKitWithWebhooks(t)
	b.Start(t, workertest.WorkerOpts{})

	t.Run("fail refuses", func(t *testing.T) {
		const room = "refused-aaaaaaaaaaaaaaa"
		b.insertRoom(t, room, nil, nil)
		b.putRecordings(t, room, 1)
		p := lktest.Join(t, srv, room, "alice")
		defer p.Leave()
		b.waitRoom(t, room, "room_started makes it active", isActive)
		res, dr := b.deleteResult(t, "live-fail", events.DeleteRooms{RoomIDs: []string{room}})
		require.Equal(t, 400, res.Status)
		require.Equal(t, events.DeleteErrorRoomWithRecordingsHasActiveMeeting, dr.Failed[0].Error)
		require.Equal(t, "Room '"+room+"' with recordings cannot be deleted because it has an active meeting.", dr.Failed[0].Message)
	})

	t.Run("when_meeting_ends and close: closed when the meeting ends", func(t *testing.T) {
		const room = "closing-aaaaaaaaaaaaaaa"
		b.insertRoom(t, room, nil, nil)
		recs := b.putRecordings(t, room, 2)
		p := lktest.Join(t, srv, room, "alice")
		b.waitRoom(t, room, "active", isActive)
		res, dr := b.deleteResult(t, "live-close", events.DeleteRooms{RoomIDs: []string{room},
			WithMeeting: events.PolicyWhenMeetingEnds, WithRecordings: events.PolicyClose})
		require.Equal(t, 202, res.Status)
		require.Equal(t, events.DeleteSuccessRoomWithActiveMeetingScheduledToBeClosed, dr.Deleted[0].SuccessCode)
		require.Equal(t, events.EndActionClose, dr.Deleted[0].Room.MeetingEndAction)
		require.Equal(t, events.StatusActiveMeeting, dr.Deleted[0].Room.Status)
		select {
		case <-p.Disconnected():
			t.Fatal("when_meeting_ends must not end the meeting")
		case <-time.After(500 * time.Millisecond):
		}
		p.Leave()
		b.waitRoom(t, room, "room_finished closes it", func(r *store.Room) bool { return r.Status == events.StatusClosed })
		got := b.storedRoom(t, room)
		require.Equal(t, events.EndActionNone, got.MeetingEndAction)
		require.Equal(t, recs, b.recordingsOf(t, room), "a closed room keeps its recordings")
		require.Eventually(t, func() bool {
			return len(b.eventsOfRoom(t, events.EventMeetingEnded, room)) == 1 && len(b.eventsOfRoom(t, events.EventClosed, room)) == 1
		}, 10*time.Second, 50*time.Millisecond)
	})

	t.Run("force and force: the meeting ends, room and recordings go", func(t *testing.T) {
		const room = "forced-aaaaaaaaaaaaaaa"
		b.insertRoom(t, room, nil, nil)
		b.putRecordings(t, room, 2)
		p := lktest.Join(t, srv, room, "alice")
		b.waitRoom(t, room, "active", isActive)
		res, dr := b.deleteResult(t, "live-force", events.DeleteRooms{RoomIDs: []string{room},
			WithMeeting: events.PolicyForce, WithRecordings: events.PolicyForce})
		require.Equal(t, 200, res.Status)
		require.Equal(t, events.DeleteSuccessRoomWithActiveMeetingAndRecordingsDeleted, dr.Deleted[0].SuccessCode)
		require.Nil(t, dr.Deleted[0].Room)
		p.WaitDisconnected(t, 20*time.Second)
		b.waitRoom(t, room, "room_finished deletes it", nil)
		require.Empty(t, b.recordingsOf(t, room))
		require.Eventually(t, func() bool {
			return len(b.eventsOfRoom(t, events.EventMeetingEnded, room)) == 1 &&
				len(b.eventsOfRoom(t, events.EventDeleted, room)) == 1 &&
				len(b.eventsOfRoom(t, events.EventRecordingDeleted, room)) == 2
		}, 10*time.Second, 50*time.Millisecond)
	})

	t.Run("when_meeting_ends: the room goes when the meeting ends", func(t *testing.T) {
		const room = "later-aaaaaaaaaaaaaaa"
		b.insertRoom(t, room, nil, nil)
		p := lktest.Join(t, srv, room, "alice")
		b.waitRoom(t, room, "active", isActive)
		res, dr := b.deleteResult(t, "live-later", events.DeleteRooms{RoomIDs: []string{room}, WithMeeting: events.PolicyWhenMeetingEnds})
		require.Equal(t, 202, res.Status)
		require.Equal(t, events.DeleteSuccessRoomWithActiveMeetingScheduledToBeDeleted, dr.Deleted[0].SuccessCode)
		require.True(t, b.Exists(t, room))
		p.Leave()
		b.waitRoom(t, room, "room_finished deletes it", nil)
	})
}
