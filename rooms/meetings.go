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

// roomStarted records that the room's meeting is live.
func (r *Rooms) roomStarted(ctx context.Context, job *handler.Job[RoomStarted]) (*handler.Outcome, error) {
	id := job.Msg.Event.GetRoom().GetName()
	job.Log = job.Log.WithField("room_id", id)
	room, err := r.updateRoom(ctx, id, job.ID, func(room *store.Room) bool {
		if room.Meeting == store.MeetingActive {
			return false
		}
		room.Meeting = store.MeetingActive
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
	return out, out.Event(job.ID, events.EventMeetingStarted, id, eventTime(job.Msg.Event, job.Now), map[string]string{"roomId": id})
}

// roomFinishedHandler applies LiveKit's room_finished: it deletes a room
// marked for deletion, and records the end of the meeting of any other.
//
// Which of the two it does is its plan, decided from the room as the first
// delivery found it and stored with the claim; the events follow from the
// plan alone. So a delivery after a crash, finding the room already gone
// or already updated, still publishes what the first would have
// (meeting_ended, and deleted for a marked room), once: the deletion is a
// write applied with the completion, and the end of the meeting a
// compare-and-set update carrying the event's ID, which a re-run finds
// done.
type roomFinishedHandler struct{ *Rooms }

// What a room_finished does (finishPlan.Action).
const (
	finishIgnore = "ignore" // a room roomkeeper does not know
	finishEnd    = "end"    // the meeting of a room not marked for deletion ends
	finishDelete = "delete" // a room marked for deletion is deleted
)

// finishPlan is the decision of a room_finished.
type finishPlan struct {
	Action string `json:"action"`
}

// Plan reads the room before the claim, so the decision is stored with it.
func (h roomFinishedHandler) Plan(ctx context.Context, msg RoomFinished, _ time.Time) (any, error) {
	return h.decide(ctx, msg.Event.GetRoom().GetName())
}

func (h roomFinishedHandler) decide(ctx context.Context, id string) (finishPlan, error) {
	room, err := h.Store.GetRoom(ctx, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return finishPlan{Action: finishIgnore}, nil
	case err != nil:
		return finishPlan{}, err
	case room.MarkedForDeletion:
		return finishPlan{Action: finishDelete}, nil
	default:
		return finishPlan{Action: finishEnd}, nil
	}
}

func (h roomFinishedHandler) Handle(ctx context.Context, job *handler.Job[RoomFinished]) (*handler.Outcome, error) {
	id := job.Msg.Event.GetRoom().GetName()
	job.Log = job.Log.WithField("room_id", id)
	plan, err := handler.Plan(ctx, job, func() (finishPlan, error) { return h.decide(ctx, id) })
	if err != nil {
		return nil, err
	}
	at := eventTime(job.Msg.Event, job.Now)
	out := &handler.Outcome{Data: map[string]string{"roomId": id}}
	switch plan.Action {
	case finishIgnore:
		job.Log.Debug("room_finished for a room roomkeeper does not know; ignored")
		return &handler.Outcome{}, nil
	case finishDelete:
		// Deleted with the completion.
		out.Writes = append(out.Writes, store.DeleteRoom(id))
		job.Log.Info("meeting ended; room marked for deletion deleted")
		return out, errors.Join(
			out.Event(job.ID, events.EventMeetingEnded, id, at, map[string]string{"roomId": id}),
			out.Event(job.ID, events.EventDeleted, id, at, map[string]string{"roomId": id}),
		)
	}
	// The room may have been marked since the plan: the delete that marked
	// it finds LiveKit without the room and deletes it (deleteHandler).
	if _, err := h.updateRoom(ctx, id, job.ID, func(room *store.Room) bool {
		if room.Meeting == store.MeetingEnded {
			return false
		}
		room.Meeting = store.MeetingEnded
		return true
	}); err != nil && !errors.Is(err, errGone) {
		return nil, err
	}
	return out, out.Event(job.ID, events.EventMeetingEnded, id, at, map[string]string{"roomId": id})
}

// eventTime is when LiveKit says the event happened, else now.
func eventTime(ev *lkproto.WebhookEvent, now time.Time) time.Time {
	if sec := ev.GetCreatedAt(); sec > 0 {
		return time.Unix(sec, 0)
	}
	return now
}
