package app_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/roomkeeper/roomkeeper/apispec/apispectest"
	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/internal/app"
	lktest "github.com/roomkeeper/roomkeeper/internal/testenv/livekit"
)

// hookReceiver records the outgoing webhooks whose signature, checked
// with the API key as a user would check it, is right.
type hookReceiver struct {
	*httptest.Server
	mu   sync.Mutex
	got  []map[string]any
	bad  int
	errs []string
}

func newHookReceiver(t *testing.T, key string) *hookReceiver {
	t.Helper()
	r := &hookReceiver{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		mac := hmac.New(sha256.New, []byte(key))
		mac.Write([]byte(req.Header.Get("X-Timestamp") + "." + string(body)))
		var p map[string]any
		r.mu.Lock()
		defer r.mu.Unlock()
		if !hmac.Equal([]byte(hex.EncodeToString(mac.Sum(nil))), []byte(req.Header.Get("X-Signature"))) || json.Unmarshal(body, &p) != nil {
			r.bad++
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if err := apispectest.CheckWebhook(req.Context(), fmt.Sprint(p["event"]), req.Header, body); err != nil {
			r.bad++
			r.errs = append(r.errs, err.Error())
		}
		p["X-Event-Id"] = req.Header.Get("X-Event-Id")
		r.got = append(r.got, p)
	}))
	t.Cleanup(r.Close)
	return r
}

// of returns the webhooks of event about room.
func (r *hookReceiver) of(event, room string) []map[string]any {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []map[string]any
	for _, p := range r.got {
		if d, _ := p["data"].(map[string]any); p["event"] == event && d["roomId"] == room {
			out = append(out, p)
		}
	}
	return out
}

// A meeting in a real livekit-server, through serve (webhook receiver,
// worker, dispatcher): the receiver gets meetingStarted then meetingEnded,
// signed with the first API key, each carrying the room and the domain
// event's ID.
func TestOutgoingWebhooksOfARealMeeting(t *testing.T) {
	httpAddr := freeAddr(t)
	lk := lktest.Start(t, lktest.Options{
		WebhookURL:       "http://" + httpAddr + "/livekit/webhook",
		EmptyTimeout:     2 * time.Second,
		DepartureTimeout: 2 * time.Second,
	})
	hooks := newHookReceiver(t, "meet-key-1")
	cfg := testConfig(t)
	cfg.HTTPAddr = httpAddr
	cfg.LiveKitURL, cfg.LiveKitAPIKey, cfg.LiveKitAPISecret = lk.URL, lk.APIKey, lk.APISecret
	cfg.MeetingEmptyTimeout, cfg.MeetingDepartureTimeout = 2*time.Second, 2*time.Second
	cfg.APIKeys = "meet-key-1,meet-key-2"
	cfg.OutgoingWebhookURLs = hooks.URL + "/hooks|meetingStarted,meetingEnded"
	p := serve(t, cfg)
	c, js := appClient(t, p.app)
	name := "hooked"
	room, err := c.CreateRoom(ctxT(t, 30*time.Second), cmdID("create"), events.CreateRoom{RoomName: &name})
	require.NoError(t, err)

	part := lktest.Join(t, lk, room.RoomID, "alice")
	started := waitEvent(t, js, events.EventMeetingStarted, room.RoomID, 20*time.Second)
	require.Eventually(t, func() bool { return len(hooks.of("meetingStarted", room.RoomID)) > 0 }, 20*time.Second, 50*time.Millisecond)
	part.Leave()
	ended := waitEvent(t, js, events.EventMeetingEnded, room.RoomID, 20*time.Second)
	require.Eventually(t, func() bool { return len(hooks.of("meetingEnded", room.RoomID)) > 0 }, 20*time.Second, 50*time.Millisecond)

	s := hooks.of("meetingStarted", room.RoomID)[0]
	require.Equal(t, started.ID, s["X-Event-Id"])
	require.Equal(t, float64(started.Time.UnixMilli()), s["creationDate"])
	require.Equal(t, "hooked", s["data"].(map[string]any)["roomName"])
	require.Equal(t, events.StatusActiveMeeting, s["data"].(map[string]any)["status"])
	e := hooks.of("meetingEnded", room.RoomID)[0]
	require.Equal(t, ended.ID, e["X-Event-Id"])
	require.Equal(t, events.StatusOpen, e["data"].(map[string]any)["status"])
	hooks.mu.Lock()
	defer hooks.mu.Unlock()
	require.Zero(t, hooks.bad, "every signature checks with the first API key, every body with upstream's spec: %v", hooks.errs)
}

// Outgoing webhook URLs without anything to sign with: serve refuses to
// start, saying what to set.
func TestOutgoingWebhooksNeedASecret(t *testing.T) {
	cfg := testConfig(t)
	cfg.OutgoingWebhookURLs = "http://127.0.0.1:1/hooks"
	_, err := app.Start(context.Background(), cfg, app.All, cfg.Logger())
	require.ErrorIs(t, err, app.ErrNoWebhookSecret)
}
