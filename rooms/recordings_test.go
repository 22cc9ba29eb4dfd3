package rooms_test

import (
	"context"
	"encoding/json"
	"sync/atomic"
	"testing"
	"time"

	lkproto "github.com/livekit/protocol/livekit"
	"github.com/stretchr/testify/require"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/internal/workertest"
	"github.com/roomkeeper/roomkeeper/natsapi"
	"github.com/roomkeeper/roomkeeper/store"
)

const (
	hookKey    = "hook-key"
	hookSecret = "hook-secret-long-enough-for-hs256-0123456789"
)

// egressEvent is a LiveKit egress webhook event, built from LiveKit's own
// protocol types: a room composite recording to a file.
func egressEvent(id, event, room, egressID string, status lkproto.EgressStatus, updatedAt time.Time) *lkproto.WebhookEvent {
	info := &lkproto.EgressInfo{
		EgressId: egressID, RoomId: "RM_" + room, RoomName: room, Status: status,
		StartedAt: updatedAt.Add(-time.Minute).UnixNano(), UpdatedAt: updatedAt.UnixNano(),
		Request: &lkproto.EgressInfo_RoomComposite{RoomComposite: &lkproto.RoomCompositeEgressRequest{RoomName: room, Layout: "grid"}},
	}
	switch status {
	case lkproto.EgressStatus_EGRESS_COMPLETE, lkproto.EgressStatus_EGRESS_FAILED:
		info.EndedAt = updatedAt.UnixNano()
		info.FileResults = []*lkproto.FileInfo{{Filename: room + "/" + egressID + ".mp4", Size: 4096, Duration: int64(90 * time.Second)}}
		if status == lkproto.EgressStatus_EGRESS_FAILED {
			info.Error = "encoder crashed"
		}
	}
	return &lkproto.WebhookEvent{Id: id, Event: event, EgressInfo: info, CreatedAt: updatedAt.Unix()}
}

// ledgerDone waits until webhook event id was handled.
func (b *bundle) ledgerDone(t *testing.T, id string) {
	t.Helper()
	require.Eventually(t, func() bool {
		rec, err := b.Store.GetCommand(context.Background(), "lk:"+id)
		return err == nil && rec.Status == store.StatusDone
	}, 30*time.Second, 20*time.Millisecond, "webhook %s handled", id)
}

// Egress webhooks, signed as LiveKit signs them and posted to the
// receiver, become the recording's metadata: keyed by egress ID, with its
// status, times and file; delivered out of order and twice, the latest
// state wins; an egress of an unknown room is ignored.
func TestEgressWebhooksKeepRecordingMetadata(t *testing.T) {
	t.Parallel()
	b := setup(t, workertest.SetupOpts{})
	b.Start(t, workertest.WorkerOpts{})
	const room = "Rec-aaaaaaaaaaaaaaa"
	b.insertRoom(t, room, nil, func(r *store.Room) { r.RoomName = "Recorded" })
	hook := b.receiver(t, hookKey, hookSecret)
	post := func(ev *lkproto.WebhookEvent) { postWebhook(t, hook.URL, hookKey, hookSecret, ev) }
	t0 := time.Now()

	// ended first, then the older updated and started, then ended again.
	post(egressEvent("EV_end", "egress_ended", room, "EG_1", lkproto.EgressStatus_EGRESS_COMPLETE, t0.Add(3*time.Second)))
	b.ledgerDone(t, "EV_end")
	post(egressEvent("EV_upd", "egress_updated", room, "EG_1", lkproto.EgressStatus_EGRESS_ACTIVE, t0.Add(2*time.Second)))
	post(egressEvent("EV_start", "egress_started", room, "EG_1", lkproto.EgressStatus_EGRESS_STARTING, t0.Add(time.Second)))
	post(egressEvent("EV_end", "egress_ended", room, "EG_1", lkproto.EgressStatus_EGRESS_COMPLETE, t0.Add(3*time.Second)))
	post(egressEvent("EV_other", "egress_started", "Unknown-aaaaaaaaaaaaaaa", "EG_9", lkproto.EgressStatus_EGRESS_STARTING, t0))
	for _, id := range []string{"EV_upd", "EV_start", "EV_other"} {
		b.ledgerDone(t, id)
	}
	require.Eventually(t, b.webhooksSettled, 30*time.Second, 20*time.Millisecond)

	got, err := b.Store.GetRecording(ctxT(t, 5*time.Second), "EG_1")
	require.NoError(t, err)
	require.Equal(t, store.RecordingComplete, got.Status, "the older states came later and changed nothing")
	require.Equal(t, room, got.RoomID)
	require.Equal(t, "Recorded", got.RoomName)
	require.Equal(t, room+"/EG_1.mp4", got.Filename)
	require.EqualValues(t, 4096, got.Size)
	require.InDelta(t, 90.0, got.Duration, 0.001)
	require.Equal(t, t0.Add(3*time.Second-time.Minute).UnixMilli(), got.StartDate, "the ended state's")
	require.Equal(t, t0.Add(3*time.Second).UnixMilli(), got.EndDate)
	require.Equal(t, room+"--EG_1", got.RecordingID())
	_, err = b.Store.GetRecording(ctxT(t, 5*time.Second), "EG_9")
	require.ErrorIs(t, err, store.ErrNotFound, "an egress of a room roomkeeper does not know is ignored")
	// Only the state that changed the store was published: one
	// recording_ended, none for the older started and updated.
	require.Len(t, b.eventsOfRoom(t, events.EventRecordingEnded, room), 1)
	require.Empty(t, b.eventsOfRoom(t, events.EventRecordingUpdated, room))
	require.Empty(t, b.eventsOfRoom(t, events.EventRecordingStarted, room))
	require.Empty(t, b.eventsOfRoom(t, events.EventRecordingStarted, "Unknown-aaaaaaaaaaaaaaa"))

	// A second recording, in progress: a delete of the room now has
	// recordings to weigh (room_has_recordings).
	post(egressEvent("EV_2", "egress_started", room, "EG_2", lkproto.EgressStatus_EGRESS_ACTIVE, t0))
	b.ledgerDone(t, "EV_2")
	_, dr := b.deleteResult(t, "del-recs", events.DeleteRooms{RoomIDs: []string{room}})
	require.Equal(t, events.DeleteErrorRoomHasRecordings, dr.Failed[0].Error)

	// withRecordings force: the room and both recordings go, one
	// recording_deleted each, carrying the metadata.
	_, dr = b.deleteResult(t, "del-force", events.DeleteRooms{RoomIDs: []string{room}, WithRecordings: events.PolicyForce})
	require.Equal(t, events.DeleteSuccessRoomAndRecordingsDeleted, dr.Deleted[0].SuccessCode)
	require.Empty(t, b.recordingsOf(t, room))
	evs := b.eventsOfRoom(t, events.EventRecordingDeleted, room)
	require.Len(t, evs, 2)
	byEgress := map[string]events.Recording{}
	for _, ev := range evs {
		var rec events.Recording
		require.NoError(t, jsonUnmarshal(ev.Data, &rec))
		byEgress[rec.EgressID] = rec
	}
	require.Equal(t, store.RecordingComplete, byEgress["EG_1"].Status)
	require.Equal(t, room+"/EG_1.mp4", byEgress["EG_1"].Filename)
	require.Equal(t, store.RecordingActive, byEgress["EG_2"].Status)
	require.Equal(t, room+"--EG_2", byEgress["EG_2"].RecordingID)
}

// A malformed egress event (no egress ID) is given up, not retried.
func TestEgressWebhookWithoutEgressIsDeadLettered(t *testing.T) {
	t.Parallel()
	b := setup(t, workertest.SetupOpts{})
	b.Start(t, workertest.WorkerOpts{})
	hook := b.receiver(t, hookKey, hookSecret)
	ev := egressEvent("EV_bad", "egress_updated", "Rec-aaaaaaaaaaaaaaa", "", lkproto.EgressStatus_EGRESS_ACTIVE, time.Now())
	postWebhook(t, hook.URL, hookKey, hookSecret, ev)
	require.Eventually(t, func() bool {
		return len(b.StreamMsgs(t, events.StreamDead, "rooms.dead.webhook_egress_updated")) == 1
	}, 30*time.Second, 20*time.Millisecond)
}

// Each egress webhook that changes the stored recording publishes its
// event (recording_started, recording_updated, recording_ended, data: the
// recording with the room's name); the same state again under another
// webhook ID publishes nothing; a crash after the state was stored but
// before the completion still publishes the event once on the
// redelivery (the decision is the plan, stored with the claim).
func TestEgressWebhooksPublishRecordingEvents(t *testing.T) {
	t.Parallel()
	b := setup(t, workertest.SetupOpts{Topology: func(top *natsapi.Topology) { top.AckWait = time.Second }})
	var crashed atomic.Bool
	b.Start(t, workertest.WorkerOpts{Fault: func(s, id string) bool {
		return s == "applied" && id == "lk:EV_r2" && crashed.CompareAndSwap(false, true)
	}})
	const room = "Rec-bbbbbbbbbbbbbbb"
	b.insertRoom(t, room, nil, func(r *store.Room) { r.RoomName = "Recorded" })
	hook := b.receiver(t, hookKey, hookSecret)
	post := func(ev *lkproto.WebhookEvent) { postWebhook(t, hook.URL, hookKey, hookSecret, ev) }
	t0 := time.Now()

	post(egressEvent("EV_r1", "egress_started", room, "EG_1", lkproto.EgressStatus_EGRESS_STARTING, t0))
	b.ledgerDone(t, "EV_r1")
	post(egressEvent("EV_r1b", "egress_started", room, "EG_1", lkproto.EgressStatus_EGRESS_STARTING, t0))
	b.ledgerDone(t, "EV_r1b")
	post(egressEvent("EV_r2", "egress_updated", room, "EG_1", lkproto.EgressStatus_EGRESS_ACTIVE, t0.Add(time.Second)))
	b.ledgerDone(t, "EV_r2")
	require.True(t, crashed.Load())
	post(egressEvent("EV_r3", "egress_ended", room, "EG_1", lkproto.EgressStatus_EGRESS_FAILED, t0.Add(2*time.Second)))
	b.ledgerDone(t, "EV_r3")
	require.Eventually(t, b.webhooksSettled, 30*time.Second, 20*time.Millisecond)

	for _, tt := range []struct{ eventType, cause, status string }{
		{events.EventRecordingStarted, "EV_r1", store.RecordingStarting},
		{events.EventRecordingUpdated, "EV_r2", store.RecordingActive},
		{events.EventRecordingEnded, "EV_r3", store.RecordingFailed},
	} {
		evs := b.eventsOfRoom(t, tt.eventType, room)
		require.Len(t, evs, 1, tt.eventType)
		require.Equal(t, events.EventID("lk:"+tt.cause, tt.eventType, room+":EG_1"), evs[0].ID)
		var rec events.Recording
		require.NoError(t, jsonUnmarshal(evs[0].Data, &rec))
		require.Equal(t, tt.status, rec.Status, tt.eventType)
		require.Equal(t, room+"--EG_1", rec.RecordingID)
		require.Equal(t, "Recorded", rec.RoomName)
	}
	var ended events.Recording
	require.NoError(t, jsonUnmarshal(b.eventsOfRoom(t, events.EventRecordingEnded, room)[0].Data, &ended))
	require.Equal(t, "encoder crashed", ended.Error)
	require.NotNil(t, ended.EndDate)
}

func jsonUnmarshal(raw []byte, v any) error { return json.Unmarshal(raw, v) }
