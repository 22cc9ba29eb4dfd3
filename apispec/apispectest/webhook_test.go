package apispectest_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/roomkeeper/roomkeeper/apispec/apispectest"
)

// signed returns the headers upstream sends with body: X-Timestamp, and
// X-Signature = hex HMAC-SHA256 of "<timestamp>.<body>".
func signed(ts int64, body string) http.Header {
	mac := hmac.New(sha256.New, []byte("secret"))
	mac.Write([]byte(strconv.FormatInt(ts, 10) + "." + body))
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("X-Timestamp", strconv.FormatInt(ts, 10))
	h.Set("X-Signature", hex.EncodeToString(mac.Sum(nil)))
	return h
}

// The data of upstream's examples (meet-room.yaml, the recording typings).
const (
	meetingStarted = `{"creationDate":1620000000000,"event":"meetingStarted","data":{"roomId":"room-123","roomName":"room",
"owner":"admin","creationDate":1620000000000,"autoDeletionDate":1900000000000,
"autoDeletionPolicy":{"withMeeting":"when_meeting_ends","withRecordings":"close"},
"config":{"chat":{"enabled":true},"recording":{"enabled":true,"layout":"grid","encoding":"H264_720P_30"},
"virtualBackground":{"enabled":true},"e2ee":{"enabled":false},"captions":{"enabled":true}},
"access":{"anonymous":{"moderator":{"enabled":true,"url":"https://example.com/room/room-123?secret=123456"},
"speaker":{"enabled":true,"url":"https://example.com/room/room-123?secret=654321"},
"recording":{"enabled":true,"url":"https://example.com/room/room-123/recordings?secret=987654"}},
"user":{"enabled":false,"url":"https://example.com/room/room-123"}},
"status":"active_meeting","rolesUpdatedAt":1620000000000,"meetingEndAction":"none"}}`
	recordingEnded = `{"creationDate":1620000003600,"event":"recordingEnded","data":{"recordingId":"room-123--EG_xyz--abc",
"roomId":"room-123","roomName":"room","status":"complete","layout":"grid","encoding":"H264_720P_30",
"filename":"room-123--EG_xyz--abc.mp4","startDate":1620000000000,"endDate":1620000003600,"duration":3.6,"size":1024,
"details":"Stopped using API"}}`
	recordingStarted = `{"creationDate":1620000000000,"event":"recordingStarted","data":{"recordingId":"room-123--EG_xyz--abc",
"roomId":"room-123","roomName":"room","status":"starting"}}`
)

func TestValidateWebhookAcceptsUpstreamEvents(t *testing.T) {
	t.Parallel()
	for event, body := range map[string]string{
		"meetingStarted":   meetingStarted,
		"recordingStarted": recordingStarted,
		"recordingEnded":   recordingEnded,
		"recordingUpdated": strings.ReplaceAll(strings.ReplaceAll(recordingStarted, "recordingStarted", "recordingUpdated"), "starting", "active"),
		"meetingEnded":     strings.ReplaceAll(strings.ReplaceAll(meetingStarted, "meetingStarted", "meetingEnded"), "active_meeting", "open"),
	} {
		rec := &recorder{TB: t}
		apispectest.ValidateWebhook(rec, event, signed(1620000000000, body), []byte(body))
		require.Empty(t, rec.reported(), event)
	}
}

func TestValidateWebhookRejects(t *testing.T) {
	t.Parallel()
	without := func(h http.Header, k string) http.Header { h.Del(k); return h }
	with := func(h http.Header, k, v string) http.Header { h.Set(k, v); return h }
	cases := []struct {
		name    string
		event   string
		headers http.Header
		body    string
		want    string
	}{
		{"no X-Signature", "meetingStarted", without(signed(1, meetingStarted), "X-Signature"), meetingStarted, "X-Signature"},
		{"no X-Timestamp", "meetingStarted", without(signed(1, meetingStarted), "X-Timestamp"), meetingStarted, "X-Timestamp"},
		{"a timestamp that is not a number", "meetingStarted", with(signed(1, meetingStarted), "X-Timestamp", "Mon, 30 Nov"), meetingStarted, "X-Timestamp"},
		{"a signature that is not hex HMAC-SHA256", "meetingStarted", with(signed(1, meetingStarted), "X-Signature", "sha256=abc"), meetingStarted, "X-Signature"},
		{"another event's body", "meetingEnded", signed(1, meetingStarted), meetingStarted, "meetingEnded"},
		{"a room with a property it does not have", "meetingStarted", signed(1, `{"creationDate":1,"event":"meetingStarted","data":{"roomId":"r","secret":"s"}}`),
			`{"creationDate":1,"event":"meetingStarted","data":{"roomId":"r","secret":"s"}}`, "secret"},
		{"a recording end without its size", "recordingEnded", signed(1, `{"creationDate":1,"event":"recordingEnded","data":{"recordingId":"x","roomId":"r","roomName":"n","status":"complete","endDate":2,"duration":1,"details":"d"}}`),
			`{"creationDate":1,"event":"recordingEnded","data":{"recordingId":"x","roomId":"r","roomName":"n","status":"complete","endDate":2,"duration":1,"details":"d"}}`, "size"},
		{"a start with an end status", "recordingStarted", signed(1, `{"creationDate":1,"event":"recordingStarted","data":{"recordingId":"x","roomId":"r","roomName":"n","status":"complete"}}`),
			`{"creationDate":1,"event":"recordingStarted","data":{"recordingId":"x","roomId":"r","roomName":"n","status":"complete"}}`, "status"},
		{"no creationDate", "meetingStarted", signed(1, `{"event":"meetingStarted","data":{"roomId":"r"}}`),
			`{"event":"meetingStarted","data":{"roomId":"r"}}`, "creationDate"},
		{"not JSON", "meetingStarted", with(signed(1, "x"), "Content-Type", "text/plain"), "x", "text/plain"},
		{"an unknown event", "roomCreated", signed(1, meetingStarted), meetingStarted, "roomCreated"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			rec := &recorder{TB: t}
			apispectest.ValidateWebhook(rec, c.event, c.headers, []byte(c.body))
			errs := rec.reported()
			require.Len(t, errs, 1)
			require.Contains(t, errs[0], "webhook "+c.event)
			require.Contains(t, errs[0], c.want)
		})
	}
	err := apispectest.CheckWebhook(context.Background(), "roomCreated", signed(1, "{}"), []byte("{}"))
	require.ErrorIs(t, err, apispectest.ErrUnknownEvent)
}
