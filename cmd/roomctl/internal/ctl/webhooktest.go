package ctl

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"time"

	lkproto "github.com/livekit/protocol/livekit"
	"github.com/nats-io/nuid"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/roomkeeper/roomkeeper/webhooks"
)

// WebhookTestCmd sends one signed LiveKit webhook event to a receiver, the
// way LiveKit signs them, and prints the answer: handy when wiring
// LiveKit's webhook URL to roomkeeper.
type WebhookTestCmd struct {
	URL       string `name:"url" default:"http://127.0.0.1:8080/livekit/webhook" help:"The receiver's webhook URL."`
	APIKey    string `name:"api-key" env:"LIVEKIT_API_KEY" required:"" help:"LiveKit API key the event is signed with."`
	APISecret string `name:"api-secret" env:"LIVEKIT_API_SECRET" required:"" help:"LiveKit API secret the event is signed with."`
	Event     string `name:"event" default:"room_finished" enum:"room_started,room_finished,participant_joined,participant_left" help:"Event type."`
	Room      string `name:"room" default:"roomctl-webhook-test" help:"Room name the event is about."`
	ID        string `name:"id" help:"Event ID (default: a fresh one); send the same ID twice to see the duplicate."`
}

// Run signs and posts the event.
func (c *WebhookTestCmd) Run(e *env) error {
	id := c.ID
	if id == "" {
		id = "EV_roomctl_" + nuid.Next()
	}
	body, err := protojson.Marshal(&lkproto.WebhookEvent{
		Event:     c.Event,
		Id:        id,
		CreatedAt: time.Now().Unix(),
		Room:      &lkproto.Room{Name: c.Room},
	})
	if err != nil {
		return fail(ExitUsage, "encode event: %w", err)
	}
	token, err := webhooks.Sign(c.APIKey, c.APISecret, body, 5*time.Minute)
	if err != nil {
		return fail(ExitUsage, "sign event: %w", err)
	}
	req, err := http.NewRequestWithContext(e.ctx, http.MethodPost, c.URL, bytes.NewReader(body))
	if err != nil {
		return fail(ExitUsage, "%w", err)
	}
	req.Header.Set("Content-Type", "application/webhook+json")
	req.Header.Set("Authorization", token)
	hc := &http.Client{Timeout: e.timeout}
	resp, err := hc.Do(req)
	if err != nil {
		return fail(ExitUnreachable, "post %s: %w", c.URL, err)
	}
	defer func() { _ = resp.Body.Close() }()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	_, _ = fmt.Fprintf(e.out, "%s %s -> %d %s", c.Event, id, resp.StatusCode, answer)
	if len(answer) == 0 || answer[len(answer)-1] != '\n' {
		_, _ = fmt.Fprintln(e.out)
	}
	if resp.StatusCode != http.StatusOK {
		return fail(ExitErrorResult, "the receiver answered %s", resp.Status)
	}
	return nil
}
