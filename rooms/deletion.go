package rooms

import (
	"fmt"

	"github.com/roomkeeper/roomkeeper/events"
)

// What a delete does to one room (deletion.Action).
const (
	actFail     = "fail"     // nothing: the policies forbid it
	actDelete   = "delete"   // the record goes now (with its recordings)
	actClose    = "close"    // closed instead of deleted: it has recordings
	actSchedule = "schedule" // the meeting's end action is set (delete or close)
)

// deletion is what a delete decided for one room, from its state (active
// meeting, recordings) and the command's policies: upstream's deletion
// matrix (room.service.ts validateDeletionPolicies, executeDeletionStrategy
// and getDeletionResponse), as data.
type deletion struct {
	Action string `json:"action"`
	// EndAction is the meetingEndAction a schedule sets (delete | close).
	EndAction string `json:"endAction,omitempty"`
	// EndMeeting: withMeeting force: LiveKit's room is deleted, which ends
	// the meeting now and brings its room_finished.
	EndMeeting bool `json:"endMeeting,omitempty"`
	// SuccessCode (a DeleteSuccess* code) or Error (a DeleteError* code),
	// and upstream's message.
	SuccessCode string `json:"successCode,omitempty"`
	Error       string `json:"error,omitempty"`
	Message     string `json:"message"`
	// ReturnsRoom: the result shows the room as it is afterwards (it still
	// exists).
	ReturnsRoom bool `json:"returnsRoom,omitempty"`
}

// Scheduled reports whether the room's deletion or closure waits for its
// meeting to end (a single-room delete then answers 202).
func (d deletion) Scheduled() bool {
	switch d.SuccessCode {
	case events.DeleteSuccessRoomWithActiveMeetingScheduledToBeDeleted,
		events.DeleteSuccessRoomWithActiveMeetingAndRecordingsScheduled,
		events.DeleteSuccessRoomWithActiveMeetingScheduledToBeClosed:
		return true
	}
	return false
}

// decideDeletion applies upstream's deletion matrix to room id with the
// given state and policies (withMeeting: force | when_meeting_ends | fail;
// withRecordings: force | close | fail). It is longer than the house's
// 60 lines on purpose: the whole matrix in one place reads case by case
// against upstream's table of codes and messages.
func decideDeletion(id string, activeMeeting, hasRecordings bool, withMeeting, withRecordings string) deletion {
	base := fmt.Sprintf("Room '%s'", id)
	fail := func(code, msg string) deletion {
		return deletion{Action: actFail, Error: code, Message: base + msg}
	}
	ok := func(d deletion, code, msg string) deletion {
		d.SuccessCode, d.Message = code, base+msg
		return d
	}
	// Validation first, in upstream's order: the meeting policy, then the
	// recordings policy.
	if activeMeeting && withMeeting == events.PolicyFail {
		if hasRecordings {
			return fail(events.DeleteErrorRoomWithRecordingsHasActiveMeeting, " with recordings cannot be deleted because it has an active meeting.")
		}
		return fail(events.DeleteErrorRoomHasActiveMeeting, " cannot be deleted because it has an active meeting.")
	}
	if hasRecordings && withRecordings == events.PolicyFail {
		switch {
		case activeMeeting && withMeeting == events.PolicyWhenMeetingEnds:
			return fail(events.DeleteErrorRoomWithActiveMeetingCannotScheduleDeletion, " with active meeting cannot be scheduled to be deleted because it has recordings.")
		case activeMeeting:
			return fail(events.DeleteErrorRoomWithActiveMeetingHasRecordings, " with active meeting cannot be deleted because it has recordings.")
		default:
			return fail(events.DeleteErrorRoomHasRecordings, " cannot be deleted because it has recordings.")
		}
	}
	closeIt := hasRecordings && withRecordings == events.PolicyClose
	switch {
	case !activeMeeting && !hasRecordings:
		return ok(deletion{Action: actDelete}, events.DeleteSuccessRoomDeleted, " deleted successfully")
	case !activeMeeting && closeIt:
		return ok(deletion{Action: actClose, ReturnsRoom: true}, events.DeleteSuccessRoomClosed,
			" has been closed instead of deleted because it has recordings")
	case !activeMeeting:
		return ok(deletion{Action: actDelete}, events.DeleteSuccessRoomAndRecordingsDeleted, " and its recordings deleted successfully")
	}
	// An active meeting (withMeeting force or when_meeting_ends): the room
	// is deleted (with its recordings) or closed when the meeting ends;
	// force ends it now.
	d := deletion{Action: actSchedule, EndAction: events.EndActionDelete, EndMeeting: withMeeting == events.PolicyForce}
	if closeIt {
		d.EndAction = events.EndActionClose
	}
	switch {
	case d.EndMeeting && !hasRecordings:
		return ok(d, events.DeleteSuccessRoomWithActiveMeetingDeleted, " with active meeting deleted successfully")
	case d.EndMeeting && closeIt:
		d.ReturnsRoom = true
		return ok(d, events.DeleteSuccessRoomWithActiveMeetingClosed,
			" with active meeting has been closed instead of deleted because it has recordings")
	case d.EndMeeting:
		return ok(d, events.DeleteSuccessRoomWithActiveMeetingAndRecordingsDeleted,
			" with active meeting and its recordings deleted successfully")
	}
	d.ReturnsRoom = true
	switch {
	case !hasRecordings:
		return ok(d, events.DeleteSuccessRoomWithActiveMeetingScheduledToBeDeleted,
			" with active meeting scheduled to be deleted when the meeting ends")
	case closeIt:
		return ok(d, events.DeleteSuccessRoomWithActiveMeetingScheduledToBeClosed,
			" with active meeting scheduled to be closed when the meeting ends because it has recordings")
	default:
		return ok(d, events.DeleteSuccessRoomWithActiveMeetingAndRecordingsScheduled,
			" with active meeting and its recordings scheduled to be deleted when the meeting ends")
	}
}
