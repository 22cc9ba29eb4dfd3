// Package workertest runs roomkeeper's workers against real servers for
// tests: a NATS server with JetStream and the contract's streams, a SQLite
// store (or the one given), an events client and the room handlers. The
// runtime's tests (workers), the domain's (rooms) and the queries' share
// it.
package workertest

import (
	"context"
	"encoding/json"
	"errors"
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
	"github.com/roomkeeper/roomkeeper/handler"
	"github.com/roomkeeper/roomkeeper/internal/testenv"
	"github.com/roomkeeper/roomkeeper/natsapi"
	"github.com/roomkeeper/roomkeeper/rooms"
	"github.com/roomkeeper/roomkeeper/store"
	"github.com/roomkeeper/roomkeeper/store/sqlite"
	"github.com/roomkeeper/roomkeeper/workers"
)

// Bundle is what a worker test runs against: a real NATS server with the
// contract's streams, a real SQLite store and a client.
type Bundle struct {
	NATS     *testenv.NATS
	NC       *nats.Conn
	JS       jetstream.JetStream
	Store    store.Store
	Client   *natsapi.Client
	Topology natsapi.Topology
	Rooms    *rooms.Rooms
	Log      *logrus.Logger
}

// ErrCrash is what a WorkerOpts.Fault that returns true makes the worker
// stop with: as if the process had died, with neither ack nor nak.
var ErrCrash = errors.New("simulated crash")

// SetupOpts changes what Setup starts.
type SetupOpts struct {
	// Topology, when set, changes the streams' settings (AckWait 2s and
	// MaxDeliver 5 by default).
	Topology func(*natsapi.Topology)
	// Store replaces the SQLite store.
	Store store.Store
}

// Setup starts the servers of a test.
func Setup(t testing.TB, opts SetupOpts) *Bundle {
	t.Helper()
	n := testenv.StartNATS(t)
	top := natsapi.DefaultTopology()
	top.AckWait = 2 * time.Second
	top.MaxDeliver = 5
	if opts.Topology != nil {
		opts.Topology(&top)
	}
	nc, js := n.Bootstrap(t, &top)
	st := opts.Store
	if st == nil {
		s, err := sqlite.Open(context.Background(), sqlite.Config{Path: filepath.Join(t.TempDir(), "roomkeeper.db")})
		require.NoError(t, err)
		t.Cleanup(func() { _ = s.Close() })
		st = s
	}
	client, err := natsapi.NewClient(nc)
	require.NoError(t, err)
	log := logrus.New()
	log.SetLevel(logrus.WarnLevel)
	return &Bundle{
		NATS: n, NC: nc, JS: js, Store: st, Client: client, Topology: top, Log: log,
		Rooms: &rooms.Rooms{Store: st, BaseURL: "http://localhost:8080", MinAutoDeletionDelay: time.Hour},
	}
}

// Counts is a workers.Metrics that counts outcomes.
type Counts struct {
	mu           sync.Mutex
	outcomes     map[string]int
	DeadLetters  atomic.Int64
	Redeliveries atomic.Int64
}

// Handled counts an outcome.
func (c *Counts) Handled(_, outcome string, _ time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.outcomes == nil {
		c.outcomes = map[string]int{}
	}
	c.outcomes[outcome]++
}

// Redelivered counts a redelivery.
func (c *Counts) Redelivered(string) { c.Redeliveries.Add(1) }

// DeadLettered counts a dead letter.
func (c *Counts) DeadLettered(string) { c.DeadLetters.Add(1) }

// Get returns the count of outcome.
func (c *Counts) Get(outcome string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.outcomes[outcome]
}

// Running is a worker started by Start.
type Running struct {
	W       *workers.Worker
	Metrics *Counts
	cancel  context.CancelFunc
	done    chan struct{} // closed when Run returned
	err     error
}

// Done is closed when the worker's Run returned; Err is what it returned.
func (r *Running) Done() <-chan struct{} { return r.done }

// Err is what the worker's Run returned, once Done is closed.
func (r *Running) Err() error { return r.err }

// Stop stops fetching and waits for in-flight messages to finish.
func (r *Running) Stop(t *testing.T) {
	t.Helper()
	r.cancel()
	select {
	case <-r.done:
		require.NoError(t, r.err)
	case <-time.After(30 * time.Second):
		t.Fatal("worker did not stop")
	}
}

// WorkerOpts changes the worker Start runs.
type WorkerOpts struct {
	Conn     *nats.Conn // a separate connection, as another process has
	Reg      *handler.Registry
	Fault    func(step, id string) bool // true: crash after step
	Conc     int
	Ack      string // workers.AckDouble (default) or workers.AckAsync
	Registry func(*handler.Registry)
	Clock    func() time.Time // the worker's clock; default time.Now
}

// Start runs a worker until the end of the test (or stop).
func (b *Bundle) Start(t testing.TB, o WorkerOpts) *Running {
	t.Helper()
	js := b.JS
	if o.Conn != nil {
		var err error
		js, err = jetstream.New(o.Conn)
		require.NoError(t, err)
	}
	reg := o.Reg
	if reg == nil {
		reg = handler.NewRegistry()
		require.NoError(t, b.Rooms.Register(reg))
		if o.Registry != nil {
			o.Registry(reg)
		}
	}
	m := &Counts{}
	cfg := workers.Config{
		DuplicatesWindow: b.Topology.Duplicates,
		Concurrency:      max(o.Conc, 8), AckMode: o.Ack, RetryBase: 50 * time.Millisecond, RetryMax: 500 * time.Millisecond,
		FetchWait: 200 * time.Millisecond, // a stop waits for the last fetch
		Clock:     o.Clock,
	}
	if o.Fault != nil {
		cfg.Fault = func(step, id string) error {
			if o.Fault(step, id) {
				return ErrCrash
			}
			return nil
		}
	}
	w, err := workers.New(cfg, js, b.Store, reg, b.Log, m)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	r := &Running{W: w, Metrics: m, cancel: cancel, done: make(chan struct{})}
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

// Ctx is a context that ends after d or with the test.
func Ctx(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// StreamMsgs reads every message of a stream whose subject matches filter.
func (b *Bundle) StreamMsgs(t *testing.T, stream, filter string) []jetstream.Msg {
	t.Helper()
	ctx := Ctx(t, 20*time.Second)
	s, err := b.JS.Stream(ctx, stream)
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
	cons, err := b.JS.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{FilterSubjects: []string{filter}})
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

// Result waits for the result of command id.
func (b *Bundle) Result(t *testing.T, id string) *events.Result {
	t.Helper()
	r, err := b.Client.Result(Ctx(t, 30*time.Second), id)
	require.NoError(t, err, "result of %s", id)
	return r
}

// RoomOf is the room of an ok result.
func RoomOf(t *testing.T, r *events.Result) events.Room {
	t.Helper()
	require.True(t, r.OK, "result not ok: %+v", r.Error)
	var room events.Room
	require.NoError(t, json.Unmarshal(r.Data, &room))
	return room
}

// Send publishes a command with the events client.
func (b *Bundle) Send(t *testing.T, id string, cmd events.Command) {
	t.Helper()
	require.NoError(t, b.Client.Send(Ctx(t, 10*time.Second), id, cmd))
}

// SendRaw publishes a raw command body.
func (b *Bundle) SendRaw(t *testing.T, id, subject string, body string) {
	t.Helper()
	require.NoError(t, b.Client.SendRaw(Ctx(t, 10*time.Second), id, subject, []byte(body)))
}

// SendSystem publishes a command as roomkeeper's own publishers do (the
// scheduler), with the Roomkeeper-Origin header that lets it use a
// reserved ID prefix.
func (b *Bundle) SendSystem(t *testing.T, id, subject, body string) {
	t.Helper()
	m := nats.NewMsg(subject)
	m.Data = []byte(body)
	m.Header.Set(events.HeaderOrigin, events.OriginScheduler)
	_, err := b.JS.PublishMsg(Ctx(t, 10*time.Second), m, jetstream.WithMsgID(id))
	require.NoError(t, err)
}

// CountRooms counts the stored rooms.
func (b *Bundle) CountRooms(t *testing.T) int64 {
	t.Helper()
	n, err := b.Store.CountRooms(Ctx(t, 10*time.Second))
	require.NoError(t, err)
	return n
}

// Ptr returns a pointer to v.
func Ptr[T any](v T) *T { return &v }

// CommandsInfo reads the workers consumer of ROOMS_COMMANDS; nil when it
// cannot (tests poll it until the consumer has settled).
func CommandsInfo(js jetstream.JetStream) *jetstream.ConsumerInfo {
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

// Decode runs the registry's decoding path of subject on body as the
// worker does (JSON Schema, unmarshal, the handler's Validate); ok is false
// when no handler is registered for subject.
func Decode(reg *handler.Registry, subject string, body []byte, now time.Time) (msg any, ok bool, err error) {
	rt := reg.Route(subject)
	if rt == nil {
		return nil, false, nil
	}
	msg, err = rt.Decode(subject, body, now)
	return msg, true, err
}

// Settled reports whether the consumer of ROOMS_COMMANDS has settled
// every message: nothing pending or unacked.
func Settled(t *testing.T, js jetstream.JetStream) func() bool {
	return func() bool {
		info := CommandsInfo(js)
		return info != nil && info.NumAckPending == 0 && info.NumPending == 0
	}
}

// Exists reports whether the store holds room id.
func (b *Bundle) Exists(t *testing.T, id string) bool {
	t.Helper()
	_, err := b.Store.GetRoom(Ctx(t, 5*time.Second), id)
	if err != nil {
		require.ErrorIs(t, err, store.ErrNotFound)
		return false
	}
	return true
}

// LedgerHas reports whether the command ledger holds a record of id.
func (b *Bundle) LedgerHas(t *testing.T, id string) bool {
	t.Helper()
	_, err := b.Store.GetCommand(Ctx(t, 5*time.Second), id)
	if err != nil {
		require.ErrorIs(t, err, store.ErrNotFound)
		return false
	}
	return true
}
