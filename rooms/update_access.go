package rooms

import (
	"context"
	"time"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/handler"
	"github.com/roomkeeper/roomkeeper/store"
)

// updateAccessHandler applies rooms.cmd.update_access (upstream PUT
// /rooms/{roomId}/access): the switches given replace the room's (the
// links keep their URLs and secrets), rolesUpdatedAt becomes the
// command's time, as upstream sets it, and the result carries the whole
// access. A room with an active meeting refuses it (409), as upstream
// does. User access may only be switched off (Meet users are out of
// scope).
type updateAccessHandler struct{ *Rooms }

func (h updateAccessHandler) Validate(c events.UpdateAccess, _ time.Time) error {
	errs := checkRoomID(c.RoomID)
	errs = append(errs, checkAccess("access", &c.Access)...)
	return invalidBody(events.SubjectUpdateAccess, errs)
}

func (h updateAccessHandler) Handle(ctx context.Context, job *handler.Job[events.UpdateAccess]) (*handler.Outcome, error) {
	id := CleanRoomID(job.Msg.RoomID)
	job.Log = job.Log.WithField("room_id", id)
	room, err := h.updateMeetRoom(ctx, id, job.ID, true, func(r *store.Room) bool {
		r.Access = mergeAccess(r.Access, &job.Msg.Access)
		r.RolesUpdatedAt = job.Now.UnixMilli()
		return true
	})
	if err != nil {
		return nil, err
	}
	job.Log.Info("room access updated")
	view := room.View()
	out := &handler.Outcome{Data: view.Access}
	return out, changed(out, job.ID, events.EventAccessUpdated, room, job.Now)
}
