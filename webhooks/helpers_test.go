package webhooks

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/internal/testenv"
	"github.com/roomkeeper/roomkeeper/natsapi"
)

const (
	testKey    = "APIroomkeepertest"
	testSecret = "secret-that-must-never-be-logged-0123456789"
)

// countMetrics is a Metrics that counts outcomes.
type countMetrics struct {
	mu sync.Mutex
	n  map[string]int
}

func (m *countMetrics) Webhook(outcome string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.n == nil {
		m.n = map[string]int{}
	}
	m.n[outcome]++
}

func (m *countMetrics) get(outcome string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.n[outcome]
}

// testBundle is what a receiver test works with.
type testBundle struct {
	nats    *testenv.NATS
	nc      *nats.Conn
	js      jetstream.JetStream
	rc      *Receiver
	url     string // the receiver's webhook URL on loopback
	metrics *countMetrics
	logs    *logtest.Hook
}

// setup starts NATS with the contract's streams and a receiver behind an
// httptest server on 127.0.0.1. edit, when set, changes the config.
func setup(t *testing.T, edit func(*Config)) *testBundle {
	t.Helper()
	n := testenv.StartNATS(t)
	return setupOn(t, n, edit)
}

func setupOn(t *testing.T, n *testenv.NATS, edit func(*Config)) *testBundle {
	t.Helper()
	nc, js := n.Bootstrap(t, nil)
	m := &countMetrics{}
	cfg := Config{APIKey: testKey, APISecret: testSecret, Metrics: m}
	if edit != nil {
		edit(&cfg)
	}
	log, hook := logtest.NewNullLogger()
	log.SetLevel(logrus.DebugLevel)
	rc, err := New(cfg, js, log)
	require.NoError(t, err)
	mux := http.NewServeMux()
	rc.Routes(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &testBundle{nats: n, nc: nc, js: js, rc: rc, url: srv.URL + Path, metrics: m, logs: hook}
}

// event returns the protojson body of a webhook event as LiveKit sends it.
func event(t testing.TB, name, id, room string) []byte {
	t.Helper()
	body, err := protojson.Marshal(&livekit.WebhookEvent{
		Event:     name,
		Id:        id,
		CreatedAt: time.Now().Unix(),
		Room:      &livekit.Room{Sid: "RM_" + room, Name: room, EmptyTimeout: 300},
	})
	require.NoError(t, err)
	return body
}

// sign returns the Authorization header LiveKit's notifier sends with body:
// an access token signed with key/secret carrying the body's sha256.
func sign(t testing.TB, key, secret string, body []byte) string {
	t.Helper()
	token, err := Sign(key, secret, body, 5*time.Minute)
	require.NoError(t, err)
	return token
}

// post sends body with the given Authorization (none when empty) and
// returns the status and the answer's body.
func post(t testing.TB, url, authorization string, body []byte) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/webhook+json")
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	answer, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(answer)
}

// stored returns how many messages the webhooks stream holds.
func (b *testBundle) stored(t testing.TB) uint64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := b.js.Stream(ctx, events.StreamWebhooks)
	require.NoError(t, err)
	info, err := s.Info(ctx)
	require.NoError(t, err)
	return info.State.Msgs
}

// last returns the last message stored on subject.
func (b *testBundle) last(t testing.TB, subject string) *jetstream.RawStreamMsg {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := b.js.Stream(ctx, events.StreamWebhooks)
	require.NoError(t, err)
	msg, err := s.GetLastMsgForSubject(ctx, subject)
	require.NoError(t, err)
	return msg
}

// rebootstrap creates the contract's streams again.
func (b *testBundle) rebootstrap(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, natsapi.Bootstrap(ctx, b.js, natsapi.DefaultTopology()))
}
