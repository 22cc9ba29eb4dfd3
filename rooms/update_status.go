package rooms

import (
	"context"
	"time"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/handler"
	"github.com/roomkeeper/roomkeeper/store"
)

// updateStatusHandler applies rooms.cmd.update_status (upstream PUT
// /rooms/{roomId}/status), answering with the room:
//
//   - closed, while the room has an active meeting: the room stays
//     active_meeting with meetingEndAction close, and closes when the
//     meeting ends (202);
//   - otherwise the room takes the status and meetingEndAction none (200),
//     as upstream does: opening a room scheduled to close (or to be
//     deleted) when its meeting ends cancels that.
//
// One departure from upstream: opening a room with an active meeting
// keeps its status active_meeting (upstream writes open, which would let
// config, roles and access updates through during the meeting).
type updateStatusHandler struct{ *Rooms }

func (h updateStatusHandler) Validate(c events.UpdateStatus, _ time.Time) error {
	return invalidBody(events.SubjectUpdateStatus, checkRoomID(c.RoomID))
}

func (h updateStatusHandler) Handle(ctx context.Context, job *handler.Job[events.UpdateStatus]) (*handler.Outcome, error) {
	id := CleanRoomID(job.Msg.RoomID)
	want := job.Msg.Status
	job.Log = job.Log.WithField("room_id", id)
	room, err := h.updateMeetRoom(ctx, id, job.ID, false, func(r *store.Room) bool {
		status, action := want, events.EndActionNone
		if r.Status == events.StatusActiveMeeting {
			status = events.StatusActiveMeeting
			if want == events.StatusClosed {
				action = events.EndActionClose
			}
		}
		if r.Status == status && r.MeetingEndAction == action {
			return false
		}
		r.Status, r.MeetingEndAction = status, action
		return true
	})
	if err != nil {
		return nil, err
	}
	out := &handler.Outcome{Data: room.View()}
	if want == events.StatusClosed && room.Status == events.StatusActiveMeeting {
		out.Status = 202
		job.Log.Info("room closes when its meeting ends")
	} else {
		job.Log.WithField("status", room.Status).Info("room status updated")
	}
	return out, changed(out, job.ID, events.EventStatusUpdated, room, job.Now)
}
