package natsapi_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/internal/testenv"
	"github.com/roomkeeper/roomkeeper/internal/tracing"
	"github.com/roomkeeper/roomkeeper/natsapi"
)

// With a tracer provider installed globally, as a service that uses the
// client does, a command is published in a span whose context it carries
// in its traceparent header; a command that fits the server's max payload
// only without the header goes without it. (Not parallel: it installs a
// process-wide provider.)
func TestSendCarriesTheTraceContext(t *testing.T) {
	n := testenv.StartNATS(t)
	nc, js := n.Bootstrap(t, nil)
	client, err := natsapi.NewClient(nc)
	require.NoError(t, err)
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(tracing.Propagator())
	defer func() {
		otel.SetTracerProvider(noop.NewTracerProvider())
		_ = tp.Shutdown(context.Background())
	}()

	require.NoError(t, client.SendRaw(t.Context(), "traced", events.SubjectCreate, []byte(`{}`)))
	// Exactly the max payload with the Nats-Msg-Id header alone.
	exact := bytes.Repeat([]byte("x"), int(nc.MaxPayload())-len("NATS/1.0\r\nNats-Msg-Id: exact\r\n\r\n"))
	require.NoError(t, client.SendRaw(t.Context(), "exact", events.SubjectCreate, exact))

	spans := rec.Ended()
	require.Len(t, spans, 2)
	require.Equal(t, "publish "+events.SubjectCreate, spans[0].Name())
	s, err := js.Stream(t.Context(), events.StreamCommands)
	require.NoError(t, err)
	first, err := s.GetMsg(t.Context(), 1)
	require.NoError(t, err)
	sc := tracing.FromTraceParent(first.Header.Get(tracing.HeaderTraceParent))
	require.Equal(t, spans[0].SpanContext().SpanID(), sc.SpanID())
	second, err := s.GetMsg(t.Context(), 2)
	require.NoError(t, err)
	require.Empty(t, second.Header.Get(tracing.HeaderTraceParent))
	require.Len(t, second.Data, len(exact))
}
