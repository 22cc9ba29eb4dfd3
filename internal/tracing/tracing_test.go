package tracing_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/sirupsen/logrus"
	"github.com/sirupsen/logrus/hooks/test"
	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/roomkeeper/roomkeeper/internal/tracing"
)

// The tests install process-wide providers: none runs in parallel.

func record(t *testing.T) *tracetest.SpanRecorder {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	tracing.Install(tp)
	t.Cleanup(func() {
		tracing.Uninstall()
		_ = tp.Shutdown(context.Background())
	})
	return rec
}

func TestConfigured(t *testing.T) {
	for _, c := range []struct {
		env  map[string]string
		want bool
	}{
		{map[string]string{}, false},
		{map[string]string{tracing.EnvEndpoint: "http://127.0.0.1:4318"}, true},
		{map[string]string{tracing.EnvTracesEndpoint: "http://127.0.0.1:4318/v1/traces"}, true},
		{map[string]string{tracing.EnvEndpoint: "http://127.0.0.1:4318", tracing.EnvSDKDisabled: "true"}, false},
		{map[string]string{tracing.EnvEndpoint: "http://127.0.0.1:4318", tracing.EnvTracesExporter: "none"}, false},
	} {
		require.Equal(t, c.want, tracing.Configured(func(k string) string { return c.env[k] }), "%v", c.env)
	}
}

// Without an endpoint, Setup installs nothing: spans are no-ops.
func TestSetupWithoutEndpointIsOff(t *testing.T) {
	t.Setenv(tracing.EnvEndpoint, "")
	t.Setenv(tracing.EnvTracesEndpoint, "")
	stop, err := tracing.Setup(t.Context(), "test")
	require.NoError(t, err)
	require.False(t, tracing.Enabled())
	ctx, span := tracing.Start(t.Context(), "x", trace.SpanKindInternal)
	require.False(t, span.IsRecording())
	require.Equal(t, t.Context(), ctx)
	require.NoError(t, stop(t.Context()))
}

// A protocol other than OTLP/HTTP with protobuf or OTLP/gRPC, or an
// exporter other than OTLP, stops the setup with an error naming the
// variable, rather than speak another protocol to the collector's port;
// http/protobuf, or none, is fine.
func TestSetupRefusesAProtocolNotBuiltIn(t *testing.T) {
	t.Setenv(tracing.EnvEndpoint, "http://127.0.0.1:4317")
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "")
	for _, c := range []struct{ key, value string }{
		{"OTEL_EXPORTER_OTLP_PROTOCOL", "thrift"},
		{"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/json"},
		{tracing.EnvTracesExporter, "zipkin"},
	} {
		t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "")
		t.Setenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "")
		t.Setenv(tracing.EnvTracesExporter, "")
		t.Setenv(c.key, c.value)
		stop, err := tracing.Setup(t.Context(), "test")
		require.ErrorIs(t, err, tracing.ErrSetup, c.key)
		require.ErrorContains(t, err, c.key+"="+c.value)
		require.False(t, tracing.Enabled())
		require.NoError(t, stop(t.Context()))
	}
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/protobuf")
	t.Setenv(tracing.EnvTracesExporter, "otlp")
	stop, err := tracing.Setup(t.Context(), "test")
	require.NoError(t, err)
	require.True(t, tracing.Enabled())
	require.NoError(t, stop(t.Context()))
}

// Off, the helpers the hot path calls allocate nothing.
func TestOffAllocatesNothing(t *testing.T) {
	tracing.Uninstall()
	ctx := context.Background()
	h := tracing.Header{"Nats-Msg-Id": {"c1"}}
	log := logrus.New()
	allocs := testing.AllocsPerRun(1000, func() {
		c := tracing.Extract(ctx, h)
		c, span := tracing.StartOf(c, "process", "rooms.cmd.create", trace.SpanKindConsumer)
		tracing.Inject(c, h)
		_ = tracing.TraceParent(c)
		_ = tracing.LogFields(c, log)
		tracing.End(span, nil)
	})
	require.Zero(t, allocs)
	require.Len(t, h, 1, "no header added")
}

// A span's context crosses headers: the receiving side's span is its
// child, in its trace; the traceparent string does the same.
func TestContextCrossesHeaders(t *testing.T) {
	rec := record(t)
	ctx, parent := tracing.Start(context.Background(), "publish", trace.SpanKindProducer)
	h := tracing.Header{}
	tracing.Inject(ctx, h)
	require.NotEmpty(t, h.Get(tracing.HeaderTraceParent))
	require.Equal(t, h.Get(tracing.HeaderTraceParent), tracing.TraceParent(ctx))
	parent.End()

	_, child := tracing.Start(tracing.Extract(context.Background(), h), "process", trace.SpanKindConsumer)
	child.End()
	_, cont := tracing.StartContinued(context.Background(), "finish", tracing.TraceParent(ctx))
	cont.End()
	_, none := tracing.StartContinued(context.Background(), "finish", "malformed")
	require.False(t, none.IsRecording())

	spans := rec.Ended()
	require.Len(t, spans, 3)
	for _, s := range spans[1:] {
		require.Equal(t, spans[0].SpanContext().TraceID(), s.SpanContext().TraceID(), s.Name())
		require.Equal(t, spans[0].SpanContext().SpanID(), s.Parent().SpanID(), s.Name())
	}
}

// Work continued from a trace that was not sampled (a delete whose trace
// the sampler dropped, finished by a webhook whose trace it kept) stays in
// the sampled trace it runs in: its steps are not dropped with the other.
func TestContinuedFromAnUnsampledTrace(t *testing.T) {
	rec := record(t)
	ctx, process := tracing.Start(context.Background(), "process", trace.SpanKindConsumer)
	const unsampled = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"
	fctx, finish := tracing.StartContinued(ctx, "finish", unsampled)
	_, complete := tracing.Start(fctx, "complete", trace.SpanKindInternal)
	complete.End()
	finish.End()
	process.End()

	var got sdktrace.ReadOnlySpan
	for _, s := range rec.Ended() {
		if s.Name() == "complete" {
			got = s
		}
	}
	require.NotNil(t, got, "the step was dropped")
	require.Equal(t, process.SpanContext().TraceID(), got.SpanContext().TraceID())
	require.Equal(t, process.SpanContext().SpanID(), got.Parent().SpanID())
}

// Logs of a traced step carry its trace and span IDs.
func TestLogFields(t *testing.T) {
	record(t)
	log, hook := test.NewNullLogger()
	tracing.LogFields(context.Background(), log).Info("untraced")
	ctx, span := tracing.Start(context.Background(), "step", trace.SpanKindInternal)
	defer span.End()
	tracing.LogFields(ctx, log.WithField("command_id", "c1")).Info("traced")
	entries := hook.AllEntries()
	require.NotContains(t, entries[0].Data, "trace_id")
	require.Equal(t, span.SpanContext().TraceID().String(), entries[1].Data["trace_id"])
	require.Equal(t, span.SpanContext().SpanID().String(), entries[1].Data["span_id"])
	require.Equal(t, "c1", entries[1].Data["command_id"])
}

// With OTEL_EXPORTER_OTLP_ENDPOINT set, Setup exports over OTLP/HTTP:
// an in-process receiver gets the span, under the service's name.
func TestSetupExportsOverOTLP(t *testing.T) {
	var mu sync.Mutex
	var got []*coltrace.ExportTraceServiceRequest
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		req := &coltrace.ExportTraceServiceRequest{}
		if r.URL.Path != "/v1/traces" || proto.Unmarshal(body, req) != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		mu.Lock()
		got = append(got, req)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
		b, _ := proto.Marshal(&coltrace.ExportTraceServiceResponse{})
		_, _ = w.Write(b)
	}))
	defer srv.Close()
	t.Setenv(tracing.EnvEndpoint, srv.URL)
	t.Setenv("OTEL_SERVICE_NAME", "")
	stop, err := tracing.Setup(t.Context(), "roomkeeper-test")
	require.NoError(t, err)
	require.True(t, tracing.Enabled())
	_, span := tracing.Start(context.Background(), "exported", trace.SpanKindInternal)
	span.End()
	require.NoError(t, stop(t.Context()))
	require.False(t, tracing.Enabled())

	mu.Lock()
	defer mu.Unlock()
	require.NotEmpty(t, got)
	rs := got[0].GetResourceSpans()[0]
	var service string
	for _, a := range rs.GetResource().GetAttributes() {
		if a.GetKey() == "service.name" {
			service = a.GetValue().GetStringValue()
		}
	}
	require.Equal(t, "roomkeeper-test", service)
	require.Equal(t, "exported", rs.GetScopeSpans()[0].GetSpans()[0].GetName())
}

// collector is an in-process OTLP/gRPC trace receiver.
type collector struct {
	coltrace.UnimplementedTraceServiceServer
	mu  sync.Mutex
	got []*coltrace.ExportTraceServiceRequest
}

func (c *collector) Export(_ context.Context, req *coltrace.ExportTraceServiceRequest) (*coltrace.ExportTraceServiceResponse, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.got = append(c.got, req)
	return &coltrace.ExportTraceServiceResponse{}, nil
}

// With OTEL_EXPORTER_OTLP_PROTOCOL=grpc, Setup exports over OTLP/gRPC (a
// collector's port 4317): an in-process gRPC receiver gets the span.
func TestSetupExportsOverOTLPgRPC(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	c := &collector{}
	srv := grpc.NewServer()
	coltrace.RegisterTraceServiceServer(srv, c)
	go func() { _ = srv.Serve(ln) }()
	defer srv.Stop()

	for _, key := range []string{"OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"} {
		t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "")
		t.Setenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "")
		t.Setenv(key, "grpc")
		t.Setenv(tracing.EnvEndpoint, "http://"+ln.Addr().String())
		t.Setenv("OTEL_SERVICE_NAME", "")
		stop, err := tracing.Setup(t.Context(), "roomkeeper-grpc")
		require.NoError(t, err)
		require.True(t, tracing.Enabled())
		_, span := tracing.Start(context.Background(), "exported over "+key, trace.SpanKindInternal)
		span.End()
		require.NoError(t, stop(t.Context()))
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	require.Len(t, c.got, 2)
	for i, key := range []string{"OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"} {
		rs := c.got[i].GetResourceSpans()[0]
		var service string
		for _, a := range rs.GetResource().GetAttributes() {
			if a.GetKey() == "service.name" {
				service = a.GetValue().GetStringValue()
			}
		}
		require.Equal(t, "roomkeeper-grpc", service)
		require.Equal(t, "exported over "+key, rs.GetScopeSpans()[0].GetSpans()[0].GetName())
	}
}
