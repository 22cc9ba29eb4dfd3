package app_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/webhooks"
)

const (
	whKey    = "APIhttptest"
	whSecret = "http-test-secret-0123456789abcdef0123"
)

// signWebhook is the Authorization LiveKit sends with body.
func signWebhook(t *testing.T, body []byte) string {
	t.Helper()
	tok, err := webhooks.Sign(whKey, whSecret, body, 5*time.Minute)
	require.NoError(t, err)
	return tok
}

// closedWithin reports whether the server closes conn (or answers and
// closes it) within d, and what it answered, if anything.
func closedWithin(t *testing.T, conn net.Conn, d time.Duration) (closed bool, answer string) {
	t.Helper()
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(d)))
	got, err := io.ReadAll(conn)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return false, string(got)
	}
	return true, string(got)
}

// TestHTTPServerLimits: the HTTP server cuts a client that stalls in its
// headers or its body, closes idle keep-alive connections, and refuses
// headers over HTTP_MAX_HEADER_BYTES, as configured.
func TestHTTPServerLimits(t *testing.T) {
	cfg := testConfig(t)
	cfg.LiveKitAPIKey, cfg.LiveKitAPISecret = whKey, whSecret
	cfg.HTTPReadHeaderTimeout = 300 * time.Millisecond
	cfg.HTTPReadTimeout = 600 * time.Millisecond
	cfg.HTTPWriteTimeout = cfg.HTTPReadTimeout + 5*time.Second
	cfg.HTTPIdleTimeout = 500 * time.Millisecond
	cfg.HTTPMaxHeaderBytes = 4 << 10
	p := serve(t, cfg)
	addr := p.app.HTTPAddr()
	dial := func(t *testing.T) net.Conn {
		conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
		require.NoError(t, err)
		t.Cleanup(func() { _ = conn.Close() })
		return conn
	}
	const within = 3 * time.Second // the defaults would keep them for 5s, 15s and 60s

	t.Run("stalled headers", func(t *testing.T) {
		conn := dial(t)
		_, err := fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: x\r\n", webhooks.Path)
		require.NoError(t, err)
		start := time.Now()
		closed, _ := closedWithin(t, conn, within)
		require.True(t, closed, "a client stalled in its headers was kept")
		t.Logf("cut after %s", time.Since(start).Round(10*time.Millisecond))
	})

	t.Run("stalled signed body", func(t *testing.T) {
		body := []byte(`{"event":"room_started","id":"EV_stalled","room":{"name":"r1"}}`)
		conn := dial(t)
		_, err := fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: x\r\nAuthorization: %s\r\nContent-Length: %d\r\n\r\n%s",
			webhooks.Path, signWebhook(t, body), len(body), body[:10])
		require.NoError(t, err)
		start := time.Now()
		closed, _ := closedWithin(t, conn, within)
		require.True(t, closed, "a client stalled in its body was kept")
		t.Logf("cut after %s", time.Since(start).Round(10*time.Millisecond))
	})

	t.Run("idle keep-alive", func(t *testing.T) {
		conn := dial(t)
		_, err := fmt.Fprintf(conn, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
		require.NoError(t, err)
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		require.NoError(t, err)
		_ = resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		closed, _ := closedWithin(t, conn, within)
		require.True(t, closed, "an idle connection was kept")
	})

	t.Run("headers too large", func(t *testing.T) {
		conn := dial(t)
		_, err := fmt.Fprintf(conn, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: %s\r\n\r\n", strings.Repeat("a", 8<<10))
		require.NoError(t, err)
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		require.NoError(t, err)
		_ = resp.Body.Close()
		require.Equal(t, http.StatusRequestHeaderFieldsTooLarge, resp.StatusCode)
	})
}

// TestWebhookOddEventID: a signed webhook whose id is 200 characters with
// spaces and dots (over the 128 of a command ID, and not of its alphabet) is
// stored under a digest message ID, handled by the worker like any other
// (the room's meeting starts) and never dead-lettered; LiveKit's retry of it
// is a duplicate.
func TestWebhookOddEventID(t *testing.T) {
	cfg := testConfig(t)
	cfg.LiveKitAPIKey, cfg.LiveKitAPISecret = whKey, whSecret
	p := serve(t, cfg)
	c, js := appClient(t, p.app)
	name := "odd-id"
	room, err := c.CreateRoom(ctxT(t, 30*time.Second), cmdID("create"), events.CreateRoom{RoomName: &name})
	require.NoError(t, err)

	id := "EV odd. " + strings.Repeat("x.y z", 40)
	id = id[:200]
	body := []byte(fmt.Sprintf(`{"event":"room_started","id":%q,"createdAt":"%d","room":{"sid":"RM_odd","name":%q}}`, id, time.Now().Unix(), room.RoomID))
	post := func() string {
		req, err := http.NewRequest(http.MethodPost, "http://"+p.app.HTTPAddr()+webhooks.Path, strings.NewReader(string(body)))
		require.NoError(t, err)
		req.Header.Set("Authorization", signWebhook(t, body))
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer func() { _ = resp.Body.Close() }()
		answer, _ := io.ReadAll(resp.Body)
		require.Equal(t, http.StatusOK, resp.StatusCode, string(answer))
		return string(answer)
	}
	require.Equal(t, "stored\n", post())

	ev := waitEvent(t, js, events.EventMeetingStarted, room.RoomID, 15*time.Second)
	require.Contains(t, ev.ID, events.WebhookIDPrefix+events.WebhookMsgID(id))
	require.Equal(t, "duplicate\n", post())

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, events.StreamWebhooks)
	require.NoError(t, err)
	msg, err := s.GetLastMsgForSubject(ctx, events.SubjectRoomStarted)
	require.NoError(t, err)
	require.Equal(t, events.WebhookMsgID(id), msg.Header.Get("Nats-Msg-Id"))
	require.Equal(t, id, msg.Header.Get(events.HeaderWebhookEventID))
	require.Equal(t, body, msg.Data)

	// Give a dead letter the time to appear, then check there is none.
	time.Sleep(500 * time.Millisecond)
	dead, err := js.Stream(ctx, events.StreamDead)
	require.NoError(t, err)
	info, err := dead.Info(ctx)
	require.NoError(t, err)
	require.Zero(t, info.State.Msgs, "dead-lettered")
}
