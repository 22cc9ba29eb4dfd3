package nemesis

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/roomkeeper/roomkeeper/events"
)

// goodHistory is a run without a violation: two rooms created, one
// deleted, one update, a poison command, a command without Nats-Msg-Id and
// one expiring room swept away.
func goodHistory() History {
	data := func(v any) json.RawMessage { b, _ := json.Marshal(v); return b }
	past := time.Now().Add(-time.Minute).UnixMilli()
	future := time.Now().Add(time.Hour).UnixMilli()
	return History{
		Commands: []Command{
			{ID: "c1", Subject: events.SubjectCreate, Accepted: true},
			{ID: "c1", Subject: events.SubjectCreate, Accepted: true}, // duplicate publish
			{ID: "c2", Subject: events.SubjectCreate, Accepted: true},
			{ID: "c3", Subject: events.SubjectCreate, Accepted: true},
			{ID: "h1", Subject: events.SubjectCreate, Accepted: true}, // through the HTTP API
			{ID: "d1", Subject: events.SubjectDelete, Accepted: true},
			{ID: "u1", Subject: events.SubjectUpdatePreferences, Accepted: true},
			{ID: "p1", Subject: events.SubjectCreate, Accepted: true, Invalid: true},
			{ID: "big", Subject: events.SubjectCreate, Invalid: true}, // never accepted
			{Subject: events.SubjectCreate, Accepted: true, Seq: 7},
		},
		Results: []Result{
			{CommandID: "c1", Type: events.SubjectCreate, OK: true, Data: data(map[string]any{"roomId": "R1"}), Stored: 1},
			{CommandID: "c2", Type: events.SubjectCreate, OK: true, Data: data(map[string]any{"roomId": "R2", "autoDeletionDate": future}), Stored: 1},
			{CommandID: "c3", Type: events.SubjectCreate, OK: true, Data: data(map[string]any{"roomId": "R3"}), Stored: 1},
			{CommandID: "d1", Type: events.SubjectDelete, OK: true, Data: data(events.DeleteResult{Deleted: []events.DeletedRoom{{RoomID: "R1", SuccessCode: events.DeleteSuccessRoomDeleted}}, Failed: []events.FailedRoom{}}), Stored: 1},
			{CommandID: "u1", Type: events.SubjectUpdatePreferences, OK: true, Data: data(map[string]any{"roomId": "R2"}), Stored: 1},
			{CommandID: "p1", Type: events.SubjectCreate, Code: events.CodeInvalidArgument, Stored: 1},
			{CommandID: "seq-7-abc", Type: events.SubjectCreate, OK: true, Data: data(map[string]any{"roomId": "R4"}), Stored: 1},
			{CommandID: "sweep-1", Type: events.SubjectSweep, OK: true, Stored: 1},
			{CommandID: "expire-R3", Type: events.SubjectDelete, OK: true, Data: data(events.DeleteResult{Deleted: []events.DeletedRoom{{RoomID: "R3", SuccessCode: events.DeleteSuccessRoomDeleted}}}), Stored: 1},
			{CommandID: "h1", Type: events.SubjectCreate, OK: true, Status: 201, Data: data(map[string]any{"roomId": "R5"}), Stored: 1},
		},
		Events: []Event{
			{ID: "c1:created:R1", MsgID: "c1:created:R1"},
			{ID: "c2:created:R2", MsgID: "c2:created:R2"},
			{ID: "c3:created:R3", MsgID: "c3:created:R3"},
			{ID: "h1:created:R5", MsgID: "h1:created:R5"},
			{ID: "lk:EV3:meeting_started:R5", MsgID: "lk:EV3:meeting_started:R5", Type: events.EventMeetingStarted, Room: "R5"},
			{ID: "lk:EV4:meeting_ended:R5", MsgID: "lk:EV4:meeting_ended:R5", Type: events.EventMeetingEnded, Room: "R5"},
			{ID: "d1:deleted:R1", MsgID: "d1:deleted:R1"},
			{ID: "u1:preferences_updated:R2", MsgID: "u1:preferences_updated:R2"},
			{ID: "seq-7-abc:created:R4", MsgID: "seq-7-abc:created:R4"},
			{ID: "expire-R3:deleted:R3", MsgID: "expire-R3:deleted:R3"},
		},
		Webhooks:         []Webhook{{ID: "EV1", Accepted: true, At: time.UnixMilli(past)}, {ID: "EV1", Accepted: true, At: time.UnixMilli(past).Add(time.Second)}, {ID: "EV2"}},
		StoredWebhooks:   map[string]int{"EV1": 1},
		DuplicatesWindow: time.Minute,
		Dead: []DeadLetter{
			{Seq: 1, Subject: "rooms.dead.create", CommandID: "p1"},
			{Seq: 2, Subject: "rooms.dead.outgoing_meeting_ended", CommandID: "lk:EV4:meeting_ended:R5"}, // given up
		},
		Rooms:       []Room{{ID: "R2", AutoDeletionDate: &future}, {ID: "R4"}, {ID: "R5"}},
		HTTPAnswers: []HTTPAnswer{{Key: "h1", Status: 201, RoomID: "R5"}},
		Deliveries: []Delivery{
			{EventID: "lk:EV3:meeting_started:R5", Event: "meetingStarted", DataSum: "a", SignatureOK: true},
			{EventID: "lk:EV3:meeting_started:R5", Event: "meetingStarted", DataSum: "a", SignatureOK: true}, // at least once
		},
		ExpiredBefore: time.UnixMilli(past).Add(time.Second),
		Consumers:     []Consumer{{Stream: events.StreamCommands}, {Stream: events.StreamWebhooks}},
		Exits:         []Exit{{Name: "worker-1", Took: time.Second}},
	}
}

func rules(vs []Violation) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = v.Rule
	}
	return out
}

func TestCheckGoodHistory(t *testing.T) {
	require.Empty(t, Check(goodHistory()))

	// A room a room_finished deleted (marked for deletion first) is gone
	// without a delete result.
	h := goodHistory()
	h.Events = append(h.Events, Event{ID: "lk:EV1:deleted:R4", MsgID: "lk:EV1:deleted:R4", Type: events.EventDeleted, Room: "R4"})
	h.Rooms = []Room{h.Rooms[0], h.Rooms[2]}
	require.Empty(t, Check(h))

	// A one-room delete through the HTTP API of a missing room: the
	// result is the bulk 400, the answer the room's 404.
	h = goodHistory()
	h.Commands = append(h.Commands, Command{ID: "h2", Subject: events.SubjectDelete, Accepted: true})
	h.Results = append(h.Results, Result{CommandID: "h2", Type: events.SubjectDelete, OK: true, Status: 400, Stored: 1,
		Data: json.RawMessage(`{"deleted":[],"failed":[{"roomId":"R9","error":"` + events.DeleteErrorRoom + `","message":"x"}]}`)})
	h.HTTPAnswers = append(h.HTTPAnswers, HTTPAnswer{Key: "h2", Status: 404, OneRoom: true})
	require.Empty(t, Check(h))

	// A webhook posted again past the duplicates window is stored again:
	// one event, one effect.
	h = goodHistory()
	h.Webhooks = append(h.Webhooks, Webhook{ID: "EV1", Accepted: true, At: h.Webhooks[0].At.Add(2 * time.Minute)})
	h.StoredWebhooks["EV1"] = 2
	require.Empty(t, Check(h))
}

// Each broken invariant is found, by its rule.
func TestCheckFindsViolations(t *testing.T) {
	past := time.Now().Add(-time.Minute).UnixMilli()
	for _, tc := range []struct {
		rule   string
		mutate func(h *History)
	}{
		{"result-lost", func(h *History) { h.Results = h.Results[1:] }},
		{"result-lost", func(h *History) {
			h.Commands = append(h.Commands, Command{Subject: events.SubjectCreate, Accepted: true, Seq: 9})
		}},
		{"result-doubled", func(h *History) { h.Results[2].Stored = 2 }},
		{"result-doubled", func(h *History) {
			h.Results = append(h.Results, Result{CommandID: "seq-7-other", Type: events.SubjectCreate, Stored: 1})
		}},
		{"result-unknown", func(h *History) {
			h.Results = append(h.Results, Result{CommandID: "nobody", Type: events.SubjectCreate, Stored: 1})
		}},
		{"result-unknown", func(h *History) {
			h.Results = append(h.Results, Result{CommandID: "seq-99-x", Type: events.SubjectCreate, Stored: 1})
		}},
		{"invalid-accepted", func(h *History) { h.Results[5].OK, h.Results[5].Code = true, "" }},
		{"invalid-without-dead-letter", func(h *History) { h.Dead = nil }},
		{"room-lost", func(h *History) { h.Rooms = h.Rooms[:1] }},
		{"room-back-after-delete", func(h *History) { h.Rooms = append(h.Rooms, Room{ID: "R1"}) }},
		{"room-unexplained", func(h *History) { h.Rooms = append(h.Rooms, Room{ID: "R9"}) }},
		{"room-expired-kept", func(h *History) { h.Rooms[1].AutoDeletionDate = &past }},
		{"room-marked-kept", func(h *History) { h.Rooms[1].MarkedForDeletion = true }},
		{"meeting-active-kept", func(h *History) { h.Rooms[0].MeetingActive = true }},
		{"room-doubled", func(h *History) { h.Results[2].Data = h.Results[1].Data }},
		{"event-missing", func(h *History) { h.Events = h.Events[1:] }},
		{"event-doubled", func(h *History) { h.Events = append(h.Events, h.Events[0]) }},
		{"event-without-success", func(h *History) {
			h.Events = append(h.Events, Event{ID: "p1:created:R8", MsgID: "p1:created:R8"})
		}},
		{"dead-letter-without-result", func(h *History) {
			h.Dead = append(h.Dead, DeadLetter{Seq: 2, Subject: "rooms.dead.delete", CommandID: "gone"})
		}},
		{"dead-letter-anonymous", func(h *History) { h.Dead = append(h.Dead, DeadLetter{Seq: 3, Subject: "rooms.dead.create"}) }},
		{"webhook-lost", func(h *History) { h.StoredWebhooks = nil }},
		{"webhook-doubled", func(h *History) { h.StoredWebhooks["EV1"] = 2 }},
		{"room-back-after-delete", func(h *History) { // a room_finished deleted it
			h.Events = append(h.Events, Event{ID: "lk:EV1:deleted:R4", MsgID: "lk:EV1:deleted:R4", Type: events.EventDeleted, Room: "R4"})
		}},
		{"commands-left", func(h *History) { h.QueuedCommands = 1 }},
		{"consumer-pending", func(h *History) { h.Consumers[0].AckPending = 2 }},
		{"sigterm-hang", func(h *History) { h.Exits[0].Hung, h.Exits[0].Err = true, errors.New("still running") }},
		{"room-back-after-delete", func(h *History) { h.Seen = []Violation{{Rule: "room-back-after-delete", ID: "R1"}} }},
		{"http-answer-without-result", func(h *History) { h.HTTPAnswers = append(h.HTTPAnswers, HTTPAnswer{Key: "h9", Status: 201}) }},
		{"http-answer-mismatch", func(h *History) { h.HTTPAnswers[0].Status = 409 }},
		{"http-answer-mismatch", func(h *History) { h.HTTPAnswers[0].RoomID = "R9" }},
		{"http-answer-mismatch", func(h *History) { // a one-room delete of a missing room is 404
			h.Commands = append(h.Commands, Command{ID: "h2", Subject: events.SubjectDelete, Accepted: true})
			h.Results = append(h.Results, Result{CommandID: "h2", Type: events.SubjectDelete, OK: true, Status: 400, Stored: 1,
				Data: json.RawMessage(`{"deleted":[],"failed":[{"roomId":"R9","error":"` + events.DeleteErrorRoom + `","message":"x"}]}`)})
			h.HTTPAnswers = append(h.HTTPAnswers, HTTPAnswer{Key: "h2", Status: 400, OneRoom: true})
		}},
		{"webhook-out-lost", func(h *History) { h.Dead = h.Dead[:1] }},
		{"webhook-out-lost", func(h *History) { h.Deliveries = nil }},
		{"webhook-out-changed", func(h *History) { h.Deliveries[1].DataSum = "b" }},
		{"webhook-out-signature", func(h *History) { h.Deliveries[1].SignatureOK = false }},
	} {
		t.Run(tc.rule, func(t *testing.T) {
			h := goodHistory()
			tc.mutate(&h)
			require.Contains(t, rules(Check(h)), tc.rule)
		})
	}
}
