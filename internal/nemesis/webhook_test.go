package nemesis

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"time"

	lkproto "github.com/livekit/protocol/livekit"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/roomkeeper/roomkeeper/webhooks"
)

// Webhook is a LiveKit webhook the load posted.
type webhookSent struct {
	ID       string    // event ID (the stream's Nats-Msg-Id)
	Accepted bool      // answered 200
	At       time.Time // when it was answered, or given up
}

// webhookBody returns a LiveKit webhook event for room, signed with the
// livekit-server's key (the one the webhooks role verifies with).
func (l *load) webhookBody(name, id, room string) (body []byte, authz string, err error) {
	body, err = protojson.Marshal(&lkproto.WebhookEvent{
		Event: name, Id: id, CreatedAt: time.Now().Unix(),
		Room: &lkproto.Room{Sid: "RM_" + room, Name: room, EmptyTimeout: 300},
	})
	if err != nil {
		return nil, "", err
	}
	authz, err = webhooks.Sign(l.s.lk.APIKey, l.s.lk.APISecret, body, 5*time.Minute)
	return body, authz, err
}

// postWebhook posts body as LiveKit does, retrying (a replay, same event
// ID) while the receiver is away or answers 503, for up to 20 s.
func (l *load) postWebhook(id string, body []byte, authz string) {
	deadline := time.Now().Add(20 * time.Second)
	c := http.Client{Timeout: 5 * time.Second}
	ok := false
	for !ok && time.Now().Before(deadline) {
		url := "http://" + l.s.webhooks[0].HTTPAddr() + webhooks.Path
		req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
		if err != nil {
			break
		}
		req.Header.Set("Content-Type", "application/webhook+json")
		req.Header.Set("Authorization", authz)
		resp, err := c.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			ok = resp.StatusCode == http.StatusOK
		}
		if !ok {
			time.Sleep(300 * time.Millisecond)
		}
	}
	l.mu.Lock()
	l.webhooks = append(l.webhooks, webhookSent{ID: id, Accepted: ok, At: time.Now()})
	l.lastWebhook = time.Now()
	l.mu.Unlock()
}

// prepareWebhook draws a room_started or room_finished of a known room (a
// replay of an earlier event one time in four).
func (l *load) prepareWebhook() func() {
	rng := l.rng
	l.mu.Lock()
	if len(l.webhookBodies) > 0 && rng.IntN(4) == 0 {
		w := l.webhookBodies[len(l.webhookBodies)-1-rng.IntN(min(len(l.webhookBodies), 50))]
		l.mu.Unlock()
		return func() { l.postWebhook(w.id, w.body, w.authz) }
	}
	l.mu.Unlock()
	rooms := l.pick(1)
	if len(rooms) == 0 {
		return func() {}
	}
	name := []string{"room_started", "room_finished"}[rng.IntN(2)]
	id := l.nextID("EV")
	return func() {
		body, authz, err := l.webhookBody(name, id, rooms[0])
		if err != nil {
			l.mu.Lock()
			l.seen = append(l.seen, Violation{Rule: "harness", ID: id, Detail: fmt.Sprint(err)})
			l.mu.Unlock()
			return
		}
		l.mu.Lock()
		l.webhookBodies = append(l.webhookBodies, signedWebhook{id: id, body: body, authz: authz})
		l.mu.Unlock()
		l.postWebhook(id, body, authz)
	}
}

type signedWebhook struct {
	id    string
	body  []byte
	authz string
}
