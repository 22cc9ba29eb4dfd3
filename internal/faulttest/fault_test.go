package faulttest

import (
	"context"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/internal/procs"
	"github.com/roomkeeper/roomkeeper/store/mongo"
	"github.com/roomkeeper/roomkeeper/store/sqlite"
)

// openSQLite opens the workers' shared SQLite file from the test process.
func openSQLite(t *testing.T, dataDir string) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), sqlite.Config{Path: filepath.Join(dataDir, sqlite.DefaultFileName)})
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// stopWorkers sends SIGTERM to each running worker and waits for it.
func stopWorkers(t *testing.T, ws ...*workerProc) {
	t.Helper()
	for _, w := range ws {
		if w.Running() {
			require.NoError(t, w.Signal(syscall.SIGTERM))
		}
	}
	for _, w := range ws {
		require.NoError(t, w.Wait(30*time.Second), "%s exit", w.Name)
	}
}

// redeliveries sums, over the workers, the creates handled more than once
// and those found done in the ledger (a redelivery after completion).
func redeliveries(t *testing.T, ws ...*workerProc) (redelivered, duplicate int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, w := range ws {
		out, red, err := w.handled(ctx)
		if err != nil {
			t.Logf("%s metrics: %v", w.Name, err)
			continue
		}
		redelivered += red
		duplicate += out["duplicate"]
	}
	return redelivered, duplicate
}

// startRun starts what every fault test runs on: a nats-server process, a
// client that logs its progress, and the spec of the worker processes to
// start (32 handlers each, SQLite in a fresh DATA_DIR). Every process logs
// into one directory, dumped when the test fails.
func startRun(t *testing.T) (*procs.NATS, *client, workerSpec) {
	t.Helper()
	logDir := t.TempDir()
	procs.DumpLogsOnFailure(t, logDir)
	ns := procs.StartNATS(t, natsServerBin, logDir)
	c := connectClient(t, ns.URL())
	c.traceProgress(t)
	return ns, c, workerSpec{natsURL: ns.URL(), dataDir: t.TempDir(), concurrency: 32, logDir: logDir}
}

// TestWorkerKilled kills one of two worker processes with SIGKILL a third of
// the way through 10,000 creates and starts it again a second later. What
// the killed process held (claimed, applied, completed or published but not
// acked) is redelivered after AckWait and must converge on the same room,
// result and event IDs.
func TestWorkerKilled(t *testing.T) {
	const n = 10000
	_, c, spec := startRun(t)
	w1 := startWorker(t, spec, "worker-1")
	w2 := startWorker(t, spec, "worker-2")

	ids := commandIDs("kill", n)
	start := time.Now()
	pubDone := make(chan error, 1)
	var retried int
	go func() {
		var err error
		retried, err = c.publishCreates(context.Background(), ids, 0)
		pubDone <- err
	}()
	c.waitResults(t, n/3, 3*time.Minute)
	killAt := time.Since(start)
	w1.Kill()
	time.Sleep(time.Second)
	w1b := startWorker(t, spec, "worker-1b")
	require.NoError(t, <-pubDone)
	c.waitSettled(t, n, 3*time.Minute)
	took := time.Since(start)
	red, dup := redeliveries(t, w2, w1b)
	stopWorkers(t, w2, w1b)

	f := c.verify(t, ids, openSQLite(t, spec.dataDir))
	t.Logf("kill -9 of 1 of 2 workers at %s (after %d results), restarted 1 s later: %s; publishes retried %d; redelivered %d, answered from the ledger %d; duration %s",
		killAt.Round(time.Millisecond), n/3, f, retried, red, dup, took.Round(time.Millisecond))
	f.check(t)
}

// TestNATSRestarted kills the nats-server process (SIGKILL) a quarter of the
// way through 10,000 creates while they are still being published, and
// starts it again two seconds later on the same port and store directory.
// Workers lose their connection mid-publish and mid-ack; the producer
// retries every publish that failed or got no ack with the same
// Nats-Msg-Id, as the contract asks of producers.
func TestNATSRestarted(t *testing.T) {
	const n = 10000
	ns, c, spec := startRun(t)
	w1 := startWorker(t, spec, "worker-1")
	w2 := startWorker(t, spec, "worker-2")

	ids := commandIDs("natsrestart", n)
	start := time.Now()
	pubDone := make(chan error, 1)
	var retried int
	go func() {
		var err error
		// About the workers' pace, so the outage falls while commands are
		// still being published.
		retried, err = c.publishCreates(context.Background(), ids, 1000)
		pubDone <- err
	}()
	c.waitResults(t, n/4, 3*time.Minute)
	killAt := time.Since(start)
	ns.Kill()
	time.Sleep(2 * time.Second)
	ns.Start()
	downFor := time.Since(start) - killAt
	require.NoError(t, <-pubDone)
	c.waitSettled(t, n, 3*time.Minute)
	took := time.Since(start)
	red, dup := redeliveries(t, w1, w2)
	stopWorkers(t, w1, w2)

	f := c.verify(t, ids, openSQLite(t, spec.dataDir))
	t.Logf("nats-server kill -9 at %s (after %d results), back after %s: %s; publishes retried %d; redelivered %d, answered from the ledger %d; duration %s",
		killAt.Round(time.Millisecond), n/4, downFor.Round(time.Millisecond), f, retried, red, dup, took.Round(time.Millisecond))
	f.check(t)
}

// TestStoreOutage makes the MongoDB store unreachable for 10 s in the
// middle of a run: the FerretDB process is killed (SIGKILL: every
// connection drops, new ones are refused) and started again 10 s later on
// the same address and data. The commands in flight fail with a store
// error, are nak'ed with a growing delay, and complete after the store
// returns; none is dead-lettered. FerretDB's SQLite backend scans a
// collection on every lookup, so this run is smaller (300 creates), and it
// uses one worker process: FerretDB v1's conditional updates are not atomic
// across processes.
func TestStoreOutage(t *testing.T) {
	const n = 300
	const outage = 10 * time.Second
	_, c, spec := startRun(t)
	db := procs.StartFerret(t, ferretDBBin, spec.logDir)
	spec.mongoURI, spec.mongoDB = db.URI(), "faulttest"
	w := startWorker(t, spec, "worker-1")

	ids := commandIDs("storeoutage", n)
	start := time.Now()
	retried, err := c.publishCreates(context.Background(), ids, 0)
	require.NoError(t, err)
	c.waitResults(t, n/3, 3*time.Minute)
	stopAt := time.Since(start)
	db.Kill()
	before, err := c.results(context.Background())
	require.NoError(t, err)
	time.Sleep(outage)
	during, err := c.results(context.Background())
	require.NoError(t, err)
	db.Start()
	c.waitSettled(t, n, 3*time.Minute)
	took := time.Since(start)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	outcomes, red, err := w.handled(ctx)
	cancel()
	require.NoError(t, err)
	stopWorkers(t, w)

	st, err := mongo.Open(context.Background(), mongo.Config{URI: db.URI(), Database: spec.mongoDB})
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	f := c.verify(t, ids, st)
	t.Logf("FerretDB kill -9 at %s (after %d results), back %s later (%d results completed meanwhile): %s; publishes retried %d; naks %d, redelivered %d, answered from the ledger %d; duration %s",
		stopAt.Round(time.Millisecond), before, outage, during-before, f, retried, outcomes["retry"], red, outcomes["duplicate"], took.Round(time.Millisecond))
	require.Positive(t, outcomes["retry"], "commands nak'ed during the outage")
	require.Zero(t, outcomes["dead"], "no dead letter for a transient failure")
	f.check(t)
}

// TestWorkerSIGTERM sends SIGTERM to the only worker process under load. It
// must stop fetching, finish and ack every message it holds and exit within
// a bound; a second worker then finishes the rest, with nothing redelivered
// and nothing applied twice.
func TestWorkerSIGTERM(t *testing.T) {
	const n = 5000
	const bound = 15 * time.Second
	_, c, spec := startRun(t)
	w1 := startWorker(t, spec, "worker-1")

	ids := commandIDs("sigterm", n)
	start := time.Now()
	retried, err := c.publishCreates(context.Background(), ids, 0)
	require.NoError(t, err)
	c.waitResults(t, n/3, 3*time.Minute)
	termAt := time.Since(start)
	atSignal, err := c.results(context.Background())
	require.NoError(t, err)
	sent := time.Now()
	require.NoError(t, w1.Signal(syscall.SIGTERM))
	require.NoError(t, w1.Wait(bound), "worker-1 exits cleanly within %s", bound)
	exitTook := w1.ExitAt().Sub(sent)

	// Everything worker-1 took is finished and acked: no message waits for
	// AckWait, and every command is either answered or still queued, never
	// both nor neither.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cons, err := c.js.Consumer(ctx, events.StreamCommands, events.ConsumerWorkers)
	require.NoError(t, err)
	ci, err := cons.Info(ctx)
	require.NoError(t, err)
	answered, err := c.results(ctx)
	require.NoError(t, err)
	queued, err := c.streamState(ctx, events.StreamCommands)
	require.NoError(t, err)
	require.Zero(t, ci.NumAckPending, "worker-1 left no message unacked")
	require.EqualValues(t, n, answered+queued.Msgs, "answered (%d) + queued (%d) = commands", answered, queued.Msgs)

	w2 := startWorker(t, spec, "worker-2")
	c.waitSettled(t, n, 3*time.Minute)
	took := time.Since(start)
	red, dup := redeliveries(t, w2)
	stopWorkers(t, w2)
	require.Zero(t, red, "nothing redelivered after a clean stop")
	require.Zero(t, dup, "nothing found done in the ledger after a clean stop")

	f := c.verify(t, ids, openSQLite(t, spec.dataDir))
	t.Logf("SIGTERM at %s (%d results then): exited in %s (bound %s), finishing %d commands after the signal, with %d answered, %d queued, 0 unacked; %s; publishes retried %d; redelivered %d, answered from the ledger %d; duration %s",
		termAt.Round(time.Millisecond), atSignal, exitTook.Round(time.Millisecond), bound, answered-atSignal, answered, queued.Msgs, f, retried, red, dup, took.Round(time.Millisecond))
	f.check(t)
}
