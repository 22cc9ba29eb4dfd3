package rooms

import (
	"context"
	"time"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/handler"
	"github.com/roomkeeper/roomkeeper/store"
)

// updateRolesHandler applies rooms.cmd.update_roles (upstream PUT
// /rooms/{roomId}/roles): the permissions given (current or deprecated
// names) replace the role's, rolesUpdatedAt becomes the command's time,
// and the result carries the whole roles. A room with an active meeting
// refuses it (409), as upstream does ("should reject room roles update
// when there is an active meeting"). Upstream's room members and their
// permission signals are out of scope.
type updateRolesHandler struct{ *Rooms }

func (h updateRolesHandler) Validate(c events.UpdateRoles, _ time.Time) error {
	errs := checkRoomID(c.RoomID)
	errs = append(errs, checkRoles("roles", &c.Roles)...)
	return invalidBody(events.SubjectUpdateRoles, errs)
}

func (h updateRolesHandler) Handle(ctx context.Context, job *handler.Job[events.UpdateRoles]) (*handler.Outcome, error) {
	id := CleanRoomID(job.Msg.RoomID)
	job.Log = job.Log.WithField("room_id", id)
	room, err := h.updateMeetRoom(ctx, id, job.ID, true, func(r *store.Room) bool {
		// Written even when nothing changes, as upstream does: the date
		// says when the roles were last set.
		r.Roles = mergeRoles(r.Roles, &job.Msg.Roles)
		r.RolesUpdatedAt = job.Now.UnixMilli()
		return true
	})
	if err != nil {
		return nil, err
	}
	job.Log.Info("room roles updated")
	view := room.View()
	out := &handler.Outcome{Data: view.Roles}
	return out, changed(out, job.ID, events.EventRolesUpdated, room, job.Now)
}
