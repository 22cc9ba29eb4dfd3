package workers_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/sirupsen/logrus"
	"github.com/stretchr/testify/require"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/internal/testenv"
	"github.com/roomkeeper/roomkeeper/store"
	"github.com/roomkeeper/roomkeeper/store/sqlite"
	"github.com/roomkeeper/roomkeeper/workers"
)

// bundle is what a worker test runs against: a real NATS server with the
// contract's streams, a real SQLite store and a client.
type bundle struct {
	nats     *testenv.NATS
	nc       *nats.Conn
	js       jetstream.JetStream
	store    store.Store
	client   *events.Client
	topology events.Topology
	rooms    *workers.Rooms
	log      *logrus.Logger
}

type setupOpts struct {
	topology func(*events.Topology)
	store    store.Store
}

func setup(t testing.TB, opts setupOpts) *bundle {
	t.Helper()
	n := testenv.StartNATS(t)
	top := events.DefaultTopology()
	top.AckWait = 2 * time.Second
	top.MaxDeliver = 5
	if opts.topology != nil {
		opts.topology(&top)
	}
	nc, js := n.Bootstrap(t, &top)
	st := opts.store
	if st == nil {
		s, err := sqlite.Open(context.Background(), sqlite.Config{Path: filepath.Join(t.TempDir(), "roomkeeper.db")})
		require.NoError(t, err)
		t.Cleanup(func() { _ = s.Close() })
		st = s
	}
	client, err := events.NewClient(nc)
	require.NoError(t, err)
	log := logrus.New()
	log.SetLevel(logrus.WarnLevel)
	return &bundle{
		nats: n, nc: nc, js: js, store: st, client: client, topology: top, log: log,
		rooms: &workers.Rooms{Store: st, BaseURL: "http://localhost:8080", MinAutoDeletionDelay: time.Hour},
	}
}

// counts is a Metrics that counts outcomes.
type counts struct {
	mu       sync.Mutex
	outcomes map[string]int
	dead     atomic.Int64
	redeliv  atomic.Int64
}

func (c *counts) Handled(_, outcome string, _ time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.outcomes == nil {
		c.outcomes = map[string]int{}
	}
	c.outcomes[outcome]++
}
func (c *counts) Redelivered(string)  { c.redeliv.Add(1) }
func (c *counts) DeadLettered(string) { c.dead.Add(1) }
func (c *counts) get(outcome string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.outcomes[outcome]
}

type running struct {
	w       *workers.Worker
	metrics *counts
	cancel  context.CancelFunc
	done    chan struct{} // closed when Run returned
	err     error
}

// stop stops fetching and waits for in-flight messages to finish.
func (r *running) stop(t *testing.T) {
	t.Helper()
	r.cancel()
	select {
	case <-r.done:
		require.NoError(t, r.err)
	case <-time.After(30 * time.Second):
		t.Fatal("worker did not stop")
	}
}

type workerOpts struct {
	conn     *nats.Conn // a separate connection, as another process has
	reg      *workers.Registry
	fault    func(step, id string) bool
	conc     int
	ack      string // workers.AckDouble (default) or workers.AckAsync
	registry func(*workers.Registry)
	clock    func() time.Time // the worker's clock; default time.Now
}

// start runs a worker until the end of the test (or stop).
func (b *bundle) start(t testing.TB, o workerOpts) *running {
	t.Helper()
	js := b.js
	if o.conn != nil {
		var err error
		js, err = jetstream.New(o.conn)
		require.NoError(t, err)
	}
	reg := o.reg
	if reg == nil {
		reg = workers.NewRegistry()
		require.NoError(t, b.rooms.Register(reg))
		if o.registry != nil {
			o.registry(reg)
		}
	}
	m := &counts{}
	w, err := workers.New(workers.Config{Concurrency: max(o.conc, 8), AckMode: o.ack, RetryBase: 50 * time.Millisecond, RetryMax: 500 * time.Millisecond}, js, b.store, reg, b.log, m)
	require.NoError(t, err)
	if o.clock != nil {
		w.SetClock(o.clock)
	}
	if o.fault != nil {
		w.SetFault(o.fault)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{w: w, metrics: m, cancel: cancel, done: make(chan struct{})}
	go func() { r.err = w.Run(ctx); close(r.done) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-r.done:
		case <-time.After(30 * time.Second):
		}
	})
	return r
}

func ctxT(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// streamMsgs reads every message of a stream whose subject matches filter.
func (b *bundle) streamMsgs(t *testing.T, stream, filter string) []jetstream.Msg {
	t.Helper()
	ctx := ctxT(t, 20*time.Second)
	s, err := b.js.Stream(ctx, stream)
	require.NoError(t, err)
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(filter))
	require.NoError(t, err)
	var n uint64
	for _, c := range info.State.Subjects {
		n += c
	}
	if n == 0 {
		return nil
	}
	cons, err := b.js.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{FilterSubjects: []string{filter}})
	require.NoError(t, err)
	var out []jetstream.Msg
	for uint64(len(out)) < n {
		batch, err := cons.Fetch(int(n)-len(out), jetstream.FetchMaxWait(5*time.Second))
		require.NoError(t, err)
		for m := range batch.Messages() {
			out = append(out, m)
		}
		require.NoError(t, batch.Error())
	}
	return out
}

// result waits for the result of command id.
func (b *bundle) result(t *testing.T, id string) *events.Result {
	t.Helper()
	r, err := b.client.Result(ctxT(t, 30*time.Second), id)
	require.NoError(t, err, "result of %s", id)
	return r
}

func roomOf(t *testing.T, r *events.Result) events.Room {
	t.Helper()
	require.True(t, r.OK, "result not ok: %+v", r.Error)
	var room events.Room
	require.NoError(t, json.Unmarshal(r.Data, &room))
	return room
}

func (b *bundle) send(t *testing.T, id string, cmd events.Command) {
	t.Helper()
	require.NoError(t, b.client.Send(ctxT(t, 10*time.Second), id, cmd))
}

func (b *bundle) sendRaw(t *testing.T, id, subject string, body string) {
	t.Helper()
	require.NoError(t, b.client.SendRaw(ctxT(t, 10*time.Second), id, subject, []byte(body)))
}

// sendSystem publishes a command as roomkeeper's own publishers do (the
// scheduler), with the Roomkeeper-Origin header that lets it use a
// reserved ID prefix.
func (b *bundle) sendSystem(t *testing.T, id, subject, body string) {
	t.Helper()
	m := nats.NewMsg(subject)
	m.Data = []byte(body)
	m.Header.Set(events.HeaderOrigin, events.OriginScheduler)
	_, err := b.js.PublishMsg(ctxT(t, 10*time.Second), m, jetstream.WithMsgID(id))
	require.NoError(t, err)
}

func (b *bundle) countRooms(t *testing.T) int64 {
	t.Helper()
	n, err := b.store.CountRooms(ctxT(t, 10*time.Second))
	require.NoError(t, err)
	return n
}

func ptr[T any](v T) *T { return &v }

// commandsInfo reads the workers consumer of ROOMS_COMMANDS; nil when it
// cannot (tests poll it until the consumer has settled).
func commandsInfo(js jetstream.JetStream) *jetstream.ConsumerInfo {
	c, err := js.Consumer(context.Background(), events.StreamCommands, events.ConsumerWorkers)
	if err != nil {
		return nil
	}
	info, err := c.Info(context.Background())
	if err != nil {
		return nil
	}
	return info
}
