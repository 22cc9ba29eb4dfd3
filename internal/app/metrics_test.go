package app_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/internal/testenv"
)

// get fetches http://addr+path and returns the status and body.
func get(t *testing.T, addr, path string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+path, nil)
	require.NoError(t, err)
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer func() { _ = res.Body.Close() }()
	body, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res.StatusCode, string(body)
}

// series is a scrape: "name{label="value",...}" (labels sorted, as the
// exposition writes them) → value; a histogram gives its sample count.
type series map[string]float64

func scrapeMetrics(t *testing.T, addr string) series {
	t.Helper()
	code, body := get(t, addr, "/metrics")
	require.Equal(t, http.StatusOK, code, body)
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(strings.NewReader(body))
	require.NoError(t, err)
	out := series{}
	for name, f := range fams {
		for _, m := range f.GetMetric() {
			out[key(name, m.GetLabel())] = sampleValue(m)
		}
	}
	return out
}

func key(name string, labels []*dto.LabelPair) string {
	var b strings.Builder
	b.WriteString(name + "{")
	for i, l := range labels {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(l.GetName() + "=" + `"` + l.GetValue() + `"`)
	}
	b.WriteString("}")
	return b.String()
}

func sampleValue(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.GetCounter().GetValue()
	case m.Gauge != nil:
		return m.GetGauge().GetValue()
	case m.Histogram != nil:
		return float64(m.GetHistogram().GetSampleCount())
	}
	return 0
}

// delta is after - before for every series that moved.
func delta(before, after series) series {
	d := series{}
	for k, v := range after {
		if v != before[k] {
			d[k] = v - before[k]
		}
	}
	return d
}

func TestMetricsCountCommandsAndWebhooks(t *testing.T) {
	cfg := testConfig(t)
	// A key pair turns the webhook receiver on; LiveKit itself stays
	// detached (no LIVEKIT_URL).
	cfg.LiveKitAPIKey, cfg.LiveKitAPISecret = "devkey", "a-secret-of-at-least-thirty-two-characters"
	p := serve(t, cfg)
	c, _ := appClient(t, p.app)
	addr := p.app.HTTPAddr()

	before := scrapeMetrics(t, addr)
	up := `roomkeeper_consumer_info_up{consumer="workers",stream="%s"}`
	for _, s := range []string{events.StreamCommands, events.StreamWebhooks} {
		require.Equal(t, 1.0, before[strings.Replace(up, "%s", s, 1)], s)
	}

	name := "counted"
	_, err := c.CreateRoom(ctxT(t, 30*time.Second), cmdID("create"), events.CreateRoom{RoomName: &name})
	require.NoError(t, err)

	long := strings.Repeat("x", 51)
	_, err = c.CreateRoom(ctxT(t, 30*time.Second), cmdID("create"), events.CreateRoom{RoomName: &long})
	e, ok := events.AsError(err)
	require.True(t, ok, "%v", err)
	require.Equal(t, events.CodeInvalidArgument, e.Code)

	// Unknown types, each a distinct subject: one "unknown" series.
	for _, typ := range []string{"bogus", "made_up"} {
		id := cmdID("unknown")
		require.NoError(t, c.SendRaw(ctxT(t, 10*time.Second), id, events.CommandPrefix+typ, []byte(`{}`)))
		res, err := c.Result(ctxT(t, 30*time.Second), id)
		require.NoError(t, err)
		require.False(t, res.OK)
		require.Equal(t, events.CodeInvalidArgument, res.Error.Code)
	}

	// An unsigned webhook: 401.
	res, err := http.Post("http://"+addr+"/livekit/webhook", "application/webhook+json", bytes.NewReader([]byte(`{"event":"room_started","id":"EV_1"}`)))
	require.NoError(t, err)
	_ = res.Body.Close()
	require.Equal(t, http.StatusUnauthorized, res.StatusCode)

	want := series{
		`roomkeeper_messages_handled_total{kind="command",outcome="ok",type="create"}`:       1,
		`roomkeeper_messages_handled_total{kind="command",outcome="invalid",type="create"}`:  1,
		`roomkeeper_messages_handled_total{kind="command",outcome="invalid",type="unknown"}`: 2,
		`roomkeeper_message_handling_seconds{kind="command",type="create"}`:                  2,
		`roomkeeper_message_handling_seconds{kind="command",type="unknown"}`:                 2,
		`roomkeeper_dead_letters_total{kind="command",type="create"}`:                        1,
		`roomkeeper_dead_letters_total{kind="command",type="unknown"}`:                       2,
		`roomkeeper_webhooks_total{outcome="unauthorized"}`:                                  1,
	}
	// The worker counts a message after acknowledging it, a moment after
	// the result is out.
	var moved series
	require.Eventually(t, func() bool {
		moved = delta(before, scrapeMetrics(t, addr))
		for k, v := range want {
			if moved[k] != v {
				return false
			}
		}
		return true
	}, 10*time.Second, 50*time.Millisecond, "want %v", want)
	for k, v := range moved {
		// A sweep may fall in the test (the scheduler runs at interval
		// boundaries): its series are not this test's.
		if strings.HasPrefix(k, "roomkeeper_") && !strings.HasPrefix(k, "roomkeeper_consumer_") && !strings.HasPrefix(k, "roomkeeper_sweep") && !strings.Contains(k, `type="sweep"`) {
			require.Equal(t, want[k], v, "%s moved unexpectedly", k)
		}
	}
	for k := range moved {
		require.NotContains(t, k, "bogus", "an unknown type makes no series of its own")
	}
}

func TestReadyzFollowsNATS(t *testing.T) {
	n := testenv.StartNATS(t)
	cfg := testConfig(t)
	cfg.NATSURL = n.URL
	p := serve(t, cfg)
	addr := p.app.HTTPAddr()

	code, body := get(t, addr, "/readyz")
	require.Equal(t, http.StatusOK, code, body)

	natsAddr := n.Server.Addr().String()
	n.Server.Shutdown()
	n.Server.WaitForShutdown()
	// 503 at once; the reason says NATS once the client noticed the loss
	// (until then the stream check times out).
	require.Eventually(t, func() bool {
		code, body = get(t, addr, "/readyz")
		return code == http.StatusServiceUnavailable && strings.Contains(body, "NATS not connected")
	}, 10*time.Second, 50*time.Millisecond, "last answer: %d %s", code, body)
	code, _ = get(t, addr, "/healthz")
	require.Equal(t, http.StatusOK, code, "the process itself is up")
	m := scrapeMetrics(t, addr)
	require.Zero(t, m[`roomkeeper_consumer_info_up{consumer="workers",stream="ROOMS_COMMANDS"}`])
	_, stale := m[`roomkeeper_consumer_num_pending{consumer="workers",stream="ROOMS_COMMANDS"}`]
	require.False(t, stale)

	// The same server back on the same address and store: ready again, and
	// the worker takes commands.
	n2 := testenv.StartNATSAt(t, natsAddr, n.Dir)
	require.Eventually(t, func() bool {
		code, body = get(t, addr, "/readyz")
		return code == http.StatusOK
	}, 20*time.Second, 100*time.Millisecond, "last answer %d %s", code, body)
	c, _ := client(t, n2.URL)
	name := "after-outage"
	_, err := c.CreateRoom(ctxT(t, 30*time.Second), cmdID("create"), events.CreateRoom{RoomName: &name})
	require.NoError(t, err)
	require.Equal(t, 1.0, scrapeMetrics(t, addr)[`roomkeeper_consumer_info_up{consumer="workers",stream="ROOMS_COMMANDS"}`])

	// Stop serve while NATS is still up (cleanups run in reverse).
	p.stop(t)
}
