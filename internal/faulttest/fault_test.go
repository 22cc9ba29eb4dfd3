package faulttest

import (
	"context"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

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
		if w.running() {
			require.NoError(t, w.signal(syscall.SIGTERM))
		}
	}
	for _, w := range ws {
		require.NoError(t, w.wait(30*time.Second), "%s exit", w.name)
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
			t.Logf("%s metrics: %v", w.name, err)
			continue
		}
		redelivered += red
		duplicate += out["duplicate"]
	}
	return redelivered, duplicate
}

// TestWorkerKilled kills one of two worker processes with SIGKILL a third of
// the way through 10,000 creates and starts it again a second later. What
// the killed process held (claimed, applied, completed or published but not
// acked) is redelivered after AckWait and must converge on the same room,
// result and event IDs.
func TestWorkerKilled(t *testing.T) {
	const n = 10000
	logDir := t.TempDir()
	dumpLogsOnFailure(t, logDir)
	ns := startNATSProc(t, logDir)
	c := connectClient(t, ns.url())
	spec := workerSpec{natsURL: ns.url(), dataDir: t.TempDir(), concurrency: 32, logDir: logDir}
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
	w1.kill()
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
