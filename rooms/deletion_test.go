package rooms_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/rooms"
)

// TestDeletionMatrix checks every combination of room state (active
// meeting, recordings) and policies against upstream's deletion matrix
// (room.service.ts: validateDeletionPolicies, executeDeletionStrategy,
// getDeletionResponse; delete-room.test.ts): the code, the message, what
// is done to the room, and whether the room is in the answer.
func TestDeletionMatrix(t *testing.T) {
	t.Parallel()
	const (
		force, wme, fail, closeP = events.PolicyForce, events.PolicyWhenMeetingEnds, events.PolicyFail, events.PolicyClose
		del, clo, sch, no        = "delete", "close", "schedule", "fail"
	)
	type want struct {
		code, msg, action, endAction string
		endMeeting, room, scheduled  bool
	}
	ok := func(code, msg, action, endAction string, endMeeting, room, scheduled bool) want {
		return want{code, msg, action, endAction, endMeeting, room, scheduled}
	}
	failed := func(code, msg string) want { return want{code: code, msg: msg, action: no} }
	var (
		deleted          = ok(events.DeleteSuccessRoomDeleted, "Room 'r' deleted successfully", del, "", false, false, false)
		activeDeleted    = ok(events.DeleteSuccessRoomWithActiveMeetingDeleted, "Room 'r' with active meeting deleted successfully", sch, "delete", true, false, false)
		activeScheduled  = ok(events.DeleteSuccessRoomWithActiveMeetingScheduledToBeDeleted, "Room 'r' with active meeting scheduled to be deleted when the meeting ends", sch, "delete", false, true, true)
		recsDeleted      = ok(events.DeleteSuccessRoomAndRecordingsDeleted, "Room 'r' and its recordings deleted successfully", del, "", false, false, false)
		closed           = ok(events.DeleteSuccessRoomClosed, "Room 'r' has been closed instead of deleted because it has recordings", clo, "", false, true, false)
		activeRecsDel    = ok(events.DeleteSuccessRoomWithActiveMeetingAndRecordingsDeleted, "Room 'r' with active meeting and its recordings deleted successfully", sch, "delete", true, false, false)
		activeClosed     = ok(events.DeleteSuccessRoomWithActiveMeetingClosed, "Room 'r' with active meeting has been closed instead of deleted because it has recordings", sch, "close", true, true, false)
		activeRecsSched  = ok(events.DeleteSuccessRoomWithActiveMeetingAndRecordingsScheduled, "Room 'r' with active meeting and its recordings scheduled to be deleted when the meeting ends", sch, "delete", false, true, true)
		activeCloseSched = ok(events.DeleteSuccessRoomWithActiveMeetingScheduledToBeClosed, "Room 'r' with active meeting scheduled to be closed when the meeting ends because it has recordings", sch, "close", false, true, true)

		hasMeeting     = failed(events.DeleteErrorRoomHasActiveMeeting, "Room 'r' cannot be deleted because it has an active meeting.")
		hasRecs        = failed(events.DeleteErrorRoomHasRecordings, "Room 'r' cannot be deleted because it has recordings.")
		activeHasRecs  = failed(events.DeleteErrorRoomWithActiveMeetingHasRecordings, "Room 'r' with active meeting cannot be deleted because it has recordings.")
		cannotSchedule = failed(events.DeleteErrorRoomWithActiveMeetingCannotScheduleDeletion, "Room 'r' with active meeting cannot be scheduled to be deleted because it has recordings.")
		recsHasMeeting = failed(events.DeleteErrorRoomWithRecordingsHasActiveMeeting, "Room 'r' with recordings cannot be deleted because it has an active meeting.")
	)
	meetingPolicies := []string{force, wme, fail}
	recordingPolicies := []string{force, closeP, fail}
	// matrix[active][recordings][withMeeting][withRecordings]
	matrix := map[bool]map[bool][3][3]want{
		false: {
			false: {{deleted, deleted, deleted}, {deleted, deleted, deleted}, {deleted, deleted, deleted}},
			true:  {{recsDeleted, closed, hasRecs}, {recsDeleted, closed, hasRecs}, {recsDeleted, closed, hasRecs}},
		},
		true: {
			false: {
				{activeDeleted, activeDeleted, activeDeleted},
				{activeScheduled, activeScheduled, activeScheduled},
				{hasMeeting, hasMeeting, hasMeeting},
			},
			true: {
				{activeRecsDel, activeClosed, activeHasRecs},
				{activeRecsSched, activeCloseSched, cannotSchedule},
				{recsHasMeeting, recsHasMeeting, recsHasMeeting},
			},
		},
	}
	seen := map[string]bool{}
	for _, active := range []bool{false, true} {
		for _, recs := range []bool{false, true} {
			for i, wm := range meetingPolicies {
				for j, wr := range recordingPolicies {
					w := matrix[active][recs][i][j]
					name := fmt.Sprintf("meeting=%t/recordings=%t/%s/%s", active, recs, wm, wr)
					t.Run(name, func(t *testing.T) {
						got := rooms.DecideDeletion("r", active, recs, wm, wr)
						require.Equal(t, w.msg, got.Message)
						require.Equal(t, w.action, got.Action)
						if w.action == no {
							require.Equal(t, w.code, got.Error)
							require.Empty(t, got.SuccessCode)
							return
						}
						require.Equal(t, w.code, got.SuccessCode)
						require.Empty(t, got.Error)
						require.Equal(t, w.endAction, got.EndAction)
						require.Equal(t, w.endMeeting, got.EndMeeting, "ends the meeting now")
						require.Equal(t, w.room, got.ReturnsRoom, "the answer shows the room")
						require.Equal(t, w.scheduled, got.Scheduled, "202")
					})
					seen[w.code] = true
				}
			}
		}
	}
	require.Len(t, seen, 14, "the 9 success codes and 5 error codes all occur")
}
