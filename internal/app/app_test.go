package app_test

import (
	"context"
	"encoding/json"
	"net"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"
	"github.com/stretchr/testify/require"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/internal/app"
	"github.com/roomkeeper/roomkeeper/internal/config"
	"github.com/roomkeeper/roomkeeper/internal/testenv"
	lktest "github.com/roomkeeper/roomkeeper/internal/testenv/livekit"
	"github.com/roomkeeper/roomkeeper/natsapi"
)

// freeAddr returns a loopback address with a port free right now.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer func() { _ = l.Close() }()
	return l.Addr().String()
}

func testConfig(t *testing.T) config.Config {
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.EmbeddedNATSAddr = "127.0.0.1:0"
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.LogLevel = "warn"
	return cfg
}

type proc struct {
	app    *app.App
	cancel context.CancelFunc
	done   chan error
}

// serve starts `roomkeeper serve` in process and stops it at the end.
func serve(t *testing.T, cfg config.Config) *proc {
	t.Helper()
	log := cfg.Logger()
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.Start(ctx, cfg, app.All, log)
	require.NoError(t, err)
	p := &proc{app: a, cancel: cancel, done: make(chan error, 1)}
	go func() { p.done <- a.Run(ctx) }()
	t.Cleanup(func() { p.stop(t) })
	return p
}

// serveLogged is serve with the app's log collected in the returned buffer.
func serveLogged(t *testing.T, cfg config.Config, roles app.Roles) (*proc, *testenv.Buffer) {
	t.Helper()
	logs := &testenv.Buffer{}
	log := cfg.Logger()
	log.SetOutput(logs)
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.Start(ctx, cfg, roles, log)
	require.NoError(t, err)
	p := &proc{app: a, cancel: cancel, done: make(chan error, 1)}
	go func() { p.done <- a.Run(ctx) }()
	t.Cleanup(func() { p.stop(t) })
	return p, logs
}

func (p *proc) stop(t *testing.T) {
	p.cancel()
	select {
	case err, ok := <-p.done:
		if ok {
			require.NoError(t, err)
			close(p.done)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop within 30s")
	}
}

func client(t *testing.T, url string, opts ...nats.Option) (*natsapi.Client, jetstream.JetStream) {
	t.Helper()
	nc, err := nats.Connect(url, opts...)
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	c, err := natsapi.NewClient(nc)
	require.NoError(t, err)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	return c, js
}

// appClient connects to the NATS server of a as roomctl would, with the
// nkey seed of its embedded server (DATA_DIR/nats/client.nk).
func appClient(t *testing.T, a *app.App) (*natsapi.Client, jetstream.JetStream) {
	t.Helper()
	var opts []nats.Option
	if seed := a.SeedFile(); seed != "" {
		o, err := nats.NkeyOptionFromSeed(seed)
		require.NoError(t, err)
		opts = append(opts, o)
	}
	return client(t, a.NATSURL(), opts...)
}

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func cmdID(prefix string) string { return prefix + "-" + nuid.Next() }

func TestServeRestartKeepsRooms(t *testing.T) {
	cfg := testConfig(t)
	p := serve(t, cfg)
	c, _ := appClient(t, p.app)
	name := "kept"
	room, err := c.CreateRoom(ctxT(t, 30*time.Second), cmdID("create"), events.CreateRoom{RoomName: &name})
	require.NoError(t, err)
	addr := p.app.NATSURL()
	p.stop(t)

	// Same data directory, same NATS port: the room and the streams are
	// still there.
	cfg.EmbeddedNATSAddr = addr[len("nats://"):]
	p2 := serve(t, cfg)
	c2, _ := appClient(t, p2.app)
	res, err := c2.DeleteRooms(ctxT(t, 30*time.Second), cmdID("delete"), events.DeleteRooms{RoomIDs: []string{room.RoomID}})
	require.NoError(t, err)
	require.Len(t, res.Deleted, 1)
	require.Equal(t, room.RoomID, res.Deleted[0].RoomID)
}

// waitEvent waits for a domain event of type typ about roomID.
func waitEvent(t *testing.T, js jetstream.JetStream, typ, roomID string, within time.Duration) events.Event {
	t.Helper()
	ctx := ctxT(t, within)
	cons, err := js.OrderedConsumer(ctx, events.StreamEvents, jetstream.OrderedConsumerConfig{FilterSubjects: []string{events.EventSubject(typ)}})
	require.NoError(t, err)
	for {
		msg, err := cons.Next(jetstream.FetchContext(ctx))
		require.NoError(t, err, "no %s event for %s within %s", typ, roomID, within)
		var ev events.Event
		require.NoError(t, json.Unmarshal(msg.Data(), &ev))
		if ev.Subject == roomID {
			return ev
		}
	}
}

func TestMeetingsWithRealLiveKit(t *testing.T) {
	httpAddr := freeAddr(t)
	lk := lktest.Start(t, lktest.Options{
		WebhookURL:       "http://" + httpAddr + "/livekit/webhook",
		EmptyTimeout:     2 * time.Second,
		DepartureTimeout: 2 * time.Second,
	})
	cfg := testConfig(t)
	cfg.HTTPAddr = httpAddr
	cfg.LiveKitURL, cfg.LiveKitAPIKey, cfg.LiveKitAPISecret = lk.URL, lk.APIKey, lk.APISecret
	cfg.MeetingEmptyTimeout, cfg.MeetingDepartureTimeout = 2*time.Second, 2*time.Second
	p := serve(t, cfg)
	c, js := appClient(t, p.app)
	create := func(name string) string {
		r, err := c.CreateRoom(ctxT(t, 30*time.Second), cmdID("create"), events.CreateRoom{RoomName: &name})
		require.NoError(t, err)
		return r.RoomID
	}

	t.Run("graceful delete marks, room_finished deletes", func(t *testing.T) {
		id := create("graceful")
		part := lktest.Join(t, lk, id, "alice")
		waitEvent(t, js, events.EventMeetingStarted, id, 20*time.Second)
		res, err := c.DeleteRooms(ctxT(t, 30*time.Second), cmdID("del"), events.DeleteRooms{RoomIDs: []string{id}, WithMeeting: events.PolicyWhenMeetingEnds})
		require.NoError(t, err)
		require.Equal(t, events.DeleteSuccessRoomWithActiveMeetingScheduledToBeDeleted, res.Deleted[0].SuccessCode)
		left := time.Now()
		part.Leave()
		waitEvent(t, js, events.EventDeleted, id, 20*time.Second)
		t.Logf("room gone %s after the participant left (departure timeout 2s)", time.Since(left).Round(100*time.Millisecond))
		res, err = c.DeleteRooms(ctxT(t, 30*time.Second), cmdID("del"), events.DeleteRooms{RoomIDs: []string{id}})
		require.NoError(t, err)
		require.Equal(t, events.DeleteErrorRoom, res.Failed[0].Error, "the room is gone")
	})

	t.Run("force delete disconnects the participant", func(t *testing.T) {
		id := create("forced")
		part := lktest.Join(t, lk, id, "bob")
		waitEvent(t, js, events.EventMeetingStarted, id, 20*time.Second)
		res, err := c.DeleteRooms(ctxT(t, 30*time.Second), cmdID("del"), events.DeleteRooms{RoomIDs: []string{id}, Force: true})
		require.NoError(t, err)
		require.Equal(t, events.DeleteSuccessRoomWithActiveMeetingDeleted, res.Deleted[0].SuccessCode)
		part.WaitDisconnected(t, 10*time.Second)
		waitEvent(t, js, events.EventDeleted, id, 5*time.Second)
	})

	t.Run("delete without a meeting deletes at once", func(t *testing.T) {
		id := create("idle")
		res, err := c.DeleteRooms(ctxT(t, 30*time.Second), cmdID("del"), events.DeleteRooms{RoomIDs: []string{id}})
		require.NoError(t, err)
		require.Equal(t, events.DeleteSuccessRoomDeleted, res.Deleted[0].SuccessCode)
	})

	t.Run("delete right after the last participant left", func(t *testing.T) {
		// LiveKit keeps the room for the departure timeout, so the delete
		// races room_finished: either way the room must end up deleted,
		// never left marked.
		id := create("window")
		part := lktest.Join(t, lk, id, "carol")
		waitEvent(t, js, events.EventMeetingStarted, id, 20*time.Second)
		part.Leave()
		res, err := c.DeleteRooms(ctxT(t, 30*time.Second), cmdID("del"), events.DeleteRooms{RoomIDs: []string{id}, WithMeeting: events.PolicyWhenMeetingEnds})
		require.NoError(t, err)
		require.Len(t, res.Deleted, 1)
		waitEvent(t, js, events.EventDeleted, id, 20*time.Second)
	})
}

// STREAM_DUPLICATES_WINDOW is the window of every stream the roles
// bootstrap, and a restart with another window applies it.
func TestStreamDuplicatesWindowReachesTheStreams(t *testing.T) {
	cfg := testConfig(t)
	cfg.StreamDuplicatesWindow = 90 * time.Second
	p := serve(t, cfg)
	windows := func(a *app.App) map[string]time.Duration {
		_, js := appClient(t, a)
		out := map[string]time.Duration{}
		for _, sc := range natsapi.DefaultTopology().Streams() {
			s, err := js.Stream(ctxT(t, 10*time.Second), sc.Name)
			require.NoError(t, err)
			out[sc.Name] = s.CachedInfo().Config.Duplicates
		}
		return out
	}
	for name, d := range windows(p.app) {
		require.Equal(t, 90*time.Second, d, name)
	}
	addr := p.app.NATSURL()
	p.stop(t)

	cfg.EmbeddedNATSAddr = addr[len("nats://"):]
	cfg.StreamDuplicatesWindow = config.Default().StreamDuplicatesWindow
	p2 := serve(t, cfg)
	for name, d := range windows(p2.app) {
		require.Equal(t, 10*time.Minute, d, name)
	}
}

// A worker whose store cannot be opened (MongoDB away, a bad URI) stops
// with the store's error. It used to panic on a nil pointer while closing
// the store it never opened (found by the nemesis on FerretDB, seed
// 20261202: every start of a worker during a FerretDB outage).
func TestStartWithoutStoreReturnsItsError(t *testing.T) {
	cfg := testConfig(t)
	cfg.MongoURI = "mongodb://127.0.0.1:notaport"
	var err error
	require.NotPanics(t, func() {
		_, err = app.Start(context.Background(), cfg, app.Roles{Worker: true, Embedded: true}, cfg.Logger())
	})
	require.ErrorContains(t, err, "mongo")
}
