package rooms

import (
	"context"
	"errors"

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

// registerRecordings adds the handlers of LiveKit's egress webhooks.
func (r *Rooms) registerRecordings(reg *handler.Registry) error {
	return errors.Join(
		handler.Register(reg, handler.Func[EgressStarted](func(ctx context.Context, job *handler.Job[EgressStarted]) (*handler.Outcome, error) {
			return r.ingestEgress(ctx, job.Log, job.Msg.Event)
		}), handler.Options[EgressStarted]{NoResult: true,
			Decode: decodeEgress(func(e *lkproto.WebhookEvent) EgressStarted { return EgressStarted{e} })}),
		handler.Register(reg, handler.Func[EgressUpdated](func(ctx context.Context, job *handler.Job[EgressUpdated]) (*handler.Outcome, error) {
			return r.ingestEgress(ctx, job.Log, job.Msg.Event)
		}), handler.Options[EgressUpdated]{NoResult: true,
			Decode: decodeEgress(func(e *lkproto.WebhookEvent) EgressUpdated { return EgressUpdated{e} })}),
		handler.Register(reg, handler.Func[EgressEnded](func(ctx context.Context, job *handler.Job[EgressEnded]) (*handler.Outcome, error) {
			return r.ingestEgress(ctx, job.Log, job.Msg.Event)
		}), handler.Options[EgressEnded]{NoResult: true,
			Decode: decodeEgress(func(e *lkproto.WebhookEvent) EgressEnded { return EgressEnded{e} })}),
	)
}

// ingestEgress stores the recording state an egress event carries, unless
// the store holds a later one (LiveKit's webhooks may come in any order,
// and any number of times): keyed by egress ID and ordered by the egress's
// update time, so every delivery and every order converges on the latest
// state. An egress of a room roomkeeper does not know is ignored, as
// upstream ignores events that are not its own.
func (r *Rooms) ingestEgress(ctx context.Context, log logrus.FieldLogger, ev *lkproto.WebhookEvent) (*handler.Outcome, error) {
	info := ev.GetEgressInfo()
	log = log.WithField("room_id", info.GetRoomName()).WithField("egress_id", info.GetEgressId())
	room, err := r.Store.GetRoom(ctx, info.GetRoomName())
	if errors.Is(err, store.ErrNotFound) {
		log.Debug("egress of a room roomkeeper does not know; ignored")
		return &handler.Outcome{}, nil
	}
	if err != nil {
		return nil, err
	}
	rec := recordingOf(info, room.RoomName)
	stored, err := r.Store.PutRecording(ctx, rec)
	if err != nil {
		return nil, err
	}
	log.WithField("status", rec.Status).WithField("stored", stored).Debug("recording metadata")
	return &handler.Outcome{Data: rec.View()}, nil
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
