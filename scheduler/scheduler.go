// Package scheduler publishes the expiry sweeps: one rooms.cmd.sweep per
// interval, whose Nats-Msg-Id is the start of the interval
// ("sweep-<unix seconds>"), so any number of replicas aligned on the same
// clock boundaries yield exactly one sweep per interval (JetStream drops the
// copies inside the duplicates window).
package scheduler

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/sirupsen/logrus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/internal/publish"
	"github.com/roomkeeper/roomkeeper/internal/tracing"
)

// ErrConfig: a setting is out of range.
var ErrConfig = errors.New("invalid scheduler configuration")

// Config of the scheduler.
type Config struct {
	// Interval between sweeps; sweeps are aligned to multiples of it since
	// the Unix epoch.
	Interval time.Duration
	// PublishTimeout bounds one publish attempt (sending the sweep and
	// awaiting JetStream's acknowledgement).
	PublishTimeout time.Duration
	// RetryDelay is the pause between attempts while NATS is unreachable.
	RetryDelay time.Duration
}

// WithDefaults returns c with zero fields set to their defaults.
func (c Config) WithDefaults() Config {
	if c.Interval == 0 {
		c.Interval = time.Minute
	}
	if c.PublishTimeout == 0 {
		c.PublishTimeout = 5 * time.Second
	}
	if c.RetryDelay == 0 {
		c.RetryDelay = time.Second
	}
	return c
}

// Validate reports a setting out of range.
func (c Config) Validate() error {
	if c.Interval < time.Second || c.Interval%time.Second != 0 {
		return fmt.Errorf("%w: interval %s must be a whole number of seconds", ErrConfig, c.Interval)
	}
	if c.PublishTimeout <= 0 || c.RetryDelay <= 0 {
		return fmt.Errorf("%w: timeouts must be positive", ErrConfig)
	}
	return nil
}

// Scheduler publishes one sweep per interval.
type Scheduler struct {
	cfg Config
	pub *publish.Publisher
	log logrus.FieldLogger
	now func() time.Time
}

// New returns a scheduler.
func New(cfg Config, js jetstream.JetStream, log logrus.FieldLogger) (*Scheduler, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	pub, err := publish.New(publish.Config{Timeout: cfg.PublishTimeout, SpanName: "sweep publish"}, js)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	if log == nil {
		log = logrus.StandardLogger()
	}
	return &Scheduler{cfg: cfg, pub: pub, log: log.WithField("role", "scheduler"), now: time.Now}, nil
}

// SweepID is the command ID of the sweep of the interval starting at start.
func SweepID(start time.Time) string { return "sweep-" + strconv.FormatInt(start.Unix(), 10) }

// Run publishes a sweep at the start of every interval until ctx ends.
func (s *Scheduler) Run(ctx context.Context) error {
	for {
		now := s.now()
		next := now.Truncate(s.cfg.Interval).Add(s.cfg.Interval)
		t := time.NewTimer(next.Sub(now))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		s.publish(ctx, next)
	}
}

// publish sends the sweep of the interval starting at start, retrying while
// NATS is unreachable until the interval is over.
func (s *Scheduler) publish(ctx context.Context, start time.Time) {
	id := SweepID(start)
	ctx, span := tracing.Start(ctx, "sweep schedule", trace.SpanKindProducer, attribute.String("command_id", id))
	defer span.End()
	log := tracing.LogFields(ctx, s.log.WithField("command_id", id))
	deadline := start.Add(s.cfg.Interval)
	m := publish.Msg{
		Subject: events.SubjectSweep,
		MsgID:   id,
		// roomkeeper's own: only it may use the sweep- prefix.
		Headers: map[string]string{events.HeaderOrigin: events.OriginScheduler},
		Data:    []byte(`{}`),
	}
	for {
		acks, err := s.pub.Publish(ctx, m)
		switch {
		case err == nil && acks[0].Duplicate:
			// Debug: every interval, with nothing for an operator to do.
			log.Debug("sweep already published by another scheduler; dropped as a duplicate")
			return
		case err == nil:
			log.WithField("seq", acks[0].Sequence).Debug("sweep published")
			return
		}
		if ctx.Err() != nil {
			return
		}
		if s.now().Add(s.cfg.RetryDelay).After(deadline) {
			log.WithError(err).Error("sweep not published in its interval; the next one covers it")
			return
		}
		log.WithError(err).Warn("publishing sweep failed; retrying")
		select {
		case <-ctx.Done():
			return
		case <-time.After(s.cfg.RetryDelay):
		}
	}
}
