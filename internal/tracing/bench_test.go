package tracing_test

import (
	"context"
	"testing"

	"github.com/sirupsen/logrus"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/roomkeeper/roomkeeper/internal/tracing"
)

// BenchmarkCommandSpans is the tracing a worker does for one command (the
// delivery's span from its headers, its steps, the outbox's headers and
// the log fields), off and on (the SDK, batched to a no-op exporter).
//
//	go test -run '^$' -bench CommandSpans -benchmem ./internal/tracing
func BenchmarkCommandSpans(b *testing.B) {
	log := logrus.New()
	run := func(b *testing.B) {
		in := tracing.Header{"Nats-Msg-Id": {"c1"}, tracing.HeaderTraceParent: {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}}
		out := tracing.Header{}
		b.ReportAllocs()
		for b.Loop() {
			ctx, span := tracing.Start(tracing.Extract(context.Background(), in), "process rooms.cmd.create", trace.SpanKindConsumer)
			_ = tracing.LogFields(ctx, log)
			for _, step := range []string{"decode", "plan", "claim", "handle rooms.cmd.create", "complete", "ack"} {
				_, s := tracing.Start(ctx, step, trace.SpanKindInternal)
				tracing.End(s, nil)
			}
			pctx, pub := tracing.Start(ctx, "outbox publish", trace.SpanKindProducer)
			for range 2 { // the result and the created event
				tracing.Inject(pctx, out)
			}
			pub.End()
			span.End()
		}
	}
	b.Run("off", func(b *testing.B) {
		tracing.Uninstall()
		run(b)
	})
	b.Run("on", func(b *testing.B) {
		tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(tracetest.NewNoopExporter()))
		tracing.Install(tp)
		defer func() {
			tracing.Uninstall()
			_ = tp.Shutdown(context.Background())
		}()
		run(b)
	})
}
