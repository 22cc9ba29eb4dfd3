package rooms

import (
	"context"
	"errors"
	"time"

	lkproto "github.com/livekit/protocol/livekit"
	"github.com/sirupsen/logrus"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/handler"
	"github.com/roomkeeper/roomkeeper/store"
)

// EgressStarted, EgressUpdated and EgressEnded are LiveKit's egress
// webhook events: the state of a recording, kept as its metadata.
type (
	EgressStarted struct{ Event *lkproto.WebhookEvent }
	EgressUpdated struct{ Event *lkproto.WebhookEvent }
	EgressEnded   struct{ Event *lkproto.WebhookEvent }
)

// Subject of the event.
func (EgressStarted) Subject() string { return events.SubjectEgressStarted }

// Subject of the event.
func (EgressUpdated) Subject() string { return events.SubjectEgressUpdated }

// Subject of the event.
func (EgressEnded) Subject() string { return events.SubjectEgressEnded }

// decodeEgress decodes an egress webhook event: it must name the egress
// and its room.
func decodeEgress[M any](wrap func(*lkproto.WebhookEvent) M) handler.Decoder[M] {
	return func(_ string, body []byte) (M, error) {
		var zero M
		ev := &lkproto.WebhookEvent{}
		if err := webhookJSON.Unmarshal(body, ev); err != nil {
			return zero, events.Invalid("malformed webhook event", events.FieldError{Field: "body", Message: err.Error()})
		}
		if ev.GetEgressInfo().GetEgressId() == "" {
			return zero, events.Invalid("egress event without an egress", events.FieldError{Field: "egressInfo.egressId", Message: "is required"})
		}
		if ev.GetEgressInfo().GetRoomName() == "" {
			return zero, events.Invalid("egress event without a room", events.FieldError{Field: "egressInfo.roomName", Message: "is required"})
		}
		return wrap(ev), nil
	}
}

// egressMsg is one of the egress webhook messages.
type egressMsg interface {
	EgressStarted | EgressUpdated | EgressEnded
	Subject() string
}

// webhookOf is the LiveKit event an egress message carries.
func webhookOf[M egressMsg](m M) *lkproto.WebhookEvent {
	switch m := any(m).(type) {
	case EgressStarted:
		return m.Event
	case EgressUpdated:
		return m.Event
	case EgressEnded:
		return m.Event
	}
	return nil
}

// egressHandler handles one kind of egress webhook: it keeps the
// recording state and, when that state changed what the store held,
// publishes eventType (recording_started, recording_updated or
// recording_ended, as upstream sends recordingStarted, recordingUpdated
// and recordingEnded for egress_started, egress_updated and egress_ended).
type egressHandler[M egressMsg] struct {
	*Rooms
	eventType string
}

// recordingPlan is the decision of an egress webhook, taken before the
// claim and stored with it: whether its state is news (newer than the
// stored one). A re-run after a crash, finding its own state already
// stored, still publishes the event the first run decided on.
type recordingPlan struct {
	Emit bool `json:"emit"`
}

// Plan compares the webhook's state with the stored one.
func (h egressHandler[M]) Plan(ctx context.Context, msg M, _ time.Time) (any, error) {
	return h.planEgress(ctx, webhookOf(msg))
}

func (h egressHandler[M]) planEgress(ctx context.Context, ev *lkproto.WebhookEvent) (recordingPlan, error) {
	info := ev.GetEgressInfo()
	room, err := h.Store.GetRoom(ctx, info.GetRoomName())
	if errors.Is(err, store.ErrNotFound) {
		return recordingPlan{}, nil
	}
	if err != nil {
		return recordingPlan{}, err
	}
	old, err := h.Store.GetRecording(ctx, info.GetEgressId())
	if errors.Is(err, store.ErrNotFound) {
		return recordingPlan{Emit: true}, nil
	}
	if err != nil {
		return recordingPlan{}, err
	}
	return recordingPlan{Emit: recordingOf(info, room.RoomName).Newer(old)}, nil
}

// Handle stores the state and publishes the event the plan decided on.
func (h egressHandler[M]) Handle(ctx context.Context, job *handler.Job[M]) (*handler.Outcome, error) {
	ev := webhookOf(job.Msg)
	plan, err := handler.Plan(ctx, job, func() (recordingPlan, error) { return h.planEgress(ctx, ev) })
	if err != nil {
		return nil, err
	}
	out, rec, err := h.ingestEgress(ctx, job.Log, ev)
	if err != nil || rec == nil || !plan.Emit {
		return out, err
	}
	view := rec.View()
	// One event per egress state: the event ID names the egress.
	e, err := events.NewEvent(job.ID, h.eventType, rec.RoomID, eventTime(ev, job.Now), view)
	if err != nil {
		return nil, err
	}
	e.ID = events.EventID(job.ID, h.eventType, rec.RoomID+":"+rec.EgressID)
	out.Events = append(out.Events, e)
	return out, nil
}

// registerRecordings adds the handlers of LiveKit's egress webhooks.
func (r *Rooms) registerRecordings(reg *handler.Registry) error {
	return errors.Join(
		handler.Register(reg, egressHandler[EgressStarted]{r, events.EventRecordingStarted}, handler.Options[EgressStarted]{NoResult: true,
			Decode: decodeEgress(func(e *lkproto.WebhookEvent) EgressStarted { return EgressStarted{e} })}),
		handler.Register(reg, egressHandler[EgressUpdated]{r, events.EventRecordingUpdated}, handler.Options[EgressUpdated]{NoResult: true,
			Decode: decodeEgress(func(e *lkproto.WebhookEvent) EgressUpdated { return EgressUpdated{e} })}),
		handler.Register(reg, egressHandler[EgressEnded]{r, events.EventRecordingEnded}, handler.Options[EgressEnded]{NoResult: true,
			Decode: decodeEgress(func(e *lkproto.WebhookEvent) EgressEnded { return EgressEnded{e} })}),
	)
}

// ingestEgress stores the recording state an egress event carries, unless
// the store holds a later one (LiveKit's webhooks may come in any order,
// and any number of times): keyed by egress ID and ordered by the egress's
// update time, so every delivery and every order converges on the latest
// state. An egress of a room roomkeeper does not know is ignored, as
// upstream ignores events that are not its own (rec is then nil).
func (r *Rooms) ingestEgress(ctx context.Context, log logrus.FieldLogger, ev *lkproto.WebhookEvent) (out *handler.Outcome, rec *store.Recording, err error) {
	info := ev.GetEgressInfo()
	log = log.WithField("room_id", info.GetRoomName()).WithField("egress_id", info.GetEgressId())
	room, err := r.Store.GetRoom(ctx, info.GetRoomName())
	if errors.Is(err, store.ErrNotFound) {
		log.Debug("egress of a room roomkeeper does not know; ignored")
		return &handler.Outcome{}, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	rec = recordingOf(info, room.RoomName)
	stored, err := r.Store.PutRecording(ctx, rec)
	if err != nil {
		return nil, nil, err
	}
	log.WithField("status", rec.Status).WithField("stored", stored).Debug("recording metadata")
	return &handler.Outcome{Data: rec.View()}, rec, nil
}

// recordingOf is the recording metadata of an egress (upstream
// RecordingHelper.toRecordingInfo).
func recordingOf(info *lkproto.EgressInfo, roomName string) *store.Recording {
	rec := &store.Recording{
		EgressID: info.GetEgressId(), RoomID: info.GetRoomName(), RoomName: roomName,
		Status: recordingStatus(info.GetStatus()), Error: info.GetError(), Details: info.GetDetails(),
		StartDate: nsToMs(info.GetStartedAt()), EndDate: nsToMs(info.GetEndedAt()),
		UpdatedAt: info.GetUpdatedAt(),
	}
	if rec.UpdatedAt == 0 {
		rec.UpdatedAt = max(info.GetStartedAt(), info.GetEndedAt())
	}
	file := info.GetFile() //nolint:staticcheck // SA1019: egresses before fileResults existed report their file here only
	if files := info.GetFileResults(); len(files) > 0 {
		file = files[0]
	}
	if file != nil {
		rec.Filename = file.GetFilename()
		rec.Size = file.GetSize()
		rec.Duration = float64(file.GetDuration()) / 1e9
	}
	return rec
}

// recordingStatus maps an egress status to a recording status.
func recordingStatus(s lkproto.EgressStatus) string {
	switch s {
	case lkproto.EgressStatus_EGRESS_ACTIVE:
		return store.RecordingActive
	case lkproto.EgressStatus_EGRESS_ENDING:
		return store.RecordingEnding
	case lkproto.EgressStatus_EGRESS_COMPLETE:
		return store.RecordingComplete
	case lkproto.EgressStatus_EGRESS_FAILED:
		return store.RecordingFailed
	case lkproto.EgressStatus_EGRESS_ABORTED:
		return store.RecordingAborted
	case lkproto.EgressStatus_EGRESS_LIMIT_REACHED:
		return store.RecordingLimitReached
	default:
		return store.RecordingStarting
	}
}

func nsToMs(ns int64) int64 { return ns / 1e6 }
