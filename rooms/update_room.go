package rooms

import (
	"context"
	"errors"
	"time"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/handler"
	"github.com/roomkeeper/roomkeeper/store"
)

// This file holds what the updates of OpenVidu Meet's model share
// (rooms.cmd.update_config, update_status, update_roles, update_access):
// the room ID rule, upstream's errors, and the compare-and-set apply.

// ErrorNameRoom is upstream's error name of a room's errors.
const ErrorNameRoom = "Room Error"

// roomNotFound is upstream's 404 for a room that does not exist.
func roomNotFound(id string) *events.Error {
	return &events.Error{Code: events.CodeNotFound, Name: ErrorNameRoom, Message: notFoundMessage(id)}
}

// roomHasActiveMeeting is upstream's 409 for an update refused while the
// room's meeting is live.
func roomHasActiveMeeting(id string) *events.Error {
	return &events.Error{Code: events.CodeConflict, Name: ErrorNameRoom, Message: `Room "` + id + `" has an active meeting`}
}

// checkRoomID checks the room ID of an update: what is left once the
// characters an ID cannot hold are dropped.
func checkRoomID(raw string) []events.FieldError {
	if CleanRoomID(raw) == "" {
		return []events.FieldError{{Field: "roomId", Message: "must hold letters, digits, '-' or '_'"}}
	}
	return nil
}

// invalidBody is the validation error of a command body.
func invalidBody(subject string, errs []events.FieldError) error {
	if len(errs) == 0 {
		return nil
	}
	return events.Invalid("invalid "+subject+" body", sortDetails(errs)...)
}

// updateMeetRoom applies change to room id by compare-and-set (see
// Rooms.updateRoom), with command cmdID recorded in the same write. When
// idle is set, a room whose status is active_meeting is refused with
// upstream's 409, as upstream refuses config, roles and access updates
// during a meeting: the status is read in the same compare-and-set, so a
// meeting that starts meanwhile (room_started) makes the write conflict
// and the update is judged again. A room that is gone is upstream's 404.
func (r *Rooms) updateMeetRoom(ctx context.Context, id, cmdID string, idle bool, change func(*store.Room) bool) (*store.Room, error) {
	var refused bool
	room, err := r.updateRoom(ctx, id, cmdID, func(room *store.Room) bool {
		refused = idle && room.Status == events.StatusActiveMeeting
		if refused {
			return false
		}
		return change(room)
	})
	switch {
	case errors.Is(err, errGone):
		return nil, roomNotFound(id)
	case err != nil:
		return nil, err
	case refused:
		return nil, roomHasActiveMeeting(id)
	}
	return room, nil
}

// changed adds to out the event of an update that changed the room (the
// room records the command's ID): on every run of the command, so that a
// run after a crash still publishes it, under the same event ID.
func changed(out *handler.Outcome, cmdID, eventType string, room *store.Room, at time.Time) error {
	if !room.WasApplied(cmdID) {
		return nil
	}
	return out.Event(cmdID, eventType, room.RoomID, at, room.View())
}
