package rooms_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	lkproto "github.com/livekit/protocol/livekit"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/internal/workertest"
	"github.com/roomkeeper/roomkeeper/natsapi"
	"github.com/roomkeeper/roomkeeper/rooms"
	"github.com/roomkeeper/roomkeeper/store"
	"github.com/roomkeeper/roomkeeper/store/storetest"
	"github.com/roomkeeper/roomkeeper/webhooks"
)

// lkDouble is a LiveKit double that also records the rooms it was asked
// to delete; deleting a room removes it (LiveKit then sends room_finished).
type lkDouble struct {
	*workertest.LKRooms
	mu      sync.Mutex
	deleted []string
}

func newLKDouble() *lkDouble { return &lkDouble{LKRooms: workertest.NewLKRooms()} }

func (l *lkDouble) DeleteRoom(_ context.Context, id string) error {
	l.mu.Lock()
	l.deleted = append(l.deleted, id)
	l.mu.Unlock()
	l.Set(id, false, false)
	return nil
}

func (l *lkDouble) deletedRooms() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.deleted...)
}

// activeRoom marks a stored room as in a meeting (room_started came).
func activeRoom(r *store.Room) {
	r.Status, r.Meeting = events.StatusActiveMeeting, store.MeetingActive
}

// putRecordings stores n complete recordings of room.
func (b *bundle) putRecordings(t *testing.T, room string, n int) []string {
	t.Helper()
	var ids []string
	for i := range n {
		id := fmt.Sprintf("EG_%s_%d", room, i)
		_, err := b.Store.PutRecording(ctxT(t, 5*time.Second), storetest.NewRecording(id, room, store.RecordingComplete, 1))
		require.NoError(t, err)
		ids = append(ids, id)
	}
	return ids
}

// recordingsOf are the egress IDs of room's stored recordings.
func (b *bundle) recordingsOf(t *testing.T, room string) []string {
	t.Helper()
	recs, err := b.Store.RoomRecordings(ctxT(t, 5*time.Second), room, 0)
	require.NoError(t, err)
	ids := []string{}
	for _, r := range recs {
		ids = append(ids, r.EgressID)
	}
	return ids
}

// deleteResult sends a delete and returns its result and data.
func (b *bundle) deleteResult(t *testing.T, id string, c events.DeleteRooms) (*events.Result, events.DeleteResult) {
	t.Helper()
	b.Send(t, id, c)
	res := b.Result(t, id)
	require.True(t, res.OK, "%+v", res.Error)
	var dr events.DeleteResult
	require.NoError(t, json.Unmarshal(res.Data, &dr))
	return res, dr
}

// eventsOfRoom are the events of type about room.
func (b *bundle) eventsOfRoom(t *testing.T, eventType, room string) []events.Event {
	t.Helper()
	return b.eventsFor(t, eventType)[room]
}

// TestDeleteMatrix runs every cell of upstream's deletion matrix through
// the worker and the store (delete-room.test.ts): each room state (active
// meeting or not, recordings or not) with each policy pair, one room per
// command. It checks the answer (status, code, message, room), what
// happened to the room and its recordings, and the events.
func TestDeleteMatrix(t *testing.T) {
	t.Parallel()
	b := setup(t, workertest.SetupOpts{})
	lk := newLKDouble()
	b.Rooms.Meetings = lk
	b.Start(t, workertest.WorkerOpts{})

	policies := [][2]string{}
	for _, wm := range []string{events.PolicyForce, events.PolicyWhenMeetingEnds, events.PolicyFail} {
		for _, wr := range []string{events.PolicyForce, events.PolicyClose, events.PolicyFail} {
			policies = append(policies, [2]string{wm, wr})
		}
	}
	n := 0
	for _, active := range []bool{false, true} {
		for _, withRecs := range []bool{false, true} {
			for _, p := range policies {
				n++
				room := fmt.Sprintf("m%02d-aaaaaaaaaaaaaaa", n)
				cmd := fmt.Sprintf("del-%02d", n)
				t.Run(fmt.Sprintf("meeting=%t/recordings=%t/%s/%s", active, withRecs, p[0], p[1]), func(t *testing.T) {
					t.Parallel()
					b.insertRoom(t, room, nil, func(r *store.Room) {
						if active {
							activeRoom(r)
						}
					})
					lk.Set(room, active, active)
					var recs []string
					if withRecs {
						recs = b.putRecordings(t, room, 2)
					}
					want := roomsDecide(room, active, withRecs, p[0], p[1])
					res, dr := b.deleteResult(t, cmd, events.DeleteRooms{RoomIDs: []string{room}, WithMeeting: p[0], WithRecordings: p[1]})

					if want.Action == "fail" {
						require.Equal(t, 400, res.Status)
						require.Empty(t, dr.Deleted)
						require.Equal(t, []events.FailedRoom{{RoomID: room, Error: want.Error, Message: want.Message}}, dr.Failed)
						require.Equal(t, "1 room(s) failed to process while deleting", dr.Message)
						got := b.storedRoom(t, room)
						require.Equal(t, events.EndActionNone, orNone(got.MeetingEndAction), "untouched")
						require.NotEqual(t, events.StatusClosed, got.Status)
						require.Equal(t, nonNilStrings(recs), b.recordingsOf(t, room))
						return
					}
					wantStatus := 200
					if want.Scheduled {
						wantStatus = 202
					}
					require.Equal(t, wantStatus, res.Status)
					require.Empty(t, dr.Failed)
					require.Len(t, dr.Deleted, 1)
					d := dr.Deleted[0]
					require.Equal(t, room, d.RoomID)
					require.Equal(t, want.SuccessCode, d.SuccessCode)
					require.Equal(t, want.Message, d.Message)
					require.Equal(t, want.ReturnsRoom, d.Room != nil, "room in the answer")
					require.Equal(t, "Bulk deletion request processed successfully", dr.Message)
					// The result can arrive before its events are stored
					// (published together, awaited before the ack): wait
					// for the command to be settled.
					require.Eventually(t, workertest.Settled(t, b.JS), 10*time.Second, 10*time.Millisecond)

					switch want.Action {
					case "delete":
						require.False(t, b.Exists(t, room))
						require.Empty(t, b.recordingsOf(t, room))
						require.Len(t, b.eventsOfRoom(t, events.EventDeleted, room), 1)
						require.Len(t, b.eventsOfRoom(t, events.EventRecordingDeleted, room), len(recs))
					case "close":
						got := b.storedRoom(t, room)
						require.Equal(t, events.StatusClosed, got.Status)
						require.Equal(t, events.StatusClosed, d.Room.Status)
						require.Equal(t, recs, b.recordingsOf(t, room), "a closed room keeps its recordings")
						require.Len(t, b.eventsOfRoom(t, events.EventClosed, room), 1)
					case "schedule":
						got := b.storedRoom(t, room)
						require.Equal(t, want.EndAction, got.MeetingEndAction)
						require.Equal(t, events.StatusActiveMeeting, got.Status)
						if d.Room != nil {
							require.Equal(t, want.EndAction, d.Room.MeetingEndAction)
							require.Equal(t, events.StatusActiveMeeting, d.Room.Status)
						}
						require.Equal(t, nonNilStrings(recs), b.recordingsOf(t, room), "recordings go when the meeting ends")
						require.Len(t, b.eventsOfRoom(t, events.EventDeletionScheduled, room), 1)
						require.Equal(t, want.EndMeeting, contains(lk.deletedRooms(), room), "force ends the meeting")
					}
				})
			}
		}
	}
}

var roomsDecide = rooms.DecideDeletion

func orNone(s string) string {
	if s == "" {
		return events.EndActionNone
	}
	return s
}

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// Bulk deletes (bulk-delete-rooms.test.ts): 200 when every room was
// processed, 400 with failed[] otherwise (also when none was); repeated
// and invalid IDs are dropped; no valid ID at all is 422.
func TestDeleteBulk(t *testing.T) {
	t.Parallel()
	b := setup(t, workertest.SetupOpts{})
	lk := newLKDouble()
	b.Rooms.Meetings = lk
	b.Start(t, workertest.WorkerOpts{})
	for _, id := range []string{"a-aaaaaaaaaaaaaaa", "b-aaaaaaaaaaaaaaa", "c-aaaaaaaaaaaaaaa"} {
		b.insertRoom(t, id, nil, nil)
	}
	b.insertRoom(t, "busy-aaaaaaaaaaaaaaa", nil, activeRoom)
	lk.Set("busy-aaaaaaaaaaaaaaa", true, true)

	res, dr := b.deleteResult(t, "bulk-ok", events.DeleteRooms{RoomIDs: []string{"a-aaaaaaaaaaaaaaa", "a-aaaaaaaaaaaaaaa", "!!!", "b-aaaaaaaaaaaaaaa"}})
	require.Equal(t, 200, res.Status)
	require.Equal(t, "Bulk deletion request processed successfully", dr.Message)
	require.Equal(t, []events.DeletedRoom{
		{RoomID: "a-aaaaaaaaaaaaaaa", SuccessCode: events.DeleteSuccessRoomDeleted, Message: "Room 'a-aaaaaaaaaaaaaaa' deleted successfully"},
		{RoomID: "b-aaaaaaaaaaaaaaa", SuccessCode: events.DeleteSuccessRoomDeleted, Message: "Room 'b-aaaaaaaaaaaaaaa' deleted successfully"},
	}, dr.Deleted)
	require.Empty(t, dr.Failed)

	res, dr = b.deleteResult(t, "bulk-some", events.DeleteRooms{RoomIDs: []string{"c-aaaaaaaaaaaaaaa", "busy-aaaaaaaaaaaaaaa", "gone-aaaaaaaaaaaaaaa"}})
	require.Equal(t, 400, res.Status)
	require.Equal(t, "2 room(s) failed to process while deleting", dr.Message)
	require.Len(t, dr.Deleted, 1)
	require.Equal(t, []events.FailedRoom{
		{RoomID: "busy-aaaaaaaaaaaaaaa", Error: events.DeleteErrorRoomHasActiveMeeting, Message: "Room 'busy-aaaaaaaaaaaaaaa' cannot be deleted because it has an active meeting."},
		{RoomID: "gone-aaaaaaaaaaaaaaa", Error: events.DeleteErrorRoom, Message: "Room 'gone-aaaaaaaaaaaaaaa' does not exist"},
	}, dr.Failed)
	require.False(t, b.Exists(t, "c-aaaaaaaaaaaaaaa"))
	require.True(t, b.Exists(t, "busy-aaaaaaaaaaaaaaa"))

	res, dr = b.deleteResult(t, "bulk-none", events.DeleteRooms{RoomIDs: []string{"gone-aaaaaaaaaaaaaaa"}})
	require.Equal(t, 400, res.Status)
	require.Empty(t, dr.Deleted)
	require.Len(t, dr.Failed, 1)

	// The deprecated force is withMeeting force.
	res, dr = b.deleteResult(t, "bulk-force", events.DeleteRooms{RoomIDs: []string{"busy-aaaaaaaaaaaaaaa"}, Force: true})
	require.Equal(t, 200, res.Status)
	require.Equal(t, events.DeleteSuccessRoomWithActiveMeetingDeleted, dr.Deleted[0].SuccessCode)
	require.Equal(t, []string{"busy-aaaaaaaaaaaaaaa"}, lk.deletedRooms())

	b.SendRaw(t, "bulk-invalid", events.SubjectDelete, `{"roomIds":["!!!","  "]}`)
	res = b.Result(t, "bulk-invalid")
	require.False(t, res.OK)
	require.Equal(t, 422, res.Status)
	b.SendRaw(t, "bulk-badpolicy", events.SubjectDelete, `{"roomIds":["x"],"withRecordings":"later"}`)
	res = b.Result(t, "bulk-badpolicy")
	require.False(t, res.OK)
	require.Equal(t, 422, res.Status)
}

// The meeting ends between a delete's plan (active: schedule) and its
// update (room_finished already ran, finding no end action), and the
// worker crashes after a step: the redelivery still applies the end
// action now, with deletion_scheduled, deleted and the recordings'
// recording_deleted out once each.
func TestDeleteMeetingEndedWhileSchedulingCrashBetweenSteps(t *testing.T) {
	t.Parallel()
	for _, step := range []string{"claimed", "applied", "completed", "published"} {
		t.Run(step, func(t *testing.T) {
			t.Parallel()
			b := setup(t, workertest.SetupOpts{Topology: func(top *natsapi.Topology) { top.AckWait = time.Second }})
			const room = "Ending-aaaaaaaaaaaaaaa"
			b.insertRoom(t, room, nil, activeRoom)
			recs := b.putRecordings(t, room, 2)
			// Active in the store, gone from LiveKit.
			b.Rooms.Meetings = newLKDouble()
			var crashed atomic.Bool
			b.Start(t, workertest.WorkerOpts{Fault: func(s, id string) bool {
				return s == step && id == "del-ending" && crashed.CompareAndSwap(false, true)
			}})
			b.Send(t, "del-ending", events.DeleteRooms{RoomIDs: []string{room}, WithMeeting: events.PolicyWhenMeetingEnds, WithRecordings: events.PolicyForce})
			require.Eventually(t, crashed.Load, 10*time.Second, 10*time.Millisecond)
			res := b.Result(t, "del-ending")
			require.Equal(t, 202, res.Status)
			require.Eventually(t, workertest.Settled(t, b.JS), 30*time.Second, 20*time.Millisecond)
			require.False(t, b.Exists(t, room), "not stranded with its end action")
			require.Empty(t, b.recordingsOf(t, room))
			require.Equal(t, []string{events.EventID("del-ending", events.EventDeletionScheduled, room)},
				b.eventIDs(t, events.EventSubject(events.EventDeletionScheduled)))
			require.Equal(t, []string{events.EventID("del-ending", events.EventDeleted, room)},
				b.eventIDs(t, events.EventSubject(events.EventDeleted)))
			var want []string
			for _, eg := range recs {
				want = append(want, events.EventID("del-ending", events.EventRecordingDeleted, room+":"+eg))
			}
			require.ElementsMatch(t, want, b.eventIDs(t, events.EventSubject(events.EventRecordingDeleted)))
			require.Len(t, b.StreamMsgs(t, events.StreamResults, events.ResultSubject("del-ending")), 1)
		})
	}
}

// receiver serves the webhook receiver on a loopback HTTP server that
// publishes on the bundle's JetStream, as roomkeeper's does.
func (b *bundle) receiver(t *testing.T, apiKey, apiSecret string) *httptest.Server {
	t.Helper()
	rc, err := webhooks.New(webhooks.Config{APIKey: apiKey, APISecret: apiSecret}, b.JS, nil)
	require.NoError(t, err)
	mux := http.NewServeMux()
	rc.Routes(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// postWebhook posts ev to the receiver at url, signed as LiveKit signs.
func postWebhook(t *testing.T, url, apiKey, apiSecret string, ev *lkproto.WebhookEvent) {
	t.Helper()
	body, err := protojson.Marshal(ev)
	require.NoError(t, err)
	auth, err := webhooks.Sign(apiKey, apiSecret, body, time.Minute)
	require.NoError(t, err)
	req, err := http.NewRequestWithContext(ctxT(t, 10*time.Second), http.MethodPost, url+webhooks.Path, bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Authorization", auth)
	req.Header.Set("Content-Type", "application/webhook+json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
}
