package rooms_test

import (
	"context"
	"encoding/json"
	"sync/atomic"
	"testing"
	"time"

	lkproto "github.com/livekit/protocol/livekit"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/internal/workertest"
	"github.com/roomkeeper/roomkeeper/natsapi"
	"github.com/roomkeeper/roomkeeper/store"
)

// webhook publishes a LiveKit webhook event about room as the receiver
// does: the event's protojson on livekit.webhook.<event>, its ID as the
// message ID. The worker's ledger knows it as "lk:<id>".
func (b *bundle) webhook(t *testing.T, id, event, room string) {
	t.Helper()
	body, err := protojson.Marshal(&lkproto.WebhookEvent{
		Id: id, Event: event, Room: &lkproto.Room{Name: room}, CreatedAt: time.Now().Unix(),
	})
	require.NoError(t, err)
	_, err = b.JS.Publish(ctxT(t, 5*time.Second), events.WebhookPrefix+event, body, jetstream.WithMsgID(id))
	require.NoError(t, err)
}

// webhooksSettled: every webhook event published so far was handled.
func (b *bundle) webhooksSettled() bool {
	c, err := b.JS.Consumer(context.Background(), events.StreamWebhooks, events.ConsumerWorkers)
	if err != nil {
		return false
	}
	info, err := c.Info(context.Background())
	return err == nil && info.NumAckPending == 0 && info.NumPending == 0
}

// eventIDs are the IDs of the events on subject (rooms.events.<type>).
func (b *bundle) eventIDs(t *testing.T, subject string) []string {
	t.Helper()
	var ids []string
	for _, m := range b.StreamMsgs(t, events.StreamEvents, subject) {
		var ev events.Event
		require.NoError(t, json.Unmarshal(m.Data(), &ev))
		require.Equal(t, ev.ID, m.Headers().Get(nats.MsgIdHdr))
		ids = append(ids, ev.ID)
	}
	return ids
}

// A worker crashes after a step of a room_finished; the redelivery
// completes it with the room's meetingEndAction: delete (the room and its
// recordings go: meeting_ended, deleted and recording_deleted once each),
// close (closed, end action back to none: meeting_ended and closed) or
// none (open again: meeting_ended). (Before the plan, a crash after
// "applied" left the room deleted and the redelivery, finding no room,
// published no event.)
func TestRoomFinishedCrashBetweenStepsPublishesItsEventsOnce(t *testing.T) {
	t.Parallel()
	for _, action := range []string{events.EndActionDelete, events.EndActionClose, events.EndActionNone} {
		for _, step := range []string{"claimed", "applied", "completed", "published"} {
			t.Run(step+"/"+action, func(t *testing.T) {
				t.Parallel()
				b := setup(t, workertest.SetupOpts{Topology: func(top *natsapi.Topology) { top.AckWait = time.Second }})
				const room, evID = "Ending-aaaaaaaaaaaaaaa", "EV_finished1"
				const ledgerID = "lk:" + evID
				b.insertRoom(t, room, nil, func(r *store.Room) {
					activeRoom(r)
					r.MeetingEndAction = action
				})
				recs := b.putRecordings(t, room, 2)
				var crashed atomic.Bool
				b.Start(t, workertest.WorkerOpts{Fault: func(s, id string) bool {
					return s == step && id == ledgerID && crashed.CompareAndSwap(false, true)
				}})
				b.webhook(t, evID, "room_finished", room)
				require.Eventually(t, crashed.Load, 10*time.Second, 10*time.Millisecond)
				require.Eventually(t, func() bool {
					rec, err := b.Store.GetCommand(context.Background(), ledgerID)
					return err == nil && rec.Status == store.StatusDone && b.webhooksSettled()
				}, 30*time.Second, 20*time.Millisecond, "the redelivery completes the event")

				require.Equal(t, []string{events.EventID(ledgerID, events.EventMeetingEnded, room)},
					b.eventIDs(t, events.EventSubject(events.EventMeetingEnded)))
				// meeting_ended carries the room as its end left it (as it
				// was, for an end that deleted it), as upstream's
				// meetingEnded does.
				ended := meetingRoom(t, b.eventsOfRoom(t, events.EventMeetingEnded, room)[0])
				require.Equal(t, room, ended.RoomID)
				require.NotEmpty(t, ended.RoomName)
				require.Equal(t, map[string]string{
					events.EndActionDelete: events.StatusActiveMeeting,
					events.EndActionClose:  events.StatusClosed,
					events.EndActionNone:   events.StatusOpen,
				}[action], ended.Status)
				switch action {
				case events.EndActionDelete:
					require.False(t, b.Exists(t, room))
					require.Empty(t, b.recordingsOf(t, room))
					require.Equal(t, []string{events.EventID(ledgerID, events.EventDeleted, room)},
						b.eventIDs(t, events.EventSubject(events.EventDeleted)))
					require.Len(t, b.eventIDs(t, events.EventSubject(events.EventRecordingDeleted)), 2)
					return
				case events.EndActionClose:
					got := b.storedRoom(t, room)
					require.Equal(t, events.StatusClosed, got.Status)
					require.Equal(t, events.EndActionNone, got.MeetingEndAction)
					require.Equal(t, []string{events.EventID(ledgerID, events.EventClosed, room)},
						b.eventIDs(t, events.EventSubject(events.EventClosed)))
				default:
					got := b.storedRoom(t, room)
					require.Equal(t, events.StatusOpen, got.Status)
					require.Empty(t, b.eventIDs(t, events.EventSubject(events.EventClosed)))
				}
				require.Equal(t, recs, b.recordingsOf(t, room))
				require.Empty(t, b.eventIDs(t, events.EventSubject(events.EventDeleted)))
			})
		}
	}
}

// room_started makes the room active_meeting, once per event.
func TestRoomStartedMakesTheRoomActive(t *testing.T) {
	t.Parallel()
	b := setup(t, workertest.SetupOpts{})
	b.Start(t, workertest.WorkerOpts{})
	const room = "Starting-aaaaaaaaaaaaaaa"
	b.insertRoom(t, room, nil, nil)
	b.webhook(t, "EV_started1", "room_started", room)
	b.webhook(t, "EV_started1", "room_started", room)
	require.Eventually(t, func() bool { return b.storedRoom(t, room).Status == events.StatusActiveMeeting }, 30*time.Second, 20*time.Millisecond)
	require.Eventually(t, b.webhooksSettled, 30*time.Second, 20*time.Millisecond)
	require.Len(t, b.eventIDs(t, events.EventSubject(events.EventMeetingStarted)), 1)
	started := meetingRoom(t, b.eventsOfRoom(t, events.EventMeetingStarted, room)[0])
	require.Equal(t, room, started.RoomID)
	require.Equal(t, events.StatusActiveMeeting, started.Status, "the room as the start left it")
}

// meetingRoom is the room a meeting event carries.
func meetingRoom(t *testing.T, ev events.Event) events.Room {
	t.Helper()
	var r events.Room
	require.NoError(t, json.Unmarshal(ev.Data, &r))
	return r
}

// A room_finished for a room roomkeeper does not know changes nothing and
// publishes nothing.
func TestRoomFinishedForAnUnknownRoomIsIgnored(t *testing.T) {
	t.Parallel()
	b := setup(t, workertest.SetupOpts{})
	b.insertRoom(t, "Other-aaaaaaaaaaaaaaa", nil, nil)
	b.Start(t, workertest.WorkerOpts{})
	b.webhook(t, "EV_unknown", "room_finished", "Unknown-aaaaaaaaaaaaaaa")
	require.Eventually(t, func() bool {
		rec, err := b.Store.GetCommand(context.Background(), "lk:EV_unknown")
		return err == nil && rec.Status == store.StatusDone && b.webhooksSettled()
	}, 30*time.Second, 20*time.Millisecond)
	require.Empty(t, b.StreamMsgs(t, events.StreamEvents, "rooms.events.>"))
	require.Empty(t, b.StreamMsgs(t, events.StreamDead, "rooms.dead.>"))
	require.EqualValues(t, 1, b.CountRooms(t))
}
