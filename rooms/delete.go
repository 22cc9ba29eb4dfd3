package rooms

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/handler"
	"github.com/roomkeeper/roomkeeper/store"
)

// deleteHandler applies rooms.cmd.delete, decoded by decodeDelete.
type deleteHandler struct{ *Rooms }

// deletePlan is the decision of a delete, taken once from the rooms and
// LiveKit as they were at the first delivery.
type deletePlan struct {
	// Delete: rooms whose record is removed now.
	Delete []string `json:"delete"`
	// EndMeeting: rooms whose LiveKit room is deleted first (force).
	EndMeeting []string `json:"endMeeting,omitempty"`
	// Mark: rooms with a live meeting, marked for deletion.
	Mark []string `json:"mark"`
	// Missing: requested rooms that do not exist.
	Missing []string `json:"missing,omitempty"`
}

// roomIDs returns the sanitised room IDs of a delete, each once, in the
// order of their first appearance; linear in the number of IDs.
func roomIDs(raw []string) []string {
	ids := make([]string, 0, len(raw))
	seen := make(map[string]struct{}, len(raw))
	for _, r := range raw {
		id := SanitizeRoomID(r)
		if id == "" {
			continue
		}
		if _, dup := seen[id]; dup {
			continue
		}
		seen[id] = struct{}{}
		ids = append(ids, id)
	}
	return ids
}

// decodeDelete decodes a delete (schema: 1 to events.MaxDeleteRoomIDs room
// IDs) and replaces its room IDs with the sanitised, deduplicated ones, once
// per delivery: Validate, Plan and Handle take them as they are.
func decodeDelete(subject string, body []byte) (events.DeleteRooms, error) {
	c, err := handler.DecodeJSON[events.DeleteRooms](subject, body)
	if err != nil {
		return c, err
	}
	c.RoomIDs = roomIDs(c.RoomIDs)
	return c, nil
}

func (h deleteHandler) Validate(c events.DeleteRooms, _ time.Time) error {
	if len(c.RoomIDs) == 0 {
		return events.Invalid("no valid room ID", events.FieldError{Field: "roomIds", Message: "must hold at least one valid room ID"})
	}
	return nil
}

// Plan classifies the rooms before the claim, so the plan is stored with
// it (three ledger and room writes per deleted room instead of four).
func (h deleteHandler) Plan(ctx context.Context, c events.DeleteRooms, _ time.Time) (any, error) {
	return h.classify(ctx, c.RoomIDs, c.Force)
}

func (h deleteHandler) Handle(ctx context.Context, job *handler.Job[events.DeleteRooms]) (*handler.Outcome, error) {
	ids := job.Msg.RoomIDs
	// The plan came with the claim; a record claimed without one (by an
	// older worker) gets it now.
	plan, err := handler.Plan(ctx, job, func() (deletePlan, error) { return h.classify(ctx, ids, job.Msg.Force) })
	if err != nil {
		return nil, err
	}
	if len(plan.Delete) == 0 && len(plan.Mark) == 0 {
		return nil, events.Errorf(events.CodeNotFound, "no such room: %s", strings.Join(plan.Missing, ", "))
	}
	out := &handler.Outcome{Data: events.DeleteResult{Deleted: nonNil(plan.Delete), MarkedForDeletion: nonNil(plan.Mark)}}
	for _, id := range plan.EndMeeting {
		if err := h.Meetings.DeleteRoom(ctx, id); err != nil {
			return nil, err
		}
	}
	for _, id := range plan.Delete {
		// Deleted with the completion.
		out.Writes = append(out.Writes, store.DeleteRoom(id))
		if err := out.Event(job.ID, events.EventDeleted, id, job.Now, map[string]string{"roomId": id}); err != nil {
			return nil, err
		}
	}
	for _, id := range plan.Mark {
		if err := h.mark(ctx, job, id, out); err != nil {
			return nil, err
		}
	}
	job.Log.WithField("deleted", len(plan.Delete)).WithField("marked", len(plan.Mark)).Info("rooms deleted")
	return out, nil
}

// mark marks room id for deletion (its meeting is live): it goes when
// LiveKit's room_finished arrives, or now if the meeting ended meanwhile.
func (h deleteHandler) mark(ctx context.Context, job *handler.Job[events.DeleteRooms], id string, out *handler.Outcome) error {
	room, err := h.updateRoom(ctx, id, job.ID, func(r *store.Room) bool {
		if r.MarkedForDeletion {
			return false
		}
		r.MarkedForDeletion = true
		return true
	})
	if errors.Is(err, errGone) {
		return nil // deleted meanwhile (its meeting ended): nothing to mark
	}
	if err != nil {
		return err
	}
	if err := out.Event(job.ID, events.EventMarkedForDeletion, id, job.Now, room.View()); err != nil {
		return err
	}
	// The meeting may have ended between the check and the mark: its
	// room_finished then found the room unmarked. LiveKit still having
	// the room means room_finished is yet to come; otherwise delete now.
	exists, err := h.Meetings.RoomExists(ctx, id)
	if err != nil {
		return err
	}
	if exists {
		h.signalMarkedLog(ctx, job.Log, id)
		return nil
	}
	// Deleted with the completion, not now: a delivery after a crash
	// then still finds the room, marked by this command, and publishes
	// both events. (It asks LiveKit again; should the room be back
	// there, the room stays marked and its room_finished deletes it.)
	out.Writes = append(out.Writes, store.DeleteRoom(id))
	job.Log.WithField("room_id", id).Info("meeting ended while marking; room deleted")
	return out.Event(job.ID, events.EventDeleted, id, job.Now, map[string]string{"roomId": id})
}

// classify decides, per room, delete or mark.
func (h deleteHandler) classify(ctx context.Context, ids []string, force bool) (deletePlan, error) {
	var p deletePlan
	for _, id := range ids {
		if _, err := h.Store.GetRoom(ctx, id); errors.Is(err, store.ErrNotFound) {
			p.Missing = append(p.Missing, id)
			continue
		} else if err != nil {
			return p, err
		}
		active, err := h.Meetings.HasActiveMeeting(ctx, id)
		if err != nil {
			return p, err
		}
		switch {
		case active && force:
			p.EndMeeting = append(p.EndMeeting, id)
			p.Delete = append(p.Delete, id)
		case active:
			p.Mark = append(p.Mark, id)
		default:
			p.Delete = append(p.Delete, id)
		}
	}
	return p, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
