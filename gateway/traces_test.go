package gateway_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/roomkeeper/roomkeeper/internal/tracing"
)

// A create through the HTTP API is one trace: the caller's span (from its
// traceparent header), the gateway's server span, the command's publish and
// the worker's processing of it.
func TestTraceOfAnHTTPCreate(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	tracing.Install(tp)
	t.Cleanup(func() {
		tracing.Uninstall()
		_ = tp.Shutdown(context.Background())
	})
	b := setup(t, opts{})

	const caller = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	r := b.do(t, req{Method: http.MethodPost, Path: "/api/v1/rooms", Body: map[string]any{"roomName": "traced"},
		Header: map[string]string{"traceparent": caller}})
	require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)

	find := func(name string) sdktrace.ReadOnlySpan {
		t.Helper()
		var found sdktrace.ReadOnlySpan
		require.Eventually(t, func() bool {
			for _, sp := range rec.Ended() {
				if sp.Name() == name {
					found = sp
					return true
				}
			}
			return false
		}, 10*time.Second, 20*time.Millisecond, "no span %q", name)
		return found
	}
	server := find("HTTP POST /api/v1/rooms")
	publish := find("publish rooms.cmd.create")
	process := find("process rooms.cmd.create")

	require.Equal(t, trace.SpanKindServer, server.SpanKind())
	require.Equal(t, "4bf92f3577b34da6a3ce929d0e0e4736", server.SpanContext().TraceID().String(), "the caller's trace goes on")
	require.Equal(t, "00f067aa0ba902b7", server.Parent().SpanID().String(), "the server span is the caller's child")
	require.Equal(t, server.SpanContext().SpanID(), publish.Parent().SpanID(), "the publish is the request's child")
	require.Equal(t, publish.SpanContext().SpanID(), process.Parent().SpanID(), "the worker continues the publish")
	require.Equal(t, server.SpanContext().TraceID(), process.SpanContext().TraceID())
}
