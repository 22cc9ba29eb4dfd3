package outhooks_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/outhooks"
)

// The signature is upstream's: hex HMAC-SHA256 of "<timestamp>.<body>".
// The expected value was computed apart from this code:
//
//	printf '%s' '1620000000000.{"event":"meetingStarted","creationDate":1620000000000,"data":{"roomId":"room-1"}}' \
//	  | openssl dgst -sha256 -hmac 'meet-api-key-1'
func TestSignMatchesUpstream(t *testing.T) {
	t.Parallel()
	body := []byte(`{"event":"meetingStarted","creationDate":1620000000000,"data":{"roomId":"room-1"}}`)
	const want = "6b7b91e42dde7df282edcb4a5ca3e91893904ee31fdb1a87de410677fbdba1a9"
	require.Equal(t, want, outhooks.Sign("meet-api-key-1", 1620000000000, body))
	require.True(t, outhooks.Verify("meet-api-key-1", "1620000000000", want, body))
	require.False(t, outhooks.Verify("meet-api-key-2", "1620000000000", want, body), "another key")
	require.False(t, outhooks.Verify("meet-api-key-1", "1620000000001", want, body), "another timestamp")
	require.False(t, outhooks.Verify("meet-api-key-1", "1620000000000", want, append(body, ' ')), "another body")
}

func TestParseTargets(t *testing.T) {
	t.Parallel()
	got, err := outhooks.ParseTargets(" https://a.example/hook , http://b.example:8080/h|meetingStarted,meetingEnded,https://c.example/x|recordingEnded ")
	require.NoError(t, err)
	require.Equal(t, []outhooks.Target{
		{URL: "https://a.example/hook"},
		{URL: "http://b.example:8080/h", Events: []string{outhooks.MeetingStarted, outhooks.MeetingEnded}},
		{URL: "https://c.example/x", Events: []string{outhooks.RecordingEnded}},
	}, got)
	require.Len(t, got[0].Subjects(), 5, "no filter: every webhook event")
	require.Equal(t, []string{"rooms.events.meeting_started", "rooms.events.meeting_ended"}, got[1].Subjects())
	require.True(t, got[1].Wants(outhooks.MeetingEnded))
	require.False(t, got[1].Wants(outhooks.RecordingEnded))
	require.NotEqual(t, got[0].Consumer(), got[1].Consumer())
	require.Regexp(t, `^outhook_[0-9a-f]{16}$`, got[0].Consumer())

	none, err := outhooks.ParseTargets("  ")
	require.NoError(t, err)
	require.Empty(t, none)

	for _, bad := range []string{
		"https://a.example|meetingStart",      // unknown event
		"https://a.example|created",           // a domain event, not a webhook event
		"meetingStarted",                      // an event without a URL
		"https://a.example,meetingStarted",    // an event after a URL without '|'
		"ftp://a.example/x",                   // not http(s)
		"/relative",                           // not absolute
		"https://a.example,https://a.example", // twice
	} {
		_, err := outhooks.ParseTargets(bad)
		require.ErrorIs(t, err, outhooks.ErrConfig, bad)
	}
}

// The default schedule retries for well over a minute (a receiver down for
// a minute still gets its events) and for about half an hour in all.
func TestDefaultRetrySchedule(t *testing.T) {
	t.Parallel()
	c := outhooks.Config{}.WithDefaults()
	require.Equal(t, 15, c.Tries)
	var delays []time.Duration
	var total time.Duration
	for n := uint64(1); n < uint64(c.Tries); n++ {
		delays = append(delays, c.Delay(n))
		total += c.Delay(n)
	}
	require.Equal(t, []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second}, delays[:4])
	require.Equal(t, 5*time.Minute, delays[len(delays)-1], "capped")
	require.Greater(t, total, 30*time.Minute)
	require.Less(t, total, 35*time.Minute)
	require.Greater(t, c.AckWait, c.Timeout)
}

// Each domain event the dispatcher sends becomes upstream's payload: the
// room for meeting events, MeetRecordingInfo (without roomkeeper's
// egressId) for recording events, with the fields upstream's schema
// requires of recordingEnded; other events make none.
func TestPayloadOf(t *testing.T) {
	t.Parallel()
	at := time.UnixMilli(1764004700000)
	room := events.Room{RoomID: "r-1", RoomName: "R", Status: events.StatusActiveMeeting}
	ev, err := events.NewEvent("lk:EV_1", events.EventMeetingStarted, "r-1", at, room)
	require.NoError(t, err)
	p, err := outhooks.PayloadOf(ev)
	require.NoError(t, err)
	require.Equal(t, outhooks.MeetingStarted, p.Event)
	require.Equal(t, at.UnixMilli(), p.CreationDate)
	var gotRoom events.Room
	require.NoError(t, json.Unmarshal(p.Data, &gotRoom))
	require.Equal(t, room.RoomID, gotRoom.RoomID)

	start := int64(1764004100000)
	rec := events.Recording{RecordingID: "r-1--EG_1", EgressID: "EG_1", RoomID: "r-1", RoomName: "R", Status: "failed", StartDate: &start, Error: "boom"}
	ev, err = events.NewEvent("lk:EV_2", events.EventRecordingEnded, "r-1", at, rec)
	require.NoError(t, err)
	p, err = outhooks.PayloadOf(ev)
	require.NoError(t, err)
	require.Equal(t, outhooks.RecordingEnded, p.Event)
	var info map[string]any
	require.NoError(t, json.Unmarshal(p.Data, &info))
	require.NotContains(t, info, "egressId")
	require.Equal(t, map[string]any{
		"recordingId": "r-1--EG_1", "roomId": "r-1", "roomName": "R", "status": "failed",
		"startDate": float64(start), "endDate": float64(at.UnixMilli()), "duration": float64(0), "size": float64(0),
		"error": "boom", "details": "",
	}, info)

	ev, err = events.NewEvent("c-1", events.EventCreated, "r-1", at, room)
	require.NoError(t, err)
	_, err = outhooks.PayloadOf(ev)
	require.Error(t, err)
}
