package app_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/outhooks"
)

// The outgoing webhooks are signed with the first key of API_KEYS_FILE as
// it is now: a key rotated in the file signs the next webhook, without a
// restart (the file is reread as the HTTP API rereads it, even when no
// API request comes).
func TestOutgoingWebhookSecretFollowsTheKeysFile(t *testing.T) {
	keysFile := filepath.Join(t.TempDir(), "keys")
	require.NoError(t, os.WriteFile(keysFile, []byte("key-a\n"), 0o600))
	var mu sync.Mutex
	signedWith := map[string]string{} // event ID -> the key its signature checks with
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		for _, key := range []string{"key-a", "key-b-rotated", "key-c"} {
			mac := hmac.New(sha256.New, []byte(key))
			mac.Write([]byte(req.Header.Get("X-Timestamp") + "." + string(body)))
			if hmac.Equal([]byte(hex.EncodeToString(mac.Sum(nil))), []byte(req.Header.Get("X-Signature"))) {
				mu.Lock()
				signedWith[req.Header.Get("X-Event-Id")] = key
				mu.Unlock()
			}
		}
	}))
	t.Cleanup(srv.Close)
	signer := func(id string) string {
		mu.Lock()
		defer mu.Unlock()
		return signedWith[id]
	}

	cfg := testConfig(t)
	cfg.APIKeysFile = keysFile
	cfg.OutgoingWebhookURLs = srv.URL + "/hooks"
	p := serve(t, cfg)
	_, js := appClient(t, p.app)
	publish := func(cause string) events.Event {
		t.Helper()
		room := events.Room{RoomID: "r-aaaaaaaaaaaaaaa", RoomName: "r", Owner: "admin", Status: events.StatusActiveMeeting, MeetingEndAction: "none"}
		ev, err := events.NewEvent(cause, events.EventMeetingStarted, room.RoomID, time.Now(), room)
		require.NoError(t, err)
		raw, err := json.Marshal(ev)
		require.NoError(t, err)
		_, err = js.Publish(ctxT(t, 5*time.Second), events.EventSubject(events.EventMeetingStarted), raw, jetstream.WithMsgID(ev.ID))
		require.NoError(t, err)
		return ev
	}

	// The dispatcher's consumer takes new events from its creation, which
	// Run does: wait for it before the first event.
	target := outhooks.Target{URL: cfg.OutgoingWebhookURLs}
	require.Eventually(t, func() bool {
		_, err := js.Consumer(ctxT(t, 5*time.Second), events.StreamEvents, target.Consumer())
		return err == nil
	}, 20*time.Second, 20*time.Millisecond, "the dispatcher's consumer")
	first := publish("lk:EV_1")
	require.Eventually(t, func() bool { return signer(first.ID) == "key-a" }, 20*time.Second, 20*time.Millisecond)

	require.NoError(t, os.WriteFile(keysFile, []byte("key-b-rotated\n"), 0o600))
	time.Sleep(1100 * time.Millisecond) // the file is looked at once a second at most
	second := publish("lk:EV_2")
	require.Eventually(t, func() bool { return signer(second.ID) != "" }, 20*time.Second, 20*time.Millisecond)
	require.Equal(t, "key-b-rotated", signer(second.ID), "signed with the key now in the file")

	// A file emptied for a moment signs nothing: the webhook waits for a
	// key rather than going out signed with an empty one.
	require.NoError(t, os.WriteFile(keysFile, nil, 0o600))
	time.Sleep(1100 * time.Millisecond)
	third := publish("lk:EV_3")
	time.Sleep(1500 * time.Millisecond)
	require.NoError(t, os.WriteFile(keysFile, []byte("key-c\n"), 0o600))
	require.Eventually(t, func() bool { return signer(third.ID) != "" }, 30*time.Second, 20*time.Millisecond)
	require.Equal(t, "key-c", signer(third.ID), "held until a key came, then signed with it")
}
