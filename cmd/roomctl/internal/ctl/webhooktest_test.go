package ctl_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/internal/testenv"
	"github.com/roomkeeper/roomkeeper/webhooks"
)

// webhook-test against the real receiver: a signed event is stored on
// livekit.webhook.<event>; a wrong secret is refused with 401.
func TestWebhookTest(t *testing.T) {
	n := testenv.StartNATS(t)
	_, js := n.Bootstrap(t, nil)
	rcv, err := webhooks.New(webhooks.Config{APIKey: "key", APISecret: "a-secret-long-enough-for-hs256-0123"}, js, nil)
	require.NoError(t, err)
	srv := httptest.NewServer(rcv)
	t.Cleanup(srv.Close)
	url := srv.URL + webhooks.Path

	r := roomctl(t, n.URL, "webhook-test", "--url", url, "--api-key", "key", "--api-secret", "a-secret-long-enough-for-hs256-0123", "--id", "EV_cli_1", "--room", "cli-room")
	require.Equal(t, 0, r.code, "%s %s", r.out, r.errOut)
	require.Contains(t, r.out, "-> 200")

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	stream, err := js.Stream(ctx, events.StreamWebhooks)
	require.NoError(t, err)
	msg, err := stream.GetLastMsgForSubject(ctx, events.SubjectRoomFinished)
	require.NoError(t, err)
	require.Equal(t, "EV_cli_1", msg.Header.Get(jetstream.MsgIDHeader))
	require.True(t, strings.Contains(string(msg.Data), "cli-room"))

	bad := roomctl(t, n.URL, "webhook-test", "--url", url, "--api-key", "key", "--api-secret", "not-the-secret-0123456789abcdefghij")
	require.Equal(t, 1, bad.code)
	require.Contains(t, bad.out, "-> 401")
}
