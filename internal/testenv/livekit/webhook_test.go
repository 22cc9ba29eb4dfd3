package livekit_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protojson"

	lktest "github.com/roomkeeper/roomkeeper/internal/testenv/livekit"
)

// TestWebhookAndEmptyTimeout checks that the server signs webhooks with its
// key to Options.WebhookURL, and that Options.EmptyTimeout closes an empty
// room.
func TestWebhookAndEmptyTimeout(t *testing.T) {
	t.Parallel()
	events := make(chan *livekit.WebhookEvent, 16)
	var srv *lktest.Server
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ev, err := receive(r, srv.APIKey, srv.APISecret)
		if err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		events <- ev
	}))
	t.Cleanup(hook.Close)
	srv = lktest.Start(t, lktest.Options{WebhookURL: hook.URL, EmptyTimeout: time.Second})

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rs := lksdk.NewRoomServiceClient(srv.URL, srv.APIKey, srv.APISecret)
	_, err := rs.CreateRoom(ctx, &livekit.CreateRoomRequest{Name: "hooked"})
	require.NoError(t, err)

	start := time.Now()
	var seen []string
	for {
		select {
		case ev := <-events:
			require.Equal(t, "hooked", ev.GetRoom().GetName())
			seen = append(seen, ev.GetEvent())
			if ev.GetEvent() == "room_finished" {
				require.Contains(t, seen, "room_started")
				t.Logf("room_finished %s after creation", time.Since(start).Round(100*time.Millisecond))
				return
			}
		case <-ctx.Done():
			t.Fatalf("no room_finished within 10s; got %v", seen)
		}
	}
}

// receive verifies a webhook as protocol/webhook does (the Authorization JWT
// signed by the key, carrying the body's SHA-256) and decodes it.
func receive(r *http.Request, key, secret string) (*livekit.WebhookEvent, error) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, err
	}
	v, err := auth.ParseAPIToken(r.Header.Get("Authorization"))
	if err != nil {
		return nil, err
	}
	if v.APIKey() != key {
		return nil, errors.New("wrong api key")
	}
	_, grants, err := v.Verify(secret)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(body)
	if grants.Sha256 != base64.StdEncoding.EncodeToString(sum[:]) {
		return nil, errors.New("body hash mismatch")
	}
	ev := &livekit.WebhookEvent{}
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(body, ev); err != nil {
		return nil, err
	}
	return ev, nil
}
