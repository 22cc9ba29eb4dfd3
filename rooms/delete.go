package rooms

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/handler"
	"github.com/roomkeeper/roomkeeper/store"
)

// deleteHandler applies rooms.cmd.delete, decoded by decodeDelete.
type deleteHandler struct{ *Rooms }

// deletePlan is the decision of a delete, taken once from the rooms (their
// status and recordings) as they were at the first delivery: every
// delivery acts on it and publishes the events it implies.
type deletePlan struct {
	Rooms []plannedRoom `json:"rooms"`
}

// plannedRoom is the decision for one requested room.
type plannedRoom struct {
	RoomID string `json:"roomId"`
	// Missing: the room does not exist.
	Missing bool `json:"missing,omitempty"`
	deletion
	// Recordings are those deleted with the room (withRecordings force),
	// now or when the meeting ends.
	Recordings []events.Recording `json:"recordings,omitempty"`
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
// IDs, the policies) and replaces its room IDs with the sanitised,
// deduplicated ones, once per delivery: Validate, Plan and Handle take
// them as they are.
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
// it.
func (h deleteHandler) Plan(ctx context.Context, c events.DeleteRooms, _ time.Time) (any, error) {
	return h.classify(ctx, c)
}

// maxRoomRecordings bounds the recordings one room's deletion lists (and
// deletes); a room with more keeps the rest, and a later delete takes them.
const maxRoomRecordings = 1000

// classify decides, per room, what the delete does (upstream's matrix).
// "Has an active meeting" is the room's status; "has recordings" is the
// recording metadata the egress webhooks left.
func (h deleteHandler) classify(ctx context.Context, c events.DeleteRooms) (deletePlan, error) {
	withMeeting, withRecordings := c.Policies()
	p := deletePlan{Rooms: make([]plannedRoom, 0, len(c.RoomIDs))}
	for _, id := range c.RoomIDs {
		room, err := h.Store.GetRoom(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			p.Rooms = append(p.Rooms, plannedRoom{RoomID: id, Missing: true, deletion: deletion{
				Action: actFail, Error: events.DeleteErrorRoom, Message: notFoundMessage(id)}})
			continue
		}
		if err != nil {
			return p, err
		}
		recs, err := h.Store.RoomRecordings(ctx, id, maxRoomRecordings)
		if err != nil {
			return p, err
		}
		d := decideDeletion(id, room.Status == events.StatusActiveMeeting, len(recs) > 0, withMeeting, withRecordings)
		pr := plannedRoom{RoomID: id, deletion: d}
		if deletesRecordings(d) {
			pr.Recordings = recordingViews(recs)
		}
		p.Rooms = append(p.Rooms, pr)
	}
	return p, nil
}

// deletesRecordings reports whether decision d deletes the room with its
// recordings (now, or when the meeting ends).
func deletesRecordings(d deletion) bool {
	return d.Action == actDelete || d.Action == actSchedule && d.EndAction == events.EndActionDelete
}

func recordingViews(recs []store.Recording) []events.Recording {
	out := make([]events.Recording, len(recs))
	for i := range recs {
		out[i] = recs[i].View()
	}
	return out
}

// notFoundMessage is upstream's message for a room that does not exist.
func notFoundMessage(id string) string { return fmt.Sprintf("Room '%s' does not exist", id) }

// Bulk messages of a delete result (upstream's).
const msgBulkOK = "Bulk deletion request processed successfully"

func (h deleteHandler) Handle(ctx context.Context, job *handler.Job[events.DeleteRooms]) (*handler.Outcome, error) {
	plan, err := handler.Plan(ctx, job, func() (deletePlan, error) { return h.classify(ctx, job.Msg) })
	if err != nil {
		return nil, err
	}
	res := events.DeleteResult{Deleted: []events.DeletedRoom{}, Failed: []events.FailedRoom{}}
	out := &handler.Outcome{Data: &res}
	for _, pr := range plan.Rooms {
		if pr.Action == actFail {
			res.Failed = append(res.Failed, events.FailedRoom{RoomID: pr.RoomID, Error: pr.Error, Message: pr.Message})
			continue
		}
		room, err := h.apply(ctx, job, pr, out)
		if err != nil {
			return nil, err
		}
		d := events.DeletedRoom{RoomID: pr.RoomID, SuccessCode: pr.SuccessCode, Message: pr.Message}
		if pr.ReturnsRoom && room != nil {
			v := room.View()
			d.Room = &v
		}
		res.Deleted = append(res.Deleted, d)
	}
	switch {
	case len(res.Failed) > 0:
		res.Message = fmt.Sprintf("%d room(s) failed to process while deleting", len(res.Failed))
		out.Status = 400
	case len(plan.Rooms) == 1 && plan.Rooms[0].Scheduled():
		res.Message = msgBulkOK
		out.Status = 202
	default:
		res.Message = msgBulkOK
	}
	job.Log.WithField("processed", len(res.Deleted)).WithField("failed", len(res.Failed)).Info("rooms deleted")
	return out, nil
}

// apply carries out the decision for one room and returns the room as it
// is afterwards (nil when deleted).
func (h deleteHandler) apply(ctx context.Context, job *handler.Job[events.DeleteRooms], pr plannedRoom, out *handler.Outcome) (*store.Room, error) {
	switch pr.Action {
	case actDelete:
		return nil, h.deleteNow(ctx, job.ID, pr.RoomID, pr.Recordings, job.Now, out)
	case actClose:
		room, err := h.updateRoom(ctx, pr.RoomID, job.ID, func(r *store.Room) bool {
			r.Status = events.StatusClosed
			return true
		})
		if errors.Is(err, errGone) {
			return nil, nil // deleted meanwhile
		}
		if err != nil {
			return nil, err
		}
		return room, out.Event(job.ID, events.EventClosed, pr.RoomID, job.Now, room.View())
	default:
		return h.schedule(ctx, job, pr, out)
	}
}

// deleteNow deletes room id (with the completion) and the recordings
// listed, and adds the events.
func (r *Rooms) deleteNow(ctx context.Context, cause, id string, recs []events.Recording, at time.Time, out *handler.Outcome) error {
	// Deleted with the completion.
	out.Writes = append(out.Writes, store.DeleteRoom(id))
	if err := r.deleteRecordings(ctx, cause, recs, at, out); err != nil {
		return err
	}
	return out.Event(cause, events.EventDeleted, id, at, map[string]string{"roomId": id})
}

// deleteRecordings deletes the metadata of recordings recs (a re-run
// deletes nothing more) and adds a recording_deleted event for each.
func (r *Rooms) deleteRecordings(ctx context.Context, cause string, recs []events.Recording, at time.Time, out *handler.Outcome) error {
	if len(recs) == 0 {
		return nil
	}
	ids := make([]string, len(recs))
	for i, rec := range recs {
		ids[i] = rec.EgressID
	}
	if err := r.Store.DeleteRecordings(ctx, ids); err != nil {
		return err
	}
	for _, rec := range recs {
		ev, err := events.NewEvent(cause, events.EventRecordingDeleted, rec.RoomID, at, rec)
		if err != nil {
			return err
		}
		// One event per recording: the event ID names the egress.
		ev.ID = events.EventID(cause, events.EventRecordingDeleted, rec.RoomID+":"+rec.EgressID)
		out.Events = append(out.Events, ev)
	}
	return nil
}

// schedule sets the meeting end action of a room whose meeting is live
// (and ends the meeting for withMeeting force): room_finished then deletes
// or closes it. Should the meeting have ended between the plan and the
// update (its room_finished found no end action), it is applied now.
func (h deleteHandler) schedule(ctx context.Context, job *handler.Job[events.DeleteRooms], pr plannedRoom, out *handler.Outcome) (*store.Room, error) {
	room, err := h.updateRoom(ctx, pr.RoomID, job.ID, func(r *store.Room) bool {
		if r.MeetingEndAction == pr.EndAction {
			return false
		}
		// The room_finished that applies it goes on in this trace.
		r.MeetingEndAction, r.EndTrace = pr.EndAction, job.Trace
		return true
	})
	if errors.Is(err, errGone) {
		// Deleted meanwhile: its meeting ended, and its room_finished
		// applied the end action this command (on an earlier delivery that
		// crashed before completing) or another set. The result says it
		// was scheduled; its event says so too, with the room ID alone.
		return nil, out.Event(job.ID, events.EventDeletionScheduled, pr.RoomID, job.Now, map[string]string{"roomId": pr.RoomID})
	}
	if err != nil {
		return nil, err
	}
	if err := out.Event(job.ID, events.EventDeletionScheduled, pr.RoomID, job.Now, room.View()); err != nil {
		return nil, err
	}
	// LiveKit still having the room means room_finished is yet to come;
	// otherwise the end action is applied now. (Asked on every delivery,
	// so a re-run after a crash converges on the same writes.)
	exists, err := h.Meetings.RoomExists(ctx, pr.RoomID)
	if err != nil {
		return nil, err
	}
	if exists {
		if pr.EndMeeting {
			if err := h.Meetings.DeleteRoom(ctx, pr.RoomID); err != nil {
				return nil, err
			}
		} else {
			h.signalMarkedLog(ctx, job.Log, pr.RoomID)
		}
		return room, nil
	}
	job.Log.WithField("room_id", pr.RoomID).Info("meeting ended while scheduling; end action applied now")
	if pr.EndAction == events.EndActionDelete {
		return nil, h.deleteNow(ctx, job.ID, pr.RoomID, pr.Recordings, job.Now, out)
	}
	room, err = h.updateRoom(ctx, pr.RoomID, job.ID+":close", func(r *store.Room) bool {
		if r.Status == events.StatusActiveMeeting {
			return false // a new meeting: its end closes the room
		}
		r.Status, r.MeetingEndAction = events.StatusClosed, events.EndActionNone
		return true
	})
	if errors.Is(err, errGone) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return room, out.Event(job.ID, events.EventClosed, pr.RoomID, job.Now, room.View())
}
