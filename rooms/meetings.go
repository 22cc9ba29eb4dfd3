package rooms

import (
	"context"
	"errors"
	"time"

	lkproto "github.com/livekit/protocol/livekit"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/handler"
	"github.com/roomkeeper/roomkeeper/store"
)

// RoomStarted is LiveKit's room_started webhook event.
type RoomStarted struct{ Event *lkproto.WebhookEvent }

// Subject of the event.
func (RoomStarted) Subject() string { return events.SubjectRoomStarted }

// RoomFinished is LiveKit's room_finished webhook event.
type RoomFinished struct{ Event *lkproto.WebhookEvent }

// Subject of the event.
func (RoomFinished) Subject() string { return events.SubjectRoomFinished }

var webhookJSON = protojson.UnmarshalOptions{DiscardUnknown: true, AllowPartial: true}

// decodeWebhook decodes a LiveKit webhook event body (protojson, as the
// receiver stored it unchanged).
func decodeWebhook[M any](wrap func(*lkproto.WebhookEvent) M) handler.Decoder[M] {
	return func(_ string, body []byte) (M, error) {
		ev := &lkproto.WebhookEvent{}
		if err := webhookJSON.Unmarshal(body, ev); err != nil {
			var zero M
			return zero, events.Invalid("malformed webhook event", events.FieldError{Field: "body", Message: err.Error()})
		}
		if ev.GetRoom().GetName() == "" {
			var zero M
			return zero, events.Invalid("webhook event without a room", events.FieldError{Field: "room.name", Message: "is required"})
		}
		return wrap(ev), nil
	}
}

// registerMeetings adds the handlers of LiveKit's room webhooks.
func (r *Rooms) registerMeetings(reg *handler.Registry) error {
	return errors.Join(
		handler.Register(reg, handler.Func[RoomStarted](r.roomStarted), handler.Options[RoomStarted]{
			NoResult: true,
			Decode:   decodeWebhook(func(e *lkproto.WebhookEvent) RoomStarted { return RoomStarted{e} }),
		}),
		handler.Register(reg, roomFinishedHandler{r}, handler.Options[RoomFinished]{
			NoResult: true,
			Decode:   decodeWebhook(func(e *lkproto.WebhookEvent) RoomFinished { return RoomFinished{e} }),
		}),
	)
}

// roomStarted records that the room's meeting is live: status
// active_meeting.
func (r *Rooms) roomStarted(ctx context.Context, job *handler.Job[RoomStarted]) (*handler.Outcome, error) {
	id := job.Msg.Event.GetRoom().GetName()
	job.Log = job.Log.WithField("room_id", id)
	room, err := r.updateRoom(ctx, id, job.ID, func(room *store.Room) bool {
		if room.Status == events.StatusActiveMeeting && room.Meeting == store.MeetingActive {
			return false
		}
		room.Status = events.StatusActiveMeeting
		room.Meeting = store.MeetingActive // the old model's field, until it goes
		return true
	})
	if errors.Is(err, errGone) {
		job.Log.Debug("room_started for a room roomkeeper does not know; ignored")
		return &handler.Outcome{}, nil
	}
	if err != nil {
		return nil, err
	}
	out := &handler.Outcome{Data: map[string]string{"roomId": room.RoomID}}
	// The room as the start left it, as upstream's meetingStarted carries it.
	return out, out.Event(job.ID, events.EventMeetingStarted, id, eventTime(job.Msg.Event, job.Now), room.View())
}

// roomFinishedHandler applies LiveKit's room_finished: the room's
// meetingEndAction (upstream handleRoomFinished): delete removes the room
// and its recordings, close closes it, none opens it; meeting_ended
// follows in every case.
//
// Which it does is its plan, decided from the room as the first delivery
// found it and stored with the claim; the events follow from the plan
// alone. So a delivery after a crash, finding the room already gone or
// already updated, still publishes what the first would have, once: the
// deletion is a write applied with the completion, and the other updates
// compare-and-set updates carrying the event's ID, which a re-run finds
// done.
type roomFinishedHandler struct{ *Rooms }

// What a room_finished does (finishPlan.Action).
const (
	finishIgnore = "ignore" // a room roomkeeper does not know
	finishOpen   = "open"   // end action none: the room opens
	finishClose  = "close"  // end action close: the room closes
	finishDelete = "delete" // end action delete: the room and its recordings go
)

// finishPlan is the decision of a meeting's end.
type finishPlan struct {
	Action string `json:"action"`
	// Recordings deleted with the room (finishDelete).
	Recordings []events.Recording `json:"recordings,omitempty"`
	// Trace is the traceparent of the command that scheduled the end
	// action (store.Room.EndTrace): the finish continues its trace.
	Trace string `json:"trace,omitempty"`
	// Room is the room as it was when its end was decided (finishDelete),
	// the data of its meeting_ended (a plan stored before it was kept
	// gives {roomId}).
	Room *events.Room `json:"room,omitempty"`
}

// Plan reads the room before the claim, so the decision is stored with it.
func (h roomFinishedHandler) Plan(ctx context.Context, msg RoomFinished, _ time.Time) (any, error) {
	return h.decideFinish(ctx, msg.Event.GetRoom().GetName())
}

// decideFinish decides what the end of room id's meeting does.
func (r *Rooms) decideFinish(ctx context.Context, id string) (finishPlan, error) {
	room, err := r.Store.GetRoom(ctx, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return finishPlan{Action: finishIgnore}, nil
	case err != nil:
		return finishPlan{}, err
	}
	return r.finishPlanOf(ctx, room)
}

// finishPlanOf decides what the end of room's meeting does, from its end
// action (a room of the old model marked for deletion is deleted).
func (r *Rooms) finishPlanOf(ctx context.Context, room *store.Room) (finishPlan, error) {
	switch {
	case room.MeetingEndAction == events.EndActionDelete || room.MarkedForDeletion:
		recs, err := r.Store.RoomRecordings(ctx, room.RoomID, maxRoomRecordings)
		if err != nil {
			return finishPlan{}, err
		}
		view := room.View()
		return finishPlan{Action: finishDelete, Recordings: recordingViews(recs), Trace: room.EndTrace, Room: &view}, nil
	case room.MeetingEndAction == events.EndActionClose:
		return finishPlan{Action: finishClose, Trace: room.EndTrace}, nil
	default:
		return finishPlan{Action: finishOpen}, nil
	}
}

func (h roomFinishedHandler) Handle(ctx context.Context, job *handler.Job[RoomFinished]) (*handler.Outcome, error) {
	id := job.Msg.Event.GetRoom().GetName()
	job.Log = job.Log.WithField("room_id", id)
	plan, err := handler.Plan(ctx, job, func() (finishPlan, error) { return h.decideFinish(ctx, id) })
	if err != nil {
		return nil, err
	}
	if plan.Action == finishIgnore {
		job.Log.Debug("room_finished for a room roomkeeper does not know; ignored")
		return &handler.Outcome{}, nil
	}
	out := &handler.Outcome{Data: map[string]string{"roomId": id}, Trace: plan.Trace}
	if _, err := h.finishMeeting(ctx, job.ID, id, plan, -1, eventTime(job.Msg.Event, job.Now), out); err != nil {
		return nil, err
	}
	job.Log.WithField("action", plan.Action).Info("meeting ended")
	return out, nil
}

// finishMeeting applies plan, the end of room id's meeting, for cause
// (a room_finished event, or the sweep that found LiveKit without the
// room), and adds meeting_ended and the events of the end action. With
// version >= 0, the status updates apply only to the room at that version
// (the sweep's guard against a webhook that came in meanwhile); it
// reports whether the end was applied.
func (r *Rooms) finishMeeting(ctx context.Context, cause, id string, plan finishPlan, version int64, at time.Time, out *handler.Outcome) (bool, error) {
	// meeting_ended carries the room (as upstream's meetingEnded does),
	// or {roomId} when it is gone.
	ended := func(room *events.Room) error {
		if room == nil {
			return out.Event(cause, events.EventMeetingEnded, id, at, map[string]string{"roomId": id})
		}
		return out.Event(cause, events.EventMeetingEnded, id, at, room)
	}
	if plan.Action == finishDelete {
		if err := ended(plan.Room); err != nil {
			return false, err
		}
		return true, r.deleteNow(ctx, cause, id, plan.Recordings, at, out)
	}
	room, err := r.updateRoom(ctx, id, cause, func(room *store.Room) bool {
		if version >= 0 && room.Version != version {
			return false
		}
		room.Meeting = store.MeetingEnded // the old model's field, until it goes
		if plan.Action == finishClose {
			room.Status, room.MeetingEndAction, room.EndTrace = events.StatusClosed, events.EndActionNone, ""
		} else if room.Status == events.StatusActiveMeeting || room.Status == "" {
			// A room closed meanwhile (update_status) stays closed.
			room.Status = events.StatusOpen
		}
		return true
	})
	if errors.Is(err, errGone) {
		// Deleted meanwhile: its meeting still ended.
		return true, ended(nil)
	}
	if err != nil {
		return false, err
	}
	if version >= 0 && !room.WasApplied(cause) {
		return false, nil // changed meanwhile: the next sweep looks again
	}
	view := room.View()
	if err := ended(&view); err != nil {
		return false, err
	}
	if plan.Action == finishClose {
		return true, out.Event(cause, events.EventClosed, id, at, room.View())
	}
	return true, nil
}

// eventTime is when LiveKit says the event happened, else now.
func eventTime(ev *lkproto.WebhookEvent, now time.Time) time.Time {
	if sec := ev.GetCreatedAt(); sec > 0 {
		return time.Unix(sec, 0)
	}
	return now
}
