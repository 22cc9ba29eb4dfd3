package ctl_test

import (
	"context"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/roomkeeper/roomkeeper/internal/app"
	"github.com/roomkeeper/roomkeeper/internal/config"
)

// serveInProcess runs `roomkeeper serve` (every role, embedded NATS and
// SQLite) in this process and returns its NATS URL and data directory
// (roomctl finds the nkey seed there).
func serveInProcess(t *testing.T) (url, dataDir string) {
	t.Helper()
	return serveAt(t, t.TempDir())
}

// serveAt is serveInProcess with DATA_DIR dataDir.
func serveAt(t *testing.T, dataDir string) (url, dir string) {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir = dataDir
	cfg.EmbeddedNATSAddr = "127.0.0.1:0"
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.LogLevel = "error"
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.Start(ctx, cfg, app.All, cfg.Logger())
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			require.NoError(t, err)
		case <-time.After(30 * time.Second):
			t.Error("serve did not stop within 30s")
		}
	})
	return a.NATSURL(), cfg.DataDir
}

var (
	benchResultsRe = regexp.MustCompile(`(?m)^(e2e|ceiling) results: (\d+) ok, (\d+) errors$`)
	benchThroughRe = regexp.MustCompile(`(?m)^(e2e|ceiling) throughput: ([0-9.]+) commands/s$`)
	benchLatencyRe = regexp.MustCompile(`(?m)^(e2e|ceiling) latency ms: p50 ([0-9.]+) p90 ([0-9.]+) p99 ([0-9.]+) max ([0-9.]+)$`)
	benchRatioRe   = regexp.MustCompile(`(?m)^ratio e2e/ceiling: ([0-9.]+)$`)
)

func num(t *testing.T, s string) float64 {
	t.Helper()
	f, err := strconv.ParseFloat(s, 64)
	require.NoError(t, err)
	return f
}

func TestBenchAgainstServeWithCeiling(t *testing.T) {
	t.Parallel()
	url, dir := serveInProcess(t)
	const n = 300
	r := roomctl(t, url, "--data-dir", dir, "bench", "-n", strconv.Itoa(n), "-c", "16", "--mix", "create=2,update=1,delete=1",
		"--ceiling", "--sqlite-path", filepath.Join(t.TempDir(), "ceiling.db"))
	require.Equal(t, 0, r.code, "stdout: %s\nstderr: %s", r.out, r.errOut)
	t.Log("\n" + r.out)

	res := benchResultsRe.FindAllStringSubmatch(r.out, -1)
	require.Len(t, res, 2, r.out)
	for _, m := range res {
		require.Equal(t, strconv.Itoa(n), m[2], "%s: every command ok", m[1])
		require.Equal(t, "0", m[3])
	}
	for _, m := range benchThroughRe.FindAllStringSubmatch(r.out, -1) {
		require.Positive(t, num(t, m[2]), m[1])
	}
	lat := benchLatencyRe.FindAllStringSubmatch(r.out, -1)
	require.Len(t, lat, 2, r.out)
	for _, m := range lat {
		p50, p90, p99, maxMs := num(t, m[2]), num(t, m[3]), num(t, m[4]), num(t, m[5])
		require.Positive(t, p50, m[1])
		require.True(t, p50 <= p90 && p90 <= p99 && p99 <= maxMs, "percentiles in order: %v", m)
	}
	ratio := benchRatioRe.FindStringSubmatch(r.out)
	require.NotNil(t, ratio, r.out)
	require.Positive(t, num(t, ratio[1]))
	require.Regexp(t, `(?m)^e2e commands: 300 \(create \d+, delete \d+, update \d+\)$`, r.out)
}

func TestBenchAtARate(t *testing.T) {
	t.Parallel()
	url, dir := serveInProcess(t)
	start := time.Now()
	r := roomctl(t, url, "--data-dir", dir, "bench", "-n", "60", "-c", "8", "--rate", "100")
	require.Equal(t, 0, r.code, "stdout: %s\nstderr: %s", r.out, r.errOut)
	// 60 commands at 100/s take at least 0.59 s.
	require.GreaterOrEqual(t, time.Since(start), 590*time.Millisecond)
	m := benchThroughRe.FindStringSubmatch(r.out)
	require.NotNil(t, m, r.out)
	require.Less(t, num(t, m[2]), 130.0, "the rate holds throughput near 100/s")
}

func TestBenchUsage(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"bench", "--mix", "update=1"},
		{"bench", "--mix", "nope=1"},
		{"bench", "--ceiling"},
		{"bench", "-c", "0"},
	} {
		r := roomctl(t, "nats://127.0.0.1:1", args...)
		require.Equal(t, 2, r.code, "%v: %s", args, r.errOut)
	}
}
