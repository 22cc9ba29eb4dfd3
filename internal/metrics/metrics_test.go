package metrics_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/internal/metrics"
	"github.com/roomkeeper/roomkeeper/internal/testenv"
	"github.com/roomkeeper/roomkeeper/outhooks"
	"github.com/roomkeeper/roomkeeper/rooms"
	"github.com/roomkeeper/roomkeeper/webhooks"
	"github.com/roomkeeper/roomkeeper/workers"
)

// Compile-time checks: the metrics plug into the worker and the receiver.
var (
	_ workers.Metrics      = (*metrics.Metrics)(nil)
	_ webhooks.Metrics     = (*metrics.Metrics)(nil)
	_ rooms.SignalObserver = (*metrics.Metrics)(nil)
	_ rooms.SweepObserver  = (*metrics.Metrics)(nil)
	_ outhooks.Metrics     = (*metrics.Metrics)(nil)
)

// Outgoing webhook deliveries are counted by event and outcome, with
// their latency; the series exist from the start; an event or outcome
// outside the configured sets makes no new series.
func TestOutgoingWebhookDeliveries(t *testing.T) {
	t.Parallel()
	m := metrics.New(metrics.Config{OutgoingEvents: outhooks.Events, OutgoingOutcomes: outhooks.Outcomes})
	fams := scrape(t, m.Handler())
	v, ok := value(fams, "roomkeeper_outgoing_webhooks_total", map[string]string{"event": "recordingEnded", "outcome": "exhausted"})
	require.True(t, ok, "a series from the start")
	require.Zero(t, v)

	m.Delivered(outhooks.MeetingStarted, outhooks.OutcomeRetry, 20*time.Millisecond)
	m.Delivered(outhooks.MeetingStarted, outhooks.OutcomeDelivered, 10*time.Millisecond)
	m.Delivered("madeUp", outhooks.OutcomeDelivered, time.Millisecond)
	m.Delivered(outhooks.MeetingEnded, "made-up", time.Millisecond)
	fams = scrape(t, m.Handler())
	for labels, want := range map[[2]string]float64{
		{"meetingStarted", "retry"}:     1,
		{"meetingStarted", "delivered"}: 1,
		{"unknown", "delivered"}:        1,
		{"meetingEnded", "other"}:       1,
	} {
		v, ok := value(fams, "roomkeeper_outgoing_webhooks_total", map[string]string{"event": labels[0], "outcome": labels[1]})
		require.True(t, ok, labels)
		require.Equal(t, want, v, labels)
	}
	v, _ = value(fams, "roomkeeper_outgoing_webhook_seconds", map[string]string{"event": "meetingStarted"})
	require.Equal(t, 2.0, v)
}

// scrape serves h and parses the text exposition.
func scrape(t *testing.T, h http.Handler) map[string]*dto.MetricFamily {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	body, err := io.ReadAll(rec.Body)
	require.NoError(t, err)
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(string(body)))
	require.NoError(t, err)
	return fams
}

// value returns the value of the series of family name with exactly the
// given labels (a histogram gives its sample count), and whether it exists.
func value(fams map[string]*dto.MetricFamily, name string, labels map[string]string) (float64, bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
next:
	for _, m := range f.GetMetric() {
		if len(m.GetLabel()) != len(labels) {
			continue
		}
		for _, l := range m.GetLabel() {
			if labels[l.GetName()] != l.GetValue() {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.GetCounter().GetValue(), true
		case m.Gauge != nil:
			return m.GetGauge().GetValue(), true
		case m.Histogram != nil:
			return float64(m.GetHistogram().GetSampleCount()), true
		}
	}
	return 0, false
}

func TestLabelsAreBounded(t *testing.T) {
	m := metrics.New(outcomes(metrics.Config{}))
	for subject, want := range map[string][2]string{
		events.SubjectCreate:              {"command", "create"},
		events.SubjectSweep:               {"command", "sweep"},
		events.SubjectUpdatePreferences:   {"command", "update_preferences"},
		events.SubjectUpdateStatus:        {"command", "update_status"},
		events.SubjectRoomFinished:        {"webhook", "room_finished"},
		"livekit.webhook.track_published": {"webhook", "track_published"},
		"rooms.cmd.bogus":                 {"command", "unknown"},
		"rooms.cmd.create.extra":          {"command", "unknown"},
		"livekit.webhook.whatever":        {"webhook", "unknown"},
		"elsewhere":                       {"other", "unknown"},
	} {
		kind, typ := m.Labels(subject)
		require.Equal(t, want, [2]string{kind, typ}, subject)
	}

	// A thousand distinct unknown types make one series.
	for i := range 1000 {
		m.Handled("rooms.cmd.x"+strings.Repeat("y", i%50)+time.Duration(i).String(), "invalid", time.Millisecond)
		m.DeadLettered("rooms.cmd.z" + time.Duration(i).String())
	}
	m.Handled(events.SubjectCreate, "made-up outcome", time.Millisecond)
	m.Webhook("made-up outcome")
	fams := scrape(t, m.Handler())
	v, ok := value(fams, "roomkeeper_messages_handled_total", map[string]string{"kind": "command", "type": "unknown", "outcome": "invalid"})
	require.True(t, ok)
	require.Equal(t, 1000.0, v)
	v, _ = value(fams, "roomkeeper_dead_letters_total", map[string]string{"kind": "command", "type": "unknown"})
	require.Equal(t, 1000.0, v)
	v, _ = value(fams, "roomkeeper_messages_handled_total", map[string]string{"kind": "command", "type": "create", "outcome": "other"})
	require.Equal(t, 1.0, v)
	v, _ = value(fams, "roomkeeper_webhooks_total", map[string]string{"outcome": "other"})
	require.Equal(t, 1.0, v)
	for _, m := range fams["roomkeeper_messages_handled_total"].GetMetric() {
		for _, l := range m.GetLabel() {
			require.NotContains(t, l.GetValue(), "x", "no raw subject leaks into a label")
		}
	}
}

func TestHandlerExposesEverything(t *testing.T) {
	m := metrics.New(outcomes(metrics.Config{}))
	m.Handled(events.SubjectCreate, "ok", 30*time.Millisecond)
	m.Handled(events.SubjectRoomStarted, "ok", 3*time.Millisecond)
	m.Redelivered(events.SubjectDelete)
	m.DeadLettered(events.SubjectDelete)
	m.Webhook(webhooks.OutcomeStored)
	m.Webhook(webhooks.OutcomeUnauthorized)
	m.SweepObserved(1500*time.Millisecond, 7, 5, 2)
	m.Signaled(rooms.TopicPreferencesUpdated, nil)
	m.Signaled(rooms.TopicPreferencesUpdated, errors.New("livekit down"))
	m.Signaled(rooms.TopicPreferencesUpdated, nil)
	m.SweepObserved(500*time.Millisecond, 1, 1, 0)

	fams := scrape(t, m.Handler())
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"roomkeeper_messages_handled_total", map[string]string{"kind": "command", "type": "create", "outcome": "ok"}, 1},
		{"roomkeeper_messages_handled_total", map[string]string{"kind": "command", "type": "delete", "outcome": "ok"}, 0},
		{"roomkeeper_messages_handled_total", map[string]string{"kind": "webhook", "type": "room_started", "outcome": "ok"}, 1},
		{"roomkeeper_message_handling_seconds", map[string]string{"kind": "command", "type": "create"}, 1},
		{"roomkeeper_redeliveries_total", map[string]string{"kind": "command", "type": "delete"}, 1},
		{"roomkeeper_dead_letters_total", map[string]string{"kind": "command", "type": "delete"}, 1},
		{"roomkeeper_dead_letters_total", map[string]string{"kind": "command", "type": "create"}, 0},
		{"roomkeeper_webhooks_total", map[string]string{"outcome": "stored"}, 1},
		{"roomkeeper_webhooks_total", map[string]string{"outcome": "unauthorized"}, 1},
		{"roomkeeper_webhooks_total", map[string]string{"outcome": "unavailable"}, 0},
		{"roomkeeper_webhooks_total", map[string]string{"outcome": "busy"}, 0},
		{"roomkeeper_sweep_duration_seconds", map[string]string{}, 2},
		{"roomkeeper_sweep_last_rooms", map[string]string{"kind": "expired"}, 1},
		{"roomkeeper_sweep_last_rooms", map[string]string{"kind": "reconciled"}, 0},
		{"roomkeeper_sweep_rooms_total", map[string]string{"kind": "expired"}, 8},
		{"roomkeeper_sweep_rooms_total", map[string]string{"kind": "delete_commands"}, 6},
		{"roomkeeper_sweep_rooms_total", map[string]string{"kind": "reconciled"}, 2},
		{"roomkeeper_participant_signals_total", map[string]string{"topic": rooms.TopicPreferencesUpdated, "outcome": "sent"}, 2},
		{"roomkeeper_participant_signals_total", map[string]string{"topic": rooms.TopicPreferencesUpdated, "outcome": "failed"}, 1},
	} {
		v, ok := value(fams, c.name, c.labels)
		require.True(t, ok, "%s%v missing", c.name, c.labels)
		require.Equal(t, c.want, v, "%s%v", c.name, c.labels)
	}
	ts, ok := value(fams, "roomkeeper_sweep_last_completion_timestamp_seconds", map[string]string{})
	require.True(t, ok)
	require.InDelta(t, float64(time.Now().Unix()), ts, 60)
	require.Contains(t, fams, "go_goroutines", "Go collector")
	require.Contains(t, fams, "process_cpu_seconds_total", "process collector")
	require.NotContains(t, fams, "roomkeeper_consumer_info_up", "no consumer collector without JetStream")
}

func TestConsumerCollector(t *testing.T) {
	n := testenv.StartNATS(t)
	nc, js := n.Bootstrap(t, nil)
	m := metrics.New(outcomes(metrics.Config{JetStream: js, ConsumerInfoTimeout: 500 * time.Millisecond}))

	// Three commands nobody consumes: the backlog of ROOMS_COMMANDS.
	for range 3 {
		require.NoError(t, nc.Publish("rooms.cmd.create", []byte(`{}`)))
	}
	require.NoError(t, nc.Flush())
	require.Eventually(t, func() bool {
		v, _ := value(scrape(t, m.Handler()), "roomkeeper_consumer_num_pending", map[string]string{"stream": events.StreamCommands, "consumer": events.ConsumerWorkers})
		return v == 3
	}, 5*time.Second, 50*time.Millisecond)

	fams := scrape(t, m.Handler())
	for _, stream := range []string{events.StreamCommands, events.StreamWebhooks} {
		l := map[string]string{"stream": stream, "consumer": events.ConsumerWorkers}
		up, ok := value(fams, "roomkeeper_consumer_info_up", l)
		require.True(t, ok)
		require.Equal(t, 1.0, up)
		for _, name := range []string{"roomkeeper_consumer_num_ack_pending", "roomkeeper_consumer_num_redelivered", "roomkeeper_consumer_num_waiting"} {
			v, ok := value(fams, name, l)
			require.True(t, ok, name)
			require.Zero(t, v, name)
		}
	}
	v, _ := value(fams, "roomkeeper_consumer_num_pending", map[string]string{"stream": events.StreamWebhooks, "consumer": events.ConsumerWorkers})
	require.Zero(t, v)

	// NATS gone: the scrape still answers, in bounded time, with up 0.
	n.Server.Shutdown()
	n.Server.WaitForShutdown()
	start := time.Now()
	fams = scrape(t, m.Handler())
	require.Less(t, time.Since(start), 3*time.Second)
	up, ok := value(fams, "roomkeeper_consumer_info_up", map[string]string{"stream": events.StreamCommands, "consumer": events.ConsumerWorkers})
	require.True(t, ok)
	require.Zero(t, up)
	_, ok = value(fams, "roomkeeper_consumer_num_pending", map[string]string{"stream": events.StreamCommands, "consumer": events.ConsumerWorkers})
	require.False(t, ok, "no stale backlog figure while NATS is away")
	require.Contains(t, fams, "roomkeeper_messages_handled_total", "the other metrics are still served")
}

// outcomes gives c the outcome labels the app wires in.
func outcomes(c metrics.Config) metrics.Config {
	c.WorkerOutcomes, c.WebhookOutcomes = workers.Outcomes(), webhooks.Outcomes()
	return c
}
