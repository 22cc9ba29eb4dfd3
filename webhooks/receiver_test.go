package webhooks

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/livekit/protocol/auth"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/sirupsen/logrus"
	"github.com/stretchr/testify/require"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/internal/testenv"
)

func TestNewConfig(t *testing.T) {
	t.Parallel()
	n := testenv.StartNATS(t)
	_, js := n.Connect(t)

	for name, tc := range map[string]struct {
		cfg Config
		js  jetstream.JetStream
	}{
		"no key":            {cfg: Config{APISecret: "s"}, js: js},
		"no secret":         {cfg: Config{APIKey: "k"}, js: js},
		"negative body":     {cfg: Config{APIKey: "k", APISecret: "s", MaxBody: -1}, js: js},
		"negative timeout":  {cfg: Config{APIKey: "k", APISecret: "s", PublishTimeout: -time.Second}, js: js},
		"budget below body": {cfg: Config{APIKey: "k", APISecret: "s", MaxBody: 1 << 20, MaxInFlightBytes: 1<<20 - 1}, js: js},
		"negative budget":   {cfg: Config{APIKey: "k", APISecret: "s", MaxInFlightBytes: -1}, js: js},
		"no jetstream":      {cfg: Config{APIKey: "k", APISecret: "s"}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := New(tc.cfg, tc.js, nil)
			require.ErrorIs(t, err, ErrConfig)
			require.NotContains(t, err.Error(), tc.cfg.APISecret+"x") // never echoes the secret
		})
	}

	cfg := Config{APIKey: "k", APISecret: "s"}.WithDefaults()
	require.Equal(t, DefaultMaxBody, cfg.MaxBody)
	require.Equal(t, int64(1<<20), cfg.MaxBody)
	require.Equal(t, DefaultPublishTimeout, cfg.PublishTimeout)
	require.Equal(t, DefaultMaxInFlightBytes, cfg.MaxInFlightBytes)
	rc, err := New(Config{APIKey: "k", APISecret: "s"}, js, nil)
	require.NoError(t, err)
	require.Equal(t, cfg.MaxBody, rc.cfg.MaxBody)
}

// TestStoresSignedEvent: a signed room_finished is stored byte for byte on
// livekit.webhook.room_finished with the event's id as message ID, and only
// then answered 200.
func TestStoresSignedEvent(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)

	// Indented, with a field this version does not know: what is stored must
	// be these bytes, not a re-marshalled event.
	var pretty bytes.Buffer
	require.NoError(t, json.Indent(&pretty, event(t, "room_finished", "EV_stored1", "daily-standup"), "", "  "))
	body := append(bytes.TrimSuffix(pretty.Bytes(), []byte("}")), []byte(`, "fieldFromTheFuture": {"x": 1}}`)...)

	status, answer := post(t, b.url, sign(t, testKey, testSecret, body), body)
	require.Equal(t, http.StatusOK, status, answer)
	require.Equal(t, "stored\n", answer)

	msg := b.last(t, events.SubjectRoomFinished)
	require.Equal(t, body, msg.Data)
	require.Equal(t, events.SubjectRoomFinished, msg.Subject)
	require.Equal(t, "EV_stored1", msg.Header.Get(jetstream.MsgIDHeader))
	require.EqualValues(t, 1, b.stored(t))
	require.Equal(t, 1, b.metrics.get(OutcomeStored))

	// The request was logged with the event's id, type, room and outcome.
	entry := b.logs.LastEntry()
	require.NotNil(t, entry)
	require.Equal(t, logrus.DebugLevel, entry.Level)
	require.Equal(t, "EV_stored1", entry.Data["event_id"])
	require.Equal(t, "room_finished", entry.Data["event"])
	require.Equal(t, "daily-standup", entry.Data["room"])
	require.Equal(t, OutcomeStored, entry.Data["outcome"])
	require.Equal(t, http.StatusOK, entry.Data["status"])
}

// TestOtherEvents: any LiveKit event name that is one subject token is
// stored on its own subject.
func TestOtherEvents(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	for i, name := range []string{"room_started", "participant_joined", "track_published", "egress_ended"} {
		body := event(t, name, fmt.Sprintf("EV_other_%d", i), "r1")
		status, answer := post(t, b.url, sign(t, testKey, testSecret, body), body)
		require.Equal(t, http.StatusOK, status, answer)
		require.Equal(t, body, b.last(t, events.WebhookPrefix+name).Data)
	}
	require.EqualValues(t, 4, b.stored(t))
}

// TestDuplicate: LiveKit's retry of a stored event is answered 200 and
// stored once.
func TestDuplicate(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	body := event(t, "room_finished", "EV_twice", "r1")
	authz := sign(t, testKey, testSecret, body)

	status, answer := post(t, b.url, authz, body)
	require.Equal(t, http.StatusOK, status, answer)
	status, answer = post(t, b.url, sign(t, testKey, testSecret, body), body)
	require.Equal(t, http.StatusOK, status, answer)
	require.Equal(t, "duplicate\n", answer)

	require.EqualValues(t, 1, b.stored(t))
	require.Equal(t, 1, b.metrics.get(OutcomeStored))
	require.Equal(t, 1, b.metrics.get(OutcomeDuplicate))
}

// TestUnauthorized: a missing or bad signature or a body that does not
// match its hash is 401, and nothing is stored.
func TestUnauthorized(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	body := event(t, "room_finished", "EV_unauth", "r1")
	// a hand-built token valid until exp, to expire one
	handToken := func(body []byte, exp time.Time) string {
		tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
			"iss":    testKey,
			"nbf":    time.Now().Add(-20 * time.Minute).Unix(),
			"exp":    exp.Unix(),
			"sha256": hashOf(body),
		}).SignedString([]byte(testSecret))
		require.NoError(t, err)
		return tok
	}
	expired := handToken(body, time.Now().Add(-10*time.Minute))
	noHash, err := auth.NewAccessToken(testKey, testSecret).SetValidFor(time.Minute).ToJWT()
	require.NoError(t, err)
	tampered := bytes.Replace(body, []byte("r1"), []byte("r2"), 1)
	require.NotEqual(t, body, tampered)

	for name, tc := range map[string]struct {
		authz string
		body  []byte
	}{
		"no authorization":   {authz: "", body: body},
		"wrong secret":       {authz: sign(t, testKey, "not-the-secret", body), body: body},
		"unknown key":        {authz: sign(t, "APIother", testSecret, body), body: body},
		"tampered body":      {authz: sign(t, testKey, testSecret, body), body: tampered},
		"hash of other body": {authz: sign(t, testKey, testSecret, tampered), body: body},
		"no hash claim":      {authz: noHash, body: body},
		"expired":            {authz: expired, body: body},
		"not a jwt":          {authz: "not-a-token", body: body},
		"bearer prefix":      {authz: "Bearer " + sign(t, testKey, testSecret, body), body: body},
		"unsigned alg none":  {authz: "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJpc3MiOiJBUElyb29ta2VlcGVydGVzdCJ9.", body: body},
	} {
		t.Run(name, func(t *testing.T) {
			status, answer := post(t, b.url, tc.authz, tc.body)
			require.Equal(t, http.StatusUnauthorized, status, answer)
		})
	}
	require.EqualValues(t, 0, b.stored(t))
	require.Equal(t, 10, b.metrics.get(OutcomeUnauthorized))
	require.Zero(t, b.metrics.get(OutcomeStored))
	require.Zero(t, b.rc.InFlightBytes(), "a refused body's buffer is given back")

	// control: the same hand-built token, not expired, is taken
	status, answer := post(t, b.url, handToken(body, time.Now().Add(time.Minute)), body)
	require.Equal(t, http.StatusOK, status, answer)
	require.EqualValues(t, 1, b.stored(t))
}

func hashOf(body []byte) string {
	sum := sha256.Sum256(body)
	return base64.StdEncoding.EncodeToString(sum[:])
}

// TestTooLarge: a body over MaxBody is 413 whether or not it announces its
// length, without reading it all; a body of exactly MaxBody is taken.
func TestTooLarge(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)

	// exactly 1 MiB, a valid event
	head := `{"event":"room_finished","id":"EV_big","room":{"name":"r1","metadata":"`
	tail := `"}}`
	exact := []byte(head + strings.Repeat("a", int(DefaultMaxBody)-len(head)-len(tail)) + tail)
	require.Len(t, exact, 1<<20)
	status, answer := post(t, b.url, sign(t, testKey, testSecret, exact), exact)
	require.Equal(t, http.StatusOK, status, answer)
	require.EqualValues(t, 1, b.stored(t))

	over := []byte(head + strings.Repeat("a", int(DefaultMaxBody)-len(head)-len(tail)+1) + tail)
	authz := sign(t, testKey, testSecret, over)
	status, _ = post(t, b.url, authz, over)
	require.Equal(t, http.StatusRequestEntityTooLarge, status)

	// chunked: no Content-Length, so the limit is found while reading
	req, err := http.NewRequest(http.MethodPost, b.url, io.MultiReader(bytes.NewReader(over)))
	require.NoError(t, err)
	req.Header.Set("Authorization", authz)
	req.ContentLength = -1
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)

	// and with a smaller configured limit
	small := setup(t, func(c *Config) { c.MaxBody = 512 })
	body := event(t, "room_finished", "EV_small", strings.Repeat("r", 600))
	status, _ = post(t, small.url, sign(t, testKey, testSecret, body), body)
	require.Equal(t, http.StatusRequestEntityTooLarge, status)

	require.EqualValues(t, 1, b.stored(t))
	require.EqualValues(t, 0, small.stored(t))
	require.Equal(t, 2, b.metrics.get(OutcomeTooLarge))
	require.Zero(t, b.rc.InFlightBytes())
	require.Zero(t, small.rc.InFlightBytes())
}

// TestMalformed: a signed body that is not a usable event is 400.
func TestMalformed(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	for name, body := range map[string]string{
		"empty":              ``,
		"not json":           `room_finished please`,
		"truncated":          `{"event":"room_finished","id":"EV_1"`,
		"array":              `[{"event":"room_finished","id":"EV_1"}]`,
		"wrong type":         `{"event":"room_finished","id":"EV_1","room":5}`,
		"missing id":         `{"event":"room_finished","room":{"name":"r1"}}`,
		"empty id":           `{"event":"room_finished","id":""}`,
		"missing event":      `{"id":"EV_1","room":{"name":"r1"}}`,
		"event with a dot":   `{"event":"room.finished","id":"EV_1"}`,
		"event wildcard":     `{"event":"*","id":"EV_1"}`,
		"event tail":         `{"event":">","id":"EV_1"}`,
		"event with space":   `{"event":"room finished","id":"EV_1"}`,
		"id with a newline":  `{"event":"room_finished","id":"EV\r\nX-Evil: 1"}`,
		"id far too long":    `{"event":"room_finished","id":"` + strings.Repeat("x", 300) + `"}`,
		"event far too long": `{"event":"` + strings.Repeat("x", 65) + `","id":"EV_1"}`,
	} {
		t.Run(name, func(t *testing.T) {
			status, answer := post(t, b.url, sign(t, testKey, testSecret, []byte(body)), []byte(body))
			require.Equal(t, http.StatusBadRequest, status, answer)
		})
	}
	require.EqualValues(t, 0, b.stored(t))
	require.Equal(t, 15, b.metrics.get(OutcomeMalformed))
}

func TestMethodNotAllowed(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	for _, method := range []string{http.MethodGet, http.MethodPut, http.MethodDelete} {
		req, err := http.NewRequest(method, b.url, nil)
		require.NoError(t, err)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		_ = resp.Body.Close()
		require.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
		require.Equal(t, http.MethodPost, resp.Header.Get("Allow"))
	}
	require.Equal(t, 3, b.metrics.get(OutcomeMethodNotAllowed))
}

// TestStreamMissing: with no stream to store the event it is 503, nothing
// is stored, and LiveKit's retry lands it once the stream is back.
func TestStreamMissing(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *Config) { c.PublishTimeout = 2 * time.Second })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, b.js.DeleteStream(ctx, events.StreamWebhooks))

	body := event(t, "room_finished", "EV_nostream", "r1")
	start := time.Now()
	status, answer := post(t, b.url, sign(t, testKey, testSecret, body), body)
	require.Equal(t, http.StatusServiceUnavailable, status, answer)
	require.Less(t, time.Since(start), 2*time.Second, "503 should not wait out the publish timeout")
	require.Equal(t, 1, b.metrics.get(OutcomeUnavailable))
	entry := b.logs.LastEntry()
	require.Equal(t, logrus.WarnLevel, entry.Level)
	require.Equal(t, OutcomeUnavailable, entry.Data["outcome"])

	b.rebootstrap(t)
	require.EqualValues(t, 0, b.stored(t))

	status, answer = post(t, b.url, sign(t, testKey, testSecret, body), body)
	require.Equal(t, http.StatusOK, status, answer)
	status, answer = post(t, b.url, sign(t, testKey, testSecret, body), body)
	require.Equal(t, http.StatusOK, status, answer)
	require.EqualValues(t, 1, b.stored(t))
	require.Equal(t, body, b.last(t, events.SubjectRoomFinished).Data)
}

// TestServerDown: while NATS is down the receiver answers 503 at once, and
// nothing of that request is stored when NATS comes back; the retry is.
func TestServerDown(t *testing.T) {
	t.Parallel()
	addr := freeAddr(t)
	dir := t.TempDir()
	b := setupOn(t, testenv.StartNATSAt(t, addr, dir), nil)

	b.nats.Server.Shutdown()
	b.nats.Server.WaitForShutdown()
	require.Eventually(t, func() bool { return !b.nc.IsConnected() }, 5*time.Second, 10*time.Millisecond)

	body := event(t, "room_finished", "EV_down", "r1")
	start := time.Now()
	status, answer := post(t, b.url, sign(t, testKey, testSecret, body), body)
	require.Equal(t, http.StatusServiceUnavailable, status, answer)
	require.Less(t, time.Since(start), time.Second)

	testenv.StartNATSAt(t, addr, dir)
	require.Eventually(t, b.nc.IsConnected, 10*time.Second, 20*time.Millisecond)
	require.Eventually(t, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, err := b.js.Stream(ctx, events.StreamWebhooks)
		return err == nil
	}, 10*time.Second, 50*time.Millisecond)
	require.EqualValues(t, 0, b.stored(t))

	status, answer = post(t, b.url, sign(t, testKey, testSecret, body), body)
	require.Equal(t, http.StatusOK, status, answer)
	require.EqualValues(t, 1, b.stored(t))
}

// TestPublishTimeout: a JetStream that does not answer in PublishTimeout is
// 503 after about that long.
func TestPublishTimeout(t *testing.T) {
	t.Parallel()
	n := testenv.StartNATS(t)
	nc, _ := n.Connect(t)
	// A JetStream API on a prefix nobody answers: the publish's request
	// still has a responder (below) that never replies.
	sub, err := nc.Subscribe(events.WebhookPrefix+">", func(*nats.Msg) {})
	require.NoError(t, err)
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	rc, err := New(Config{APIKey: testKey, APISecret: testSecret, PublishTimeout: 300 * time.Millisecond}, js, nil)
	require.NoError(t, err)
	mux := http.NewServeMux()
	rc.Routes(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	body := event(t, "room_finished", "EV_slow", "r1")
	start := time.Now()
	status, _ := post(t, srv.URL+Path, sign(t, testKey, testSecret, body), body)
	require.Equal(t, http.StatusServiceUnavailable, status)
	require.GreaterOrEqual(t, time.Since(start), 300*time.Millisecond)
	require.Less(t, time.Since(start), 2*time.Second)
}

// TestLogsNoSecrets: no log entry carries the API secret or the token.
func TestLogsNoSecrets(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	body := event(t, "room_started", "EV_logs", "r1")
	good := sign(t, testKey, testSecret, body)
	bad := sign(t, testKey, "wrong-"+testSecret, body)
	post(t, b.url, good, body)
	post(t, b.url, bad, body)
	post(t, b.url, good, []byte(`{"id":"x"}`))

	entries := b.logs.AllEntries()
	require.Len(t, entries, 3)
	f := &logrus.JSONFormatter{}
	for _, e := range entries {
		line, err := f.Format(e)
		require.NoError(t, err)
		for _, secret := range []string{testSecret, good, bad, strings.Split(good, ".")[2], strings.Split(bad, ".")[2]} {
			require.NotContains(t, string(line), secret)
		}
		require.Contains(t, e.Data, "outcome")
		require.Contains(t, e.Data, "event_id")
	}
	require.Equal(t, logrus.InfoLevel, entries[1].Level)
	require.Equal(t, OutcomeUnauthorized, entries[1].Data["outcome"])
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return addr
}

// TestOddEventID: an event whose id is not a valid command ID (too long,
// spaces, dots) is stored under events.WebhookMsgID of it, the id itself in
// a header, and its retry is still a duplicate; a LiveKit-shaped id is its
// own message ID, with no extra header.
func TestOddEventID(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	id := strings.Repeat("EV odd.id ", 20) + "end"
	body := event(t, "room_finished", id, "r1")
	status, answer := post(t, b.url, sign(t, testKey, testSecret, body), body)
	require.Equal(t, http.StatusOK, status, answer)
	msg := b.last(t, events.SubjectRoomFinished)
	require.Equal(t, events.WebhookMsgID(id), msg.Header.Get(jetstream.MsgIDHeader))
	require.True(t, events.ValidCommandID(events.WebhookIDPrefix+msg.Header.Get(jetstream.MsgIDHeader)))
	require.Equal(t, id, msg.Header.Get(events.HeaderWebhookEventID))
	require.Equal(t, body, msg.Data)

	status, answer = post(t, b.url, sign(t, testKey, testSecret, body), body)
	require.Equal(t, http.StatusOK, status, answer)
	require.Equal(t, "duplicate\n", answer)
	require.EqualValues(t, 1, b.stored(t))

	body = event(t, "room_finished", "EV_plain", "r1")
	status, answer = post(t, b.url, sign(t, testKey, testSecret, body), body)
	require.Equal(t, http.StatusOK, status, answer)
	msg = b.last(t, events.SubjectRoomFinished)
	require.Equal(t, "EV_plain", msg.Header.Get(jetstream.MsgIDHeader))
	require.Empty(t, msg.Header.Get(events.HeaderWebhookEventID))
}
