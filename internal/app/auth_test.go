package app_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"
	"github.com/stretchr/testify/require"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/internal/app"
	"github.com/roomkeeper/roomkeeper/internal/config"
	"github.com/roomkeeper/roomkeeper/internal/embedded"
	"github.com/roomkeeper/roomkeeper/natsapi"
)

// asyncErrs collects the asynchronous errors of a connection: the
// server's permission violations arrive there.
type asyncErrs struct {
	mu   sync.Mutex
	errs []string
}

func (a *asyncErrs) handler(_ *nats.Conn, _ *nats.Subscription, err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.errs = append(a.errs, err.Error())
}

// requireViolation waits for a permission violation naming subject.
func (a *asyncErrs) requireViolation(t *testing.T, kind, subject string) {
	t.Helper()
	want := `permissions violation for ` + kind + ` to "` + subject + `"`
	require.Eventually(t, func() bool {
		for _, e := range a.all() {
			if strings.Contains(strings.ToLower(e), strings.ToLower(want)) {
				return true
			}
		}
		return false
	}, 5*time.Second, 20*time.Millisecond, "no %q", want)
}

func (a *asyncErrs) all() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.errs...)
}

// The embedded server of `serve` accepts only its keys: a connection with
// no key, or with a key it does not know, is refused; the seed it made at
// its first start is its owner's alone and lets roomctl's kind of client in.
func TestEmbeddedNATSRefusesUnauthenticated(t *testing.T) {
	cfg := testConfig(t)
	p := serve(t, cfg)
	url := p.app.NATSURL()

	_, err := nats.Connect(url, nats.Timeout(5*time.Second))
	require.Error(t, err, "a connection without a key")
	require.Contains(t, strings.ToLower(err.Error()), "authorization violation")

	stranger := filepath.Join(t.TempDir(), "stranger.nk")
	kp, err := nkeys.CreateUser()
	require.NoError(t, err)
	seed, err := kp.Seed()
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(stranger, seed, 0o600))
	o, err := nats.NkeyOptionFromSeed(stranger)
	require.NoError(t, err)
	_, err = nats.Connect(url, o, nats.Timeout(5*time.Second))
	require.Error(t, err, "a connection with a key the server does not know")

	seedPath := filepath.Join(cfg.DataDir, "nats", "client.nk")
	require.Equal(t, seedPath, p.app.SeedFile())
	requireMode(t, seedPath, 0o600)
	c, _ := appClient(t, p.app)
	name := "with the key"
	_, err = c.CreateRoom(ctxT(t, 30*time.Second), cmdID("create"), events.CreateRoom{RoomName: &name})
	require.NoError(t, err)
}

// A publisher added with `roomkeeper nkey add-publisher` publishes
// commands and reads their results, and can do nothing else: no webhook,
// no query, no reading of other replies, no consumer deleted.
func TestPublisherLimits(t *testing.T) {
	cfg := testConfig(t)
	seedPath := filepath.Join(t.TempDir(), "billing.nk")
	var out strings.Builder
	require.NoError(t, app.AddPublisher(cfg, "billing", seedPath, &out))
	require.Contains(t, out.String(), "_INBOX_billing")
	requireMode(t, seedPath, 0o600)
	require.ErrorIs(t, app.AddPublisher(cfg, "billing", filepath.Join(t.TempDir(), "again.nk"), io.Discard), embedded.ErrAuth, "a name is taken once")

	p := serve(t, cfg)
	full, fjs := appClient(t, p.app)

	errs := &asyncErrs{}
	o, err := nats.NkeyOptionFromSeed(seedPath)
	require.NoError(t, err)
	pnc, err := nats.Connect(p.app.NATSURL(), o, nats.CustomInboxPrefix("_INBOX_billing"), nats.ErrorHandler(errs.handler))
	require.NoError(t, err)
	t.Cleanup(pnc.Close)
	pub, err := natsapi.NewClient(pnc)
	require.NoError(t, err)
	pjs, err := jetstream.New(pnc)
	require.NoError(t, err)

	// Publish a command and read its result: waiting with the client,
	// subscribed live, and by stream get (nats stream get --last-for).
	live, err := pnc.SubscribeSync(events.ResultPrefix + ">")
	require.NoError(t, err)
	name := "billing room"
	id := cmdID("billing")
	room, err := pub.CreateRoom(ctxT(t, 30*time.Second), id, events.CreateRoom{RoomName: &name})
	require.NoError(t, err)
	msg, err := live.NextMsg(10 * time.Second)
	require.NoError(t, err)
	require.Equal(t, events.ResultSubject(id), msg.Subject)
	results, err := pjs.Stream(ctxT(t, 10*time.Second), events.StreamResults)
	require.NoError(t, err)
	// A live subscriber can see the result before the stream has stored
	// it: the stream get may need a moment.
	var stored *jetstream.RawStreamMsg
	require.Eventually(t, func() bool {
		stored, err = results.GetLastMsgForSubject(ctxT(t, 10*time.Second), events.ResultSubject(id))
		return err == nil
	}, 10*time.Second, 20*time.Millisecond, "the stored result")
	var r events.Result
	require.NoError(t, json.Unmarshal(stored.Data, &r))
	require.True(t, r.OK)
	require.Equal(t, id, r.CommandID)
	require.Empty(t, errs.all(), "publishing a command and reading its result are allowed")

	// No webhook: a room_started straight on JetStream is refused and
	// never stored.
	body := []byte(`{"event":"room_started","id":"EV_forged","room":{"name":"` + room.RoomID + `"}}`)
	_, err = pjs.Publish(ctxT(t, 2*time.Second), events.WebhookPrefix+"room_started", body)
	require.Error(t, err)
	errs.requireViolation(t, "publish", events.WebhookPrefix+"room_started")
	require.NoError(t, pnc.Publish(events.WebhookPrefix+"room_started", body))
	require.NoError(t, pnc.Flush())
	wh, err := fjs.Stream(ctxT(t, 10*time.Second), events.StreamWebhooks)
	require.NoError(t, err)
	require.Zero(t, wh.CachedInfo().State.Msgs, "no forged webhook stored")

	// No query, and no reading of the queries or replies of others: the
	// full client's get (its reply holds the room secrets) reaches neither
	// of the publisher's subscriptions.
	_, err = pub.GetRoom(ctxT(t, 2*time.Second), room.RoomID)
	require.Error(t, err)
	errs.requireViolation(t, "publish", "rooms.api.get")
	apiSub, err := pnc.SubscribeSync("rooms.api.>")
	require.NoError(t, err)
	inboxSub, err := pnc.SubscribeSync("_INBOX.>")
	require.NoError(t, err)
	require.NoError(t, pnc.Flush())
	errs.requireViolation(t, "subscription", "rooms.api.>")
	errs.requireViolation(t, "subscription", "_INBOX.>")
	got, err := full.GetRoom(ctxT(t, 10*time.Second), room.RoomID)
	require.NoError(t, err)
	require.Equal(t, room.RoomID, got.RoomID)
	for _, sub := range []*nats.Subscription{apiSub, inboxSub} {
		m, err := sub.NextMsg(300 * time.Millisecond)
		require.Error(t, err, "the publisher read %v", m)
	}

	// No consumer deleted.
	err = pjs.DeleteConsumer(ctxT(t, 2*time.Second), events.StreamCommands, events.ConsumerWorkers)
	require.Error(t, err)
	_, err = fjs.Consumer(ctxT(t, 10*time.Second), events.StreamCommands, events.ConsumerWorkers)
	require.NoError(t, err, "the workers consumer is still there")
	errs.requireViolation(t, "publish", "$JS.API.CONSUMER.DELETE."+events.StreamCommands+"."+events.ConsumerWorkers)

	// No consumer created, not even on the results it may read.
	_, err = pjs.OrderedConsumer(ctxT(t, 2*time.Second), events.StreamResults, jetstream.OrderedConsumerConfig{})
	require.Error(t, err)

	// And the service still works for everyone.
	name2 := "after the attempts"
	_, err = pub.CreateRoom(ctxT(t, 30*time.Second), cmdID("billing"), events.CreateRoom{RoomName: &name2})
	require.NoError(t, err)
}

// EMBEDDED_NATS_AUTH=none turns authentication off on a loopback address:
// anyone local connects and no key is made.
func TestEmbeddedNATSAuthNone(t *testing.T) {
	cfg := testConfig(t)
	cfg.EmbeddedNATSAuth = config.AuthNone
	p := serve(t, cfg)
	require.Empty(t, p.app.SeedFile())
	c, _ := client(t, p.app.NATSURL())
	name := "open"
	_, err := c.CreateRoom(ctxT(t, 30*time.Second), cmdID("create"), events.CreateRoom{RoomName: &name})
	require.NoError(t, err)
	_, err = os.Stat(filepath.Join(cfg.DataDir, "nats", "client.nk"))
	require.True(t, errors.Is(err, os.ErrNotExist), "no seed: %v", err)

	cfg = testConfig(t)
	cfg.EmbeddedNATSAuth = config.AuthNone
	cfg.EmbeddedNATSAddr = "0.0.0.0:0"
	_, err = app.Start(context.Background(), cfg, app.All, cfg.Logger())
	require.ErrorIs(t, err, config.ErrInvalid)
	require.Contains(t, err.Error(), "EMBEDDED_NATS_AUTH=none")
}

// A `roomkeeper worker` on the same machine joins the embedded server of a
// serve with the seed under the same DATA_DIR, with no setting.
func TestWorkerJoinsWithTheSeed(t *testing.T) {
	cfg := testConfig(t)
	p := serve(t, cfg)
	wcfg := cfg
	wcfg.EmbeddedNATSAddr = strings.TrimPrefix(p.app.NATSURL(), "nats://")
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	w, err := app.Start(ctx, wcfg, app.Roles{Worker: true}, wcfg.Logger())
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	require.Equal(t, p.app.SeedFile(), w.SeedFile())
	code, body := get(t, w.HTTPAddr(), "/readyz")
	require.Equal(t, http.StatusOK, code, body)
}

// With a umask that opens new files to all, in a DATA_DIR that exists and
// is open to all: the NATS directory (JetStream store and seed) is the
// owner's alone, and so are the seed and the SQLite files.
func TestDataDirFilesPrivate(t *testing.T) {
	old := syscall.Umask(0)
	t.Cleanup(func() { syscall.Umask(old) })
	cfg := testConfig(t)
	require.NoError(t, os.Chmod(cfg.DataDir, 0o755))
	// An older version left the NATS directory open.
	require.NoError(t, os.Mkdir(filepath.Join(cfg.DataDir, "nats"), 0o755))
	p := serve(t, cfg)
	c, _ := appClient(t, p.app)
	name := "private"
	_, err := c.CreateRoom(ctxT(t, 30*time.Second), cmdID("create"), events.CreateRoom{RoomName: &name})
	require.NoError(t, err)
	requireMode(t, filepath.Join(cfg.DataDir, "nats"), 0o700)
	requireMode(t, filepath.Join(cfg.DataDir, "nats", "client.nk"), 0o600)
	for _, f := range []string{"roomkeeper.db", "roomkeeper.db-wal", "roomkeeper.db-shm"} {
		requireMode(t, filepath.Join(cfg.DataDir, f), 0o600)
	}
	requireMode(t, cfg.DataDir, 0o755) // not ours to change

	// A DATA_DIR serve makes is its owner's alone.
	fresh := testConfig(t)
	fresh.DataDir = filepath.Join(fresh.DataDir, "new", "data")
	serve(t, fresh)
	requireMode(t, fresh.DataDir, 0o700)
	requireMode(t, filepath.Join(fresh.DataDir, "roomkeeper.db"), 0o600)
}

func requireMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, want, fi.Mode().Perm(), "%s is %s", path, fi.Mode().Perm())
}
