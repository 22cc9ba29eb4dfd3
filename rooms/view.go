package rooms

import (
	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/store"
)

// meetView is the room as other services see it in the new model (the
// room of a delete result and of the deletion events).
// TODO(integration): one converter for rooms and queries.
func meetView(r *store.Room) events.MeetRoom {
	status := r.Status
	if status == "" {
		status = events.StatusOpen
	}
	end := r.MeetingEndAction
	if end == "" {
		end = events.EndActionNone
	}
	return events.MeetRoom{
		RoomID: r.RoomID, RoomName: r.RoomName, Owner: r.Owner, CreationDate: r.CreationDate,
		AutoDeletionDate: r.AutoDeletionDate, AutoDeletionPolicy: r.AutoDeletionPolicy,
		Config: r.Config, Roles: r.Roles, Access: r.Access, Status: status,
		RolesUpdatedAt: r.RolesUpdatedAt, MeetingEndAction: end,
	}
}
