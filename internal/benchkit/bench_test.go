package benchkit_test

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/internal/app"
	"github.com/roomkeeper/roomkeeper/internal/benchkit"
	"github.com/roomkeeper/roomkeeper/internal/config"
	"github.com/roomkeeper/roomkeeper/internal/testenv"
	"github.com/roomkeeper/roomkeeper/store"
	"github.com/roomkeeper/roomkeeper/store/sqlite"
)

// The benchmarks write their figures (the median of every run so far) into
// the column -column of the figures file -figures, when it is given:
//
//	go test -run '^$' -bench . -benchtime 2x ./internal/benchkit -figures $PWD/docs/bench.json -column before
//
// -benchtime 2x gives 3 runs: Go runs a benchmark once with b.N = 1, then
// once with b.N = 2.
var (
	figuresPath = flag.String("figures", "", "figures file (docs/bench.json) to record into; empty records nothing")
	column      = flag.String("column", "before", "column of the figures file to record into")
)

// record updates the figures file when -figures is set.
func record(b *testing.B, update func(*benchkit.Column)) {
	b.Helper()
	if *figuresPath == "" {
		return
	}
	require.NoError(b, benchkit.UpdateFigures(*figuresPath, func(f *benchkit.Figures) {
		if f.Machine.Load == nil {
			f.Machine.Load = map[string]string{}
		}
		f.Machine.CPU, f.Machine.VCPUs = cpuModel(), cpuCount()
		f.Machine.Load[*column] = loadAvg()
		update(f.Column(*column))
	}))
}

// runs keeps the measurements of every invocation of a benchmark, so the
// figure recorded is the median over all of them.
var (
	runsMu sync.Mutex
	runs   = map[string][]float64{}
)

func addRun(key string, v float64) []float64 {
	runsMu.Lock()
	defer runsMu.Unlock()
	runs[key] = append(runs[key], v)
	return append([]float64(nil), runs[key]...)
}

// serve runs `roomkeeper serve` (every role, embedded NATS, SQLite) in this
// process and returns a connection to its NATS.
func serve(b *testing.B, workerConcurrency int) *nats.Conn {
	b.Helper()
	cfg := config.Default()
	cfg.DataDir = b.TempDir()
	cfg.EmbeddedNATSAddr = "127.0.0.1:0"
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.LogLevel = "error"
	cfg.WorkerConcurrency = workerConcurrency
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.Start(ctx, cfg, app.All, cfg.Logger())
	if err != nil {
		cancel()
		b.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	seed, err := nats.NkeyOptionFromSeed(a.SeedFile())
	require.NoError(b, err)
	nc, err := nats.Connect(a.NATSURL(), seed)
	require.NoError(b, err)
	b.Cleanup(func() {
		nc.Close()
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			b.Error("serve did not stop within 30s")
		}
	})
	return nc
}

const (
	createN           = 3000
	createConcurrency = 32
)

// BenchmarkCreate: room.create end to end (roomctl bench's generator
// against an in-process serve, worker concurrency 32, window 32) vs the
// same store writes directly on a fresh SQLite file at concurrency 32
// (roomctl bench --ceiling).
func BenchmarkCreate(b *testing.B) {
	for range b.N {
		nc := serve(b, createConcurrency)
		ctx := context.Background()
		e2e, err := benchkit.Run(ctx, nc, benchkit.RunConfig{N: createN, Concurrency: createConcurrency})
		require.NoError(b, err)
		require.Zero(b, e2e.Errors())
		st, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(b.TempDir(), "ceiling.db")})
		require.NoError(b, err)
		ceil, err := benchkit.Ceiling(ctx, st, benchkit.CeilingConfig{N: createN, Concurrency: createConcurrency})
		require.NoError(b, err)
		require.NoError(b, st.Close())
		ratio := e2e.Throughput / ceil.Throughput
		b.Logf("create e2e %.0f/s (p50 %s p99 %s), ceiling %.0f/s, ratio %.3f", e2e.Throughput, e2e.P50, e2e.P99, ceil.Throughput, ratio)
		b.ReportMetric(e2e.Throughput, "e2e/s")
		b.ReportMetric(ceil.Throughput, "ceiling/s")
		b.ReportMetric(ratio, "ratio")
		es, cs := addRun("create.e2e", e2e.Throughput), addRun("create.ceiling", ceil.Throughput)
		rs := addRun("create.ratio", ratio)
		record(b, func(c *benchkit.Column) {
			c.Create = &benchkit.CreateFigures{N: createN, Concurrency: createConcurrency, Store: "sqlite",
				E2E: benchkit.Median(es), Ceiling: benchkit.Median(cs), Ratio: benchkit.Median(rs), Runs: len(rs)}
		})
	}
}

// BenchmarkLatencyHalfRate: creates as fast as they go (window 32), then
// at half that rate; the latency percentiles of the second run.
func BenchmarkLatencyHalfRate(b *testing.B) {
	const n, conc = 2000, 32
	for range b.N {
		nc := serve(b, 32)
		ctx := context.Background()
		full, err := benchkit.Run(ctx, nc, benchkit.RunConfig{N: n, Concurrency: conc})
		require.NoError(b, err)
		require.Zero(b, full.Errors())
		rate := full.Throughput / 2
		half, err := benchkit.Run(ctx, nc, benchkit.RunConfig{N: int(min(rate*5, n)), Rate: rate, Concurrency: conc})
		require.NoError(b, err)
		require.Zero(b, half.Errors())
		msf := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
		b.Logf("max %.0f/s; at %.0f/s: p50 %s p90 %s p99 %s max %s", full.Throughput, rate, half.P50, half.P90, half.P99, half.Max)
		b.ReportMetric(msf(half.P50), "p50-ms")
		b.ReportMetric(msf(half.P99), "p99-ms")
		b.ReportMetric(msf(half.P99)/msf(half.P50), "p99/p50")
		mr, r := addRun("lat.max", full.Throughput), addRun("lat.rate", rate)
		tp := addRun("lat.tp", half.Throughput)
		p50, p90 := addRun("lat.p50", msf(half.P50)), addRun("lat.p90", msf(half.P90))
		p99, mx := addRun("lat.p99", msf(half.P99)), addRun("lat.max_ms", msf(half.Max))
		record(b, func(c *benchkit.Column) {
			c.Latency = &benchkit.LatencyFigures{N: int(min(rate*5, n)), Concurrency: conc,
				MaxRate: benchkit.Median(mr), Rate: benchkit.Median(r), Throughput: benchkit.Median(tp),
				P50: benchkit.Median(p50), P90: benchkit.Median(p90), P99: benchkit.Median(p99), Max: benchkit.Median(mx),
				P99OverP50: benchkit.Median(p99) / benchkit.Median(p50), Runs: len(p50)}
		})
	}
}

// Scaling workload: deletes of one room each, every one a LiveKit call
// (HasActiveMeeting, detached, with scaleLatency of added latency), on
// worker processes with scaleWorkerConcurrency handlers each.
const (
	scaleLatency           = 50 * time.Millisecond
	scaleWorkerConcurrency = 4
	scalePerWorker         = 300 // deletes per worker process in a run
)

var (
	buildOnce     sync.Once
	roomkeeperBin string
	buildErr      error
)

// roomkeeper builds cmd/roomkeeper once per test binary.
func roomkeeper(b *testing.B) string {
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "benchkit-bin-")
		if err != nil {
			buildErr = err
			return
		}
		roomkeeperBin = filepath.Join(dir, "roomkeeper")
		out, err := exec.Command("go", "build", "-o", roomkeeperBin, "github.com/roomkeeper/roomkeeper/cmd/roomkeeper").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %w: %s", err, out)
		}
	})
	require.NoError(b, buildErr)
	return roomkeeperBin
}

// BenchmarkWorkersScale: 1, 2 and 4 `roomkeeper worker` processes on one
// NATS (in this process) and one shared SQLite file, on I/O-bound deletes.
func BenchmarkWorkersScale(b *testing.B) {
	bin := roomkeeper(b)
	one := 0.0
	for _, workers := range []int{1, 2, 4} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			for range b.N {
				tp := scaleRun(b, bin, workers)
				if workers == 1 {
					one = tp
				}
				ratio := 0.0
				if one > 0 {
					ratio = tp / (float64(workers) * one)
				}
				b.Logf("%d worker(s): %.1f deletes/s, %.2f × N × one worker", workers, tp, ratio)
				b.ReportMetric(tp, "deletes/s")
				b.ReportMetric(ratio, "ratio-to-N×one")
				tps := addRun(fmt.Sprintf("scale.%d", workers), tp)
				record(b, func(c *benchkit.Column) {
					if c.Scaling == nil {
						c.Scaling = &benchkit.ScaleFigures{}
					}
					c.Scaling.LiveKitLatencyMs = float64(scaleLatency / time.Millisecond)
					c.Scaling.WorkerConcurrency = scaleWorkerConcurrency
					c.Scaling.Workload = "rooms.cmd.delete of one room (one LiveKit HasActiveMeeting call each), detached LiveKit with LIVEKIT_EXTRA_LATENCY"
					pt := benchkit.ScalePoint{Workers: workers, Throughput: benchkit.Median(tps), Runs: len(tps)}
					pts := c.Scaling.Points[:0:0]
					for _, p := range c.Scaling.Points {
						if p.Workers != workers {
							pts = append(pts, p)
						}
					}
					pts = append(pts, pt)
					var base float64
					for _, p := range pts {
						if p.Workers == 1 {
							base = p.Throughput
						}
					}
					for i := range pts {
						if base > 0 {
							pts[i].Ratio = pts[i].Throughput / (float64(pts[i].Workers) * base)
						}
					}
					sortPoints(pts)
					c.Scaling.Points = pts
				})
			}
		})
	}
}

func sortPoints(pts []benchkit.ScalePoint) {
	for i := 1; i < len(pts); i++ {
		for j := i; j > 0 && pts[j].Workers < pts[j-1].Workers; j-- {
			pts[j], pts[j-1] = pts[j-1], pts[j]
		}
	}
}

// scaleRun seeds rooms, starts the worker processes, waits until they are
// ready, deletes every room through them and returns deletes per second.
func scaleRun(b *testing.B, bin string, workers int) float64 {
	n := testenv.StartNATS(b)
	nc, _ := n.Bootstrap(b, nil)
	dir := b.TempDir()
	ctx := context.Background()
	cfg := config.Config{DataDir: dir}
	st, err := sqlite.Open(ctx, sqlite.Config{Path: cfg.SQLitePath()})
	require.NoError(b, err)
	total := scalePerWorker * workers
	rooms := make([]string, total)
	for i := range rooms {
		rooms[i] = fmt.Sprintf("scale-room-%06d", i)
		require.NoError(b, st.InsertRoom(ctx, &store.Room{RoomID: rooms[i], RoomName: "scale", Preferences: events.DefaultPreferences()}))
	}
	require.NoError(b, st.Close())

	for i := range workers {
		addr := freeAddr(b)
		cmd := exec.Command(bin, "worker")
		cmd.Env = append(os.Environ(),
			"NATS_URL="+n.URL, "DATA_DIR="+dir, "HTTP_ADDR="+addr,
			"WORKER_CONCURRENCY="+strconv.Itoa(scaleWorkerConcurrency),
			"LIVEKIT_EXTRA_LATENCY="+scaleLatency.String(),
			"LOG_LEVEL=error", "LOG_FORMAT=text")
		logf, err := os.Create(filepath.Join(dir, fmt.Sprintf("worker-%d.log", i)))
		require.NoError(b, err)
		cmd.Stdout, cmd.Stderr = logf, logf
		require.NoError(b, cmd.Start())
		b.Cleanup(func() {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			done := make(chan struct{})
			go func() { _ = cmd.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(20 * time.Second):
				_ = cmd.Process.Kill()
				<-done
			}
			_ = logf.Close()
		})
		waitReady(b, addr)
	}
	// The worker log line "worker started" follows readiness by a moment;
	// a short pause lets every consumer loop start fetching.
	time.Sleep(300 * time.Millisecond)
	rep, err := benchkit.Run(ctx, nc, benchkit.RunConfig{
		N: total, Concurrency: 64, Mix: benchkit.Mix{Delete: 1}, Rooms: rooms, Wait: 2 * time.Minute,
	})
	require.NoError(b, err)
	require.Zero(b, rep.Errors(), "%+v", rep)
	require.Equal(b, total, rep.Ops["delete"])
	return rep.Throughput
}

func freeAddr(b *testing.B) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(b, err)
	defer func() { _ = l.Close() }()
	return l.Addr().String()
}

func waitReady(b *testing.B, addr string) {
	b.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	b.Fatalf("worker on %s not ready within 60s", addr)
}

func cpuModel() string {
	raw, _ := os.ReadFile("/proc/cpuinfo")
	for line := range strings.SplitSeq(string(raw), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func cpuCount() int {
	raw, _ := os.ReadFile("/proc/cpuinfo")
	n := 0
	for line := range strings.SplitSeq(string(raw), "\n") {
		if k, _, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "processor" {
			n++
		}
	}
	return n
}

func loadAvg() string {
	raw, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(raw))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}
