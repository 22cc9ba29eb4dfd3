// Package metrics exposes roomkeeper's Prometheus metrics on a private
// registry: what the workers handle (by message type and outcome, with
// latency), redeliveries and dead letters, webhook requests by outcome,
// outgoing webhook deliveries by event and outcome (with latency), the
// expiry sweeps, the backlog of the shared `workers` consumers (read from
// JetStream at scrape time) and the Go runtime and process collectors.
//
// A *Metrics implements workers.Metrics, webhooks.Metrics and
// outhooks.Metrics without importing them (their outcome labels come in its Config); Handler
// serves the registry for /metrics.
//
// Label values are bounded: a message subject maps to a kind ("command",
// "webhook" or "other") and a type that is one of the contract's command
// types or LiveKit's webhook events, every other value becoming "unknown";
// outcomes outside the documented sets become "other". A client publishing
// rooms.cmd.<anything> therefore cannot create new series.
package metrics

import (
	"net/http"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/sirupsen/logrus"

	"github.com/roomkeeper/roomkeeper/events"
)

// Namespace prefixes every roomkeeper metric name.
const Namespace = "roomkeeper"

// Label values.
const (
	KindCommand = "command" // a message under rooms.cmd.
	KindWebhook = "webhook" // a LiveKit event under livekit.webhook.
	KindOther   = "other"   // any other subject

	// Unknown is the type of a subject whose last token is not a known
	// command type or LiveKit event.
	Unknown = "unknown"
	// OtherOutcome replaces an outcome outside the documented set.
	OtherOutcome = "other"
)

// Command types of the contract (the last token of rooms.cmd.<type>).
var commandTypes = []string{
	events.CommandType(events.SubjectCreate),
	events.CommandType(events.SubjectDelete),
	events.CommandType(events.SubjectUpdatePreferences),
	events.CommandType(events.SubjectUpdateConfig),
	events.CommandType(events.SubjectUpdateStatus),
	events.CommandType(events.SubjectUpdateRoles),
	events.CommandType(events.SubjectUpdateAccess),
	events.CommandType(events.SubjectSweep),
}

// LiveKit webhook events (the last token of livekit.webhook.<event>), as
// named by github.com/livekit/protocol/webhook (consts.go); that package is
// not imported for its dependencies.
var webhookTypes = []string{
	"room_started", "room_finished",
	"participant_joined", "participant_left", "participant_connection_aborted",
	"track_published", "track_unpublished",
	"egress_started", "egress_updated", "egress_ended",
	"ingress_started", "ingress_ended",
	"agent_job_pending", "agent_job_started", "agent_job_ended",
}

// Sweep size kinds, the `kind` label of the sweep gauges and counters.
const (
	SweepExpired        = "expired"
	SweepDeleteCommands = "delete_commands"
	SweepReconciled     = "reconciled"
)

// Config configures [New].
type Config struct {
	// JetStream, when set, enables the consumer collector: at each scrape it
	// reads the info of the `workers` consumer on ROOMS_COMMANDS and
	// LIVEKIT_WEBHOOKS.
	JetStream jetstream.JetStream
	// ConsumerInfoTimeout bounds the consumer info requests of one scrape;
	// DefaultConsumerInfoTimeout when 0.
	ConsumerInfoTimeout time.Duration
	// Log receives errors of the /metrics handler; nil discards them.
	Log logrus.FieldLogger
	// WorkerOutcomes and WebhookOutcomes are the outcome labels the
	// worker pipeline (workers.Outcomes) and the webhook receiver
	// (webhooks.Outcomes) report; any other outcome is counted as
	// OtherOutcome, which bounds the series. Every webhook outcome has a
	// series from the start.
	WorkerOutcomes  []string
	WebhookOutcomes []string
	// OutgoingEvents and OutgoingOutcomes are the webhook event names
	// (outhooks.Events) and delivery outcomes (outhooks.Outcomes) of the
	// outgoing webhook dispatcher; others are counted as Unknown and
	// OtherOutcome. Every pair has a series from the start.
	OutgoingEvents   []string
	OutgoingOutcomes []string
}

// DefaultConsumerInfoTimeout bounds the consumer info requests of a scrape,
// well under Prometheus' default scrape timeout of 10 s.
const DefaultConsumerInfoTimeout = 2 * time.Second

// WithDefaults returns c with zero fields set to their defaults.
func (c Config) WithDefaults() Config {
	if c.ConsumerInfoTimeout <= 0 {
		c.ConsumerInfoTimeout = DefaultConsumerInfoTimeout
	}
	return c
}

// Metrics holds roomkeeper's collectors on a private registry. Its methods
// are safe for concurrent use. A nil *Metrics must not be used; pass a nil
// interface where no metrics are wanted.
type Metrics struct {
	cfg Config
	reg *prometheus.Registry
	log logrus.FieldLogger

	handled     *prometheus.CounterVec
	latency     *prometheus.HistogramVec
	redelivered *prometheus.CounterVec
	dead        *prometheus.CounterVec
	webhooks    *prometheus.CounterVec
	outgoing    *prometheus.CounterVec
	outLatency  *prometheus.HistogramVec

	sweepDuration prometheus.Histogram
	sweepLast     *prometheus.GaugeVec
	sweepTotal    *prometheus.CounterVec
	sweepTime     prometheus.Gauge
	signals       *prometheus.CounterVec

	known map[string]map[string]bool // kind → type → known
	wOut  map[string]bool
	hOut  map[string]bool
	oEv   map[string]bool
	oOut  map[string]bool
}

// New returns the metrics registered on a new private registry, with the Go
// runtime and process collectors and, when cfg.JetStream is set, the
// consumer collector.
func New(cfg Config) *Metrics {
	cfg = cfg.WithDefaults()
	m := &Metrics{
		cfg: cfg,
		reg: prometheus.NewRegistry(),
		log: cfg.Log,
		handled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "messages_handled_total",
			Help: "Commands and LiveKit events handled by workers, by kind (command, webhook), type and outcome (ok, error, invalid, retry, dead, duplicate, ignored, requeued).",
		}, []string{"kind", "type", "outcome"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace, Name: "message_handling_seconds",
			Help:    "Time from a worker receiving a message to acknowledging it, by kind and type.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"kind", "type"}),
		redelivered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "redeliveries_total",
			Help: "Redeliveries: deliveries of a message after its first (AckWait expired, nak, worker crash), by kind and type.",
		}, []string{"kind", "type"}),
		dead: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "dead_letters_total",
			Help: "Messages copied to ROOMS_DEAD (invalid input, or given up after MaxDeliver), by kind and type.",
		}, []string{"kind", "type"}),
		webhooks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "webhooks_total",
			Help: "LiveKit webhook requests received, by outcome (stored, duplicate, unauthorized, malformed, too_large, method_not_allowed, unavailable).",
		}, []string{"outcome"}),
		outgoing: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "outgoing_webhooks_total",
			Help: "Deliveries of outgoing webhooks (one per POST tried), by event (meetingStarted, ...) and outcome (delivered, retry, rejected, exhausted, malformed, interrupted).",
		}, []string{"event", "outcome"}),
		outLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace, Name: "outgoing_webhook_seconds",
			Help:    "Time an outgoing webhook POST took, answered or not, by event.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"event"}),
		sweepDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: Namespace, Name: "sweep_duration_seconds",
			Help:    "Time one expiry sweep took.",
			Buckets: []float64{.01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120},
		}),
		sweepLast: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: Namespace, Name: "sweep_last_rooms",
			Help: "Size of the last expiry sweep this process ran, by kind: expired (rooms found expired), delete_commands (rooms.cmd.delete published), reconciled (marked rooms whose LiveKit room was gone).",
		}, []string{"kind"}),
		sweepTotal: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "sweep_rooms_total",
			Help: "Rooms handled by expiry sweeps, by kind (expired, delete_commands, reconciled).",
		}, []string{"kind"}),
		sweepTime: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: Namespace, Name: "sweep_last_completion_timestamp_seconds",
			Help: "Unix time at which the last expiry sweep of this process completed.",
		}),
		signals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "participant_signals_total",
			Help: "Data messages telling a live meeting's participants that their room changed, by topic and outcome (sent, failed). A failed signal never fails its command.",
		}, []string{"topic", "outcome"}),
		known: map[string]map[string]bool{KindCommand: set(commandTypes), KindWebhook: set(webhookTypes)},
		wOut:  set(cfg.WorkerOutcomes),
		hOut:  set(cfg.WebhookOutcomes),
		oEv:   set(cfg.OutgoingEvents),
		oOut:  set(cfg.OutgoingOutcomes),
	}
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.handled, m.latency, m.redelivered, m.dead, m.webhooks, m.outgoing, m.outLatency,
		m.sweepDuration, m.sweepLast, m.sweepTotal, m.sweepTime, m.signals,
	)
	if cfg.JetStream != nil {
		m.reg.MustRegister(newConsumerCollector(cfg.JetStream, cfg.ConsumerInfoTimeout))
	}
	// Series that exist from the start, so rates and alerts see a zero
	// rather than nothing.
	for _, o := range cfg.WebhookOutcomes {
		m.webhooks.WithLabelValues(o)
	}
	for _, e := range cfg.OutgoingEvents {
		for _, o := range cfg.OutgoingOutcomes {
			m.outgoing.WithLabelValues(e, o)
		}
	}
	for _, t := range commandTypes {
		m.dead.WithLabelValues(KindCommand, t)
		m.redelivered.WithLabelValues(KindCommand, t)
		for _, o := range []string{"ok", "error", "invalid"} {
			m.handled.WithLabelValues(KindCommand, t, o)
		}
	}
	for _, k := range []string{SweepExpired, SweepDeleteCommands, SweepReconciled} {
		m.sweepLast.WithLabelValues(k)
		m.sweepTotal.WithLabelValues(k)
	}
	return m
}

func set(vs []string) map[string]bool {
	s := make(map[string]bool, len(vs))
	for _, v := range vs {
		s[v] = true
	}
	return s
}

// Registry is the private registry, for tests and for registering more
// collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in the Prometheus exposition formats. A
// collector that fails does not fail the scrape: the other metrics are
// still served and the error is logged.
func (m *Metrics) Handler() http.Handler {
	opts := promhttp.HandlerOpts{
		ErrorHandling:     promhttp.ContinueOnError,
		Registry:          m.reg, // promhttp_metric_handler_errors_total
		Timeout:           m.cfg.ConsumerInfoTimeout + 5*time.Second,
		EnableOpenMetrics: true,
	}
	if m.log != nil {
		opts.ErrorLog = m.log
	}
	return promhttp.InstrumentMetricHandler(m.reg, promhttp.HandlerFor(m.reg, opts))
}

// Labels maps a message subject to its bounded (kind, type) label values:
// rooms.cmd.create → (command, create); livekit.webhook.room_finished →
// (webhook, room_finished); rooms.cmd.bogus → (command, unknown); anything
// else → (other, unknown).
func (m *Metrics) Labels(subject string) (kind, typ string) {
	switch {
	case strings.HasPrefix(subject, events.CommandPrefix):
		kind, typ = KindCommand, subject[len(events.CommandPrefix):]
	case strings.HasPrefix(subject, events.WebhookPrefix):
		kind, typ = KindWebhook, subject[len(events.WebhookPrefix):]
	default:
		return KindOther, Unknown
	}
	if !m.known[kind][typ] {
		typ = Unknown
	}
	return kind, typ
}

func (m *Metrics) outcome(known map[string]bool, o string) string {
	if known[o] {
		return o
	}
	return OtherOutcome
}

// Handled counts a message a worker finished with, by subject and outcome,
// and observes how long it took (workers.Metrics).
func (m *Metrics) Handled(subject, outcome string, took time.Duration) {
	kind, typ := m.Labels(subject)
	m.handled.WithLabelValues(kind, typ, m.outcome(m.wOut, outcome)).Inc()
	m.latency.WithLabelValues(kind, typ).Observe(took.Seconds())
}

// Redelivered counts a message delivered more than once (workers.Metrics).
func (m *Metrics) Redelivered(subject string) {
	kind, typ := m.Labels(subject)
	m.redelivered.WithLabelValues(kind, typ).Inc()
}

// DeadLettered counts a message copied to ROOMS_DEAD (workers.Metrics).
func (m *Metrics) DeadLettered(subject string) {
	kind, typ := m.Labels(subject)
	m.dead.WithLabelValues(kind, typ).Inc()
}

// Webhook counts a webhook request by outcome (webhooks.Metrics).
func (m *Metrics) Webhook(outcome string) {
	m.webhooks.WithLabelValues(m.outcome(m.hOut, outcome)).Inc()
}

// Delivered counts one try of an outgoing webhook by event and outcome
// and observes how long its POST took (outhooks.Metrics).
func (m *Metrics) Delivered(event, outcome string, took time.Duration) {
	if !m.oEv[event] {
		event = Unknown
	}
	m.outgoing.WithLabelValues(event, m.outcome(m.oOut, outcome)).Inc()
	m.outLatency.WithLabelValues(event).Observe(took.Seconds())
}

// SweepObserved records one completed expiry sweep (a rooms.cmd.sweep
// handled to an ok result): d is how long it took; expired is the number of
// rooms it found past their autoDeletionDate, deleteCommands the number of
// rooms.cmd.delete commands it published, and reconciled the number of rooms
// marked for deletion whose LiveKit room was gone (the "expired",
// "deleteCommands" and "reconciled" fields of the sweep's result). Call it
// once per sweep that did the work, not for a redelivery answered from the
// ledger, so a sweep is counted once. It sets roomkeeper_sweep_last_rooms,
// adds to roomkeeper_sweep_rooms_total, observes
// roomkeeper_sweep_duration_seconds and stamps
// roomkeeper_sweep_last_completion_timestamp_seconds. Negative sizes count
// as zero.
func (m *Metrics) SweepObserved(d time.Duration, expired, deleteCommands, reconciled int) {
	m.sweepDuration.Observe(d.Seconds())
	for k, n := range map[string]int{SweepExpired: expired, SweepDeleteCommands: deleteCommands, SweepReconciled: reconciled} {
		n = max(n, 0)
		m.sweepLast.WithLabelValues(k).Set(float64(n))
		m.sweepTotal.WithLabelValues(k).Add(float64(n))
	}
	m.sweepTime.SetToCurrentTime()
}

// Signaled counts a participant signal of topic (rooms.SignalObserver):
// roomkeeper_participant_signals_total{topic, outcome="sent"|"failed"}.
// Topics are roomkeeper's own constants, so the series are bounded.
func (m *Metrics) Signaled(topic string, err error) {
	outcome := "sent"
	if err != nil {
		outcome = "failed"
	}
	m.signals.WithLabelValues(topic, outcome).Inc()
}
