package nemesis

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/internal/config"
	"github.com/roomkeeper/roomkeeper/internal/procs"
	lktest "github.com/roomkeeper/roomkeeper/internal/testenv/livekit"
	"github.com/roomkeeper/roomkeeper/natsapi"
	"github.com/roomkeeper/roomkeeper/store"
	"github.com/roomkeeper/roomkeeper/store/mongo"
	"github.com/roomkeeper/roomkeeper/store/sqlite"
	"github.com/roomkeeper/roomkeeper/webhooks"
)

// Settings of the system under test.
const (
	sweepInterval = 2 * time.Second
	// mongoSweepInterval: on FerretDB a sweep (its scans of the rooms and
	// the ledger) takes about as long as sweepInterval, and one worker
	// would do little else.
	mongoSweepInterval   = 10 * time.Second
	minAutoDeletionDelay = time.Second
	workerConcurrency    = 8
	// sigtermBound is how long a roomkeeper process may take to exit
	// after SIGTERM.
	sigtermBound = 30 * time.Second
	// auditStream sources ROOMS_RESULTS without its one-per-subject
	// limit, so a second result stored for a command stays visible.
	auditStream = "NEMESIS_RESULTS"
	// LiveKit's room timeouts (rooms a participant's join creates): a
	// room closes, and its room_finished goes out, this long after its
	// last participant left, or after nobody joined.
	liveKitDepartureTimeout = time.Second
	liveKitEmptyTimeout     = 5 * time.Second
	// duplicatesWindow is the streams' duplicates window
	// (STREAM_DUPLICATES_WINDOW): the shortest allowed, so that the load
	// repeats commands past it.
	duplicatesWindow = config.MinStreamDuplicatesWindow
)

// system is the deployment under test: a 3-node JetStream cluster, and
// roomkeeper workers, schedulers and a webhooks receiver as separate
// processes sharing one SQLite file, and a livekit-server whose webhooks
// go to the webhooks receiver.
type system struct {
	t          *testing.T
	logDir     string
	dataDir    string
	nats       []*procs.NATS
	workers    []*procs.Role
	schedulers []*procs.Role
	webhooks   []*procs.Role
	// apis are the HTTP API processes, dispatchers the outgoing webhook
	// dispatchers posting to receiver.
	apis        []*procs.Role
	dispatchers []*procs.Role
	receiver    *receiver
	// ferret is the MongoDB store (FerretDB) of a run on MONGO_URI; nil
	// on SQLite.
	ferret *procs.Ferret
	// sweep is the schedulers' SWEEP_INTERVAL.
	sweep time.Duration
	// lk is the livekit-server the workers ask about meetings and whose
	// webhooks the receiver takes; its key signs the load's webhooks too.
	lk     *lktest.Server
	nc     *nats.Conn
	js     jetstream.JetStream
	client *natsapi.Client
}

// topology is the streams' topology of the run: R3.
func topology() natsapi.Topology {
	top := natsapi.DefaultTopology()
	top.Replicas = 3
	top.Duplicates = duplicatesWindow
	return top
}

// Stores a run can use (NEMESIS_STORE).
const (
	storeSQLite = "sqlite"
	storeMongo  = "mongo"
)

// mongoDB is the database of a run on MongoDB.
const mongoDB = "nemesis"

func startSystem(t *testing.T, sc ScheduleConfig, storeKind string) *system {
	t.Helper()
	s := &system{t: t, logDir: t.TempDir(), dataDir: t.TempDir(), sweep: sweepInterval}
	procs.DumpLogsOnFailure(t, s.logDir)
	keepLogsOnFailure(t, s.logDir)
	if storeKind == storeMongo {
		s.ferret = procs.StartFerret(t, ferretDBBin, s.logDir)
		s.sweep = mongoSweepInterval
	}
	s.nats = procs.StartNATSCluster(t, natsServerBin, s.logDir, sc.NATSNodes)
	// LiveKit calls the webhooks receiver back: its address is fixed
	// across restarts.
	webhooksAddr := procs.FreeAddr(t)
	s.lk = lktest.Start(t, lktest.Options{
		WebhookURL:       "http://" + webhooksAddr + webhooks.Path,
		DepartureTimeout: liveKitDepartureTimeout,
		EmptyTimeout:     liveKitEmptyTimeout,
		LogLevel:         "warn",
	})
	url := procs.ClusterURL(s.nats)

	var err error
	s.nc, err = nats.Connect(url, nats.Name("nemesis"), nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond),
		nats.ReconnectBufSize(-1),
		nats.ErrorHandler(func(*nats.Conn, *nats.Subscription, error) {}))
	require.NoError(t, err)
	t.Cleanup(s.nc.Close)
	s.js, err = jetstream.New(s.nc)
	require.NoError(t, err)
	s.client, err = natsapi.NewClient(s.nc)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	require.NoError(t, natsapi.Bootstrap(ctx, s.js, topology()))
	_, err = s.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        auditStream,
		Description: "every result stored on ROOMS_RESULTS, for the nemesis checker",
		Sources:     []*jetstream.StreamSource{{Name: events.StreamResults}},
		Storage:     jetstream.FileStorage,
		Replicas:    3,
	})
	require.NoError(t, err)

	env := append(procs.BaseEnv(),
		"NATS_URL="+url,
		"DATA_DIR="+s.dataDir,
		"STREAM_REPLICAS=3",
		"STREAM_DUPLICATES_WINDOW="+duplicatesWindow.String(),
		"SWEEP_INTERVAL="+s.sweep.String(),
		"MIN_AUTO_DELETION_DELAY="+minAutoDeletionDelay.String(),
		"WORKER_CONCURRENCY="+strconv.Itoa(workerConcurrency),
		"LIVEKIT_URL="+s.lk.URL,
		"LIVEKIT_API_KEY="+s.lk.APIKey,
		"LIVEKIT_API_SECRET="+s.lk.APISecret,
		"LOG_LEVEL="+logLevel(),
		"LOG_FORMAT=text",
		"API_KEYS="+apiKey,
	)
	if s.ferret != nil {
		env = append(env, "MONGO_URI="+s.ferret.URI(), "MONGO_DB="+mongoDB)
	}
	start := func(role string, n int) []*procs.Role {
		rs := make([]*procs.Role, n)
		for i := range rs {
			rs[i] = procs.StartRole(t, roomkeeperBin, fmt.Sprintf("%s-%d", role, i+1), s.logDir, []string{role}, env)
		}
		return rs
	}
	s.workers = start("worker", sc.Workers)
	s.schedulers = start("scheduler", sc.Schedulers)
	for i := range sc.Webhooks {
		addr := webhooksAddr // the one LiveKit calls; others get their own
		if i > 0 {
			addr = procs.FreeAddr(t)
		}
		s.webhooks = append(s.webhooks, procs.StartRoleAt(t, roomkeeperBin, fmt.Sprintf("webhooks-%d", i+1), s.logDir, addr, []string{"webhooks"}, env))
	}

	s.startGateways(sc, env)

	// Every stream of the contract, as the roles bootstrapped it: R3.
	for _, cfg := range topology().Streams() {
		st, err := s.js.Stream(ctx, cfg.Name)
		require.NoError(t, err)
		info, err := st.Info(ctx)
		require.NoError(t, err)
		require.Equal(t, 3, info.Config.Replicas, "%s replicas", cfg.Name)
		require.Equal(t, duplicatesWindow, info.Config.Duplicates, "%s duplicates window", cfg.Name)
		require.NotNil(t, info.Cluster, "%s cluster info", cfg.Name)
		require.Len(t, info.Cluster.Replicas, 2, "%s: a leader and two replicas", cfg.Name)
	}
	return s
}

// logLevel is the roomkeeper processes' LOG_LEVEL: NEMESIS_LOG_LEVEL, warn
// by default (info logs every replay, for finding a violation's cause).
func logLevel() string {
	if v := os.Getenv("NEMESIS_LOG_LEVEL"); v != "" {
		return v
	}
	return "warn"
}

// keepLogsOnFailure copies the processes' logs out of the test's temporary
// directory when t failed, and says where.
func keepLogsOnFailure(t *testing.T, dir string) {
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		dst, err := os.MkdirTemp("", "nemesis-logs-")
		if err == nil {
			err = os.CopyFS(dst, os.DirFS(dir))
		}
		if err != nil {
			t.Logf("logs not kept: %v", err)
			return
		}
		t.Logf("process logs kept in %s", dst)
	})
}

// terminate sends SIGTERM to each role and reports how each ended.
func terminate(roles []*procs.Role) []Exit {
	for _, r := range roles {
		if p := r.Proc(); p.Running() {
			_ = p.Signal(syscall.SIGCONT)
			_ = p.Signal(syscall.SIGTERM)
		}
	}
	exits := make([]Exit, len(roles))
	sent := time.Now()
	for i, r := range roles {
		p := r.Proc()
		err := p.Wait(sigtermBound)
		e := Exit{Name: r.Name(), Err: err}
		if p.Running() {
			e.Hung = true
			p.Kill()
		} else {
			e.Took = p.ExitAt().Sub(sent)
		}
		exits[i] = e
	}
	return exits
}

// settled reports whether the work queue is empty and no workers consumer
// has anything pending, or says what is left.
func (s *system) settled(ctx context.Context) (uint64, []Consumer, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	st, err := s.js.Stream(ctx, events.StreamCommands)
	if err != nil {
		return 0, nil, err
	}
	info, err := st.Info(ctx)
	if err != nil {
		return 0, nil, err
	}
	var cs []Consumer
	for _, name := range events.ConsumedStreams {
		c, err := s.js.Consumer(ctx, name, events.ConsumerWorkers)
		if err != nil {
			return 0, nil, err
		}
		ci, err := c.Info(ctx)
		if err != nil {
			return 0, nil, err
		}
		cs = append(cs, Consumer{Stream: name, AckPending: uint64(ci.NumAckPending), Pending: ci.NumPending})
	}
	// The dispatcher's durable consumers: every outgoing webhook delivered
	// (or dead-lettered).
	evs, err := s.js.Stream(ctx, events.StreamEvents)
	if err != nil {
		return 0, nil, err
	}
	lister := evs.ListConsumers(ctx)
	for ci := range lister.Info() {
		if ci.Config.Durable == "" {
			continue // an ordered consumer reading the stream (the checker's own)
		}
		cs = append(cs, Consumer{Stream: events.StreamEvents + "/" + ci.Name, AckPending: uint64(ci.NumAckPending), Pending: ci.NumPending})
	}
	if err := lister.Err(); err != nil {
		return 0, nil, err
	}
	return info.State.Msgs, cs, nil
}

// waitSettled waits up to d until the work queue is empty and nothing is
// pending, twice in a row a second apart, and at least until after.
func (s *system) waitSettled(d time.Duration, after time.Time) (string, bool) {
	deadline := time.Now().Add(d)
	calm := 0
	last := ""
	for time.Now().Before(deadline) {
		q, cs, err := s.settled(context.Background())
		switch {
		case err != nil:
			last, calm = err.Error(), 0
		default:
			last = fmt.Sprintf("work queue %d, consumers %+v", q, cs)
			busy := q > 0
			for _, c := range cs {
				busy = busy || c.AckPending > 0 || c.Pending > 0
			}
			if busy {
				calm = 0
			} else {
				calm++
			}
		}
		if calm >= 2 && time.Now().After(after) {
			return last, true
		}
		time.Sleep(time.Second)
	}
	return last, false
}

// storePath is the SQLite file the workers share.
func (s *system) storePath() string { return filepath.Join(s.dataDir, sqlite.DefaultFileName) }

// openStore opens the workers' store from the test process.
func (s *system) openStore(ctx context.Context) (store.Store, error) {
	if s.ferret != nil {
		return mongo.Open(ctx, mongo.Config{URI: s.ferret.URI(), Database: mongoDB})
	}
	return sqlite.Open(ctx, sqlite.Config{Path: s.storePath()})
}
