package workers_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/internal/benchkit"
	"github.com/roomkeeper/roomkeeper/internal/tracing"
	"github.com/roomkeeper/roomkeeper/internal/workertest"
	"github.com/roomkeeper/roomkeeper/store/sqlite"
	"github.com/roomkeeper/roomkeeper/workers"
)

const (
	benchCreates     = 3000
	benchConcurrency = 32
)

// BenchmarkCreateEndToEnd measures room.create commands per second from
// publish to stored result on the SQLite store, next to the raw ceiling of
// the same store writes done directly at the same concurrency.
//
//	go test -run '^$' -bench CreateEndToEnd -benchtime 1x ./workers
func BenchmarkCreateEndToEnd(b *testing.B) {
	for range b.N {
		double := createEndToEnd(b, workers.AckDouble)
		async := createEndToEnd(b, workers.AckAsync)
		ceiling := createCeiling(b)
		b.ReportMetric(double, "e2e-creates/s")
		b.ReportMetric(async, "e2e-async-ack-creates/s")
		b.ReportMetric(ceiling, "ceiling-creates/s")
		b.ReportMetric(double/ceiling, "ratio")
		b.ReportMetric(async/ceiling, "ratio-async-ack")
		b.Logf("room.create end to end: %.0f/s (ack double), %.0f/s (ack async); same store writes directly: %.0f/s; ratios %.2f, %.2f (n=%d, concurrency %d)",
			double, async, ceiling, double/ceiling, async/ceiling, benchCreates, benchConcurrency)
	}
}

func createEndToEnd(b *testing.B, ack string) float64 {
	bb := setup(b, workertest.SetupOpts{})
	bb.Start(b, workertest.WorkerOpts{Conc: benchConcurrency, Ack: ack})
	nc, err := nats.Connect(bb.NATS.URL)
	require.NoError(b, err)
	defer nc.Close()
	var got atomic.Int64
	done := make(chan struct{})
	sub, err := nc.Subscribe(events.ResultPrefix+">", func(*nats.Msg) {
		if got.Add(1) == benchCreates {
			close(done)
		}
	})
	require.NoError(b, err)
	defer func() { _ = sub.Unsubscribe() }()
	require.NoError(b, nc.Flush())

	start := time.Now()
	js := bb.JS
	for i := range benchCreates {
		msg := nats.NewMsg(events.SubjectCreate)
		msg.Data = []byte(`{"roomName":"bench room"}`)
		msg.Header.Set(nats.MsgIdHdr, fmt.Sprintf("bench-%d", i))
		_, err := js.PublishMsgAsync(msg)
		require.NoError(b, err)
	}
	select {
	case <-done:
	case <-time.After(5 * time.Minute):
		b.Fatalf("only %d of %d results", got.Load(), benchCreates)
	}
	return float64(benchCreates) / time.Since(start).Seconds()
}

// createCeiling does a create's store writes (benchkit.CreateWrites: claim
// with plan, insert room, archive, complete) directly, benchConcurrency at
// a time, as `roomctl bench --ceiling` does.
func createCeiling(b *testing.B) float64 {
	st, err := sqlite.Open(context.Background(), sqlite.Config{Path: filepath.Join(b.TempDir(), "ceiling.db")})
	require.NoError(b, err)
	defer func() { _ = st.Close() }()
	rep, err := benchkit.Ceiling(context.Background(), st, benchkit.CeilingConfig{N: benchCreates, Concurrency: benchConcurrency})
	require.NoError(b, err)
	require.Zero(b, rep.Errors())
	return rep.Throughput
}

// BenchmarkCreateTracing measures room.create end to end (ack double) with
// tracing off and on, one after the other in each iteration: on, every
// span of every command is recorded by the SDK and exported in batches (to
// a no-op exporter, so what is measured is roomkeeper's and the SDK's
// cost, not a collector's).
//
//	go test -run '^$' -bench CreateTracing -benchtime 1x -count 5 ./workers
func BenchmarkCreateTracing(b *testing.B) {
	for range b.N {
		off := createEndToEnd(b, workers.AckDouble)
		tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(tracetest.NewNoopExporter()))
		tracing.Install(tp)
		on := createEndToEnd(b, workers.AckDouble)
		tracing.Uninstall()
		require.NoError(b, tp.Shutdown(context.Background()))
		b.ReportMetric(off, "off-creates/s")
		b.ReportMetric(on, "on-creates/s")
		b.ReportMetric(on/off, "ratio-on/off")
	}
}
