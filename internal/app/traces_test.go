package app_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/internal/app"
	"github.com/roomkeeper/roomkeeper/internal/tracing"
)

// otlpReceiver is an in-process OTLP/HTTP trace receiver.
type otlpReceiver struct {
	mu    sync.Mutex
	spans map[string][]*tracepb.Span // by service.name
}

func (r *otlpReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	in := &coltrace.ExportTraceServiceRequest{}
	if req.URL.Path != "/v1/traces" || proto.Unmarshal(body, in) != nil {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	for _, rs := range in.GetResourceSpans() {
		service := ""
		for _, a := range rs.GetResource().GetAttributes() {
			if a.GetKey() == "service.name" {
				service = a.GetValue().GetStringValue()
			}
		}
		for _, ss := range rs.GetScopeSpans() {
			r.spans[service] = append(r.spans[service], ss.GetSpans()...)
		}
	}
	r.mu.Unlock()
	b, _ := proto.Marshal(&coltrace.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(b)
}

// With OTEL_EXPORTER_OTLP_ENDPOINT set, roomkeeper serve exports the
// spans of a command, which continue the client's trace, under the
// service name roomkeeper; stopping the process flushes them and turns
// tracing off again.
func TestServeExportsTraces(t *testing.T) {
	rcv := &otlpReceiver{spans: map[string][]*tracepb.Span{}}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	t.Setenv(tracing.EnvEndpoint, srv.URL)
	t.Setenv("OTEL_SERVICE_NAME", "")
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "50")

	p := serve(t, testConfig(t))
	require.True(t, tracing.Enabled())
	c, _ := appClient(t, p.app)
	name := "traced"
	const id = "traced-create"
	_, err := c.CreateRoom(ctxT(t, 30*time.Second), id, events.CreateRoom{RoomName: &name})
	require.NoError(t, err)
	p.stop(t)
	require.False(t, tracing.Enabled())

	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	byName := map[string]*tracepb.Span{}
	for _, s := range rcv.spans["roomkeeper"] {
		byName[s.GetName()] = s
	}
	pub, process := byName["publish "+events.SubjectCreate], byName["process "+events.SubjectCreate]
	require.NotNil(t, pub, "spans: %v", byName)
	require.NotNil(t, process, "spans: %v", byName)
	require.Equal(t, pub.GetTraceId(), process.GetTraceId())
	require.Equal(t, pub.GetSpanId(), process.GetParentSpanId())
	for _, step := range []string{"decode", "claim", "handle " + events.SubjectCreate, "complete", "outbox publish", "ack"} {
		require.Contains(t, byName, step)
		require.Equal(t, process.GetTraceId(), byName[step].GetTraceId(), step)
	}
}

// A failed export (the collector refuses the spans) is logged by the
// process's logger, in its format (LOG_FORMAT=json: one JSON object a
// line), not as a bare line of Go's standard log on stderr.
func TestTraceExportErrorsGoToTheLog(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "no", http.StatusBadRequest)
	}))
	defer srv.Close()
	t.Setenv(tracing.EnvEndpoint, srv.URL)
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "50")

	cfg := testConfig(t)
	cfg.LogFormat = "json"
	p, logs := serveLogged(t, cfg, app.All)
	a := p.app
	c, _ := appClient(t, a)
	name := "export-fails"
	_, err := c.CreateRoom(ctxT(t, 30*time.Second), "export-fails", events.CreateRoom{RoomName: &name})
	require.NoError(t, err)
	require.Eventually(t, func() bool { return strings.Contains(logs.String(), "400 Bad Request") },
		10*time.Second, 50*time.Millisecond, "the export error in the log:\n%s", logs.String())
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		require.True(t, json.Valid([]byte(line)), "not JSON: %s", line)
	}
}
