package store

import "github.com/roomkeeper/roomkeeper/events"

// View is the room in OpenVidu Meet's current model, as other services
// see it (results, events, query replies): every field but the secrets
// (which appear only inside the access URLs), the version and the command
// IDs. A record that predates the model's status fields reads as an open
// room owned by the admin with no end action.
func (r *Room) View() events.Room {
	v := events.Room{
		RoomID:           r.RoomID,
		RoomName:         r.RoomName,
		Owner:            r.Owner,
		CreationDate:     r.CreationDate,
		AutoDeletionDate: r.AutoDeletionDate,
		Config:           r.Config,
		Roles:            r.Roles,
		Access:           r.Access,
		Status:           r.Status,
		RolesUpdatedAt:   r.RolesUpdatedAt,
		MeetingEndAction: r.MeetingEndAction,
	}
	if r.AutoDeletionPolicy != nil {
		p := *r.AutoDeletionPolicy
		v.AutoDeletionPolicy = &p
	}
	if v.Owner == "" {
		v.Owner = events.OwnerAdmin
	}
	if v.Status == "" {
		v.Status = events.StatusOpen
	}
	if v.MeetingEndAction == "" {
		v.MeetingEndAction = events.EndActionNone
	}
	return v
}
