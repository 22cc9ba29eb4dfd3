package workers

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/sirupsen/logrus"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/handler"
	"github.com/roomkeeper/roomkeeper/internal/publish"
	"github.com/roomkeeper/roomkeeper/store"
)

// Ack modes of Config.AckMode.
const (
	AckDouble = "double"
	AckAsync  = "async"
)

// Config of a worker process.
type Config struct {
	// Concurrency is the number of messages handled at once by this process.
	Concurrency int
	// Streams are the streams whose "workers" consumer this worker pulls
	// from; default events.ConsumedStreams.
	Streams []string
	// RetryBase and RetryMax bound the growing nak delay of transient
	// failures: RetryBase doubled with every delivery, at most RetryMax.
	RetryBase time.Duration
	RetryMax  time.Duration
	// PublishTimeout bounds the wait for JetStream to store the result and
	// events of a command.
	PublishTimeout time.Duration
	// HandlerTimeout bounds one handler run.
	HandlerTimeout time.Duration
	// AckMode is how a done message is acknowledged: AckDouble (default)
	// waits for the server to confirm the ack; AckAsync sends it and moves
	// on. Both are exactly-once in effect: a lost ack means a redelivery,
	// which the ledger answers with the stored result and no second effect.
	// AckAsync saves a round trip per message.
	AckMode string

	// FetchWait bounds one fetch of messages (default 1s): an idle worker
	// asks again that often, and a stopping one waits at most that long for
	// its last fetch to end.
	FetchWait time.Duration

	// DuplicatesWindow is the streams' duplicates window (the topology's
	// Duplicates; default natsapi.DefaultTopology's). A finished command
	// whose outbox the ledger does not know as stored, delivered again
	// later than half of it since its completion, looks in ROOMS_EVENTS
	// for its events before publishing them again: past the window,
	// JetStream would store them twice.
	DuplicatesWindow time.Duration
	// Clock, when set, replaces time.Now as the time a message is taken
	// (tests of dates judged at "now").
	Clock func() time.Time
	// Fault, when set, is called after each step of a command ("claimed",
	// "applied", "completed", "published"); a non-nil error stops the
	// pipeline there as a crash of the process would, with neither ack nor
	// nak. For fault-injection tests; never set in production.
	Fault func(step, id string) error
}

// WithDefaults returns c with zero fields set to their defaults.
func (c Config) WithDefaults() Config {
	if c.Concurrency == 0 {
		c.Concurrency = 32
	}
	if len(c.Streams) == 0 {
		c.Streams = events.ConsumedStreams
	}
	if c.RetryBase == 0 {
		c.RetryBase = 250 * time.Millisecond
	}
	if c.RetryMax == 0 {
		c.RetryMax = 30 * time.Second
	}
	if c.PublishTimeout == 0 {
		c.PublishTimeout = 10 * time.Second
	}
	if c.HandlerTimeout == 0 {
		c.HandlerTimeout = 2 * time.Minute
	}
	if c.AckMode == "" {
		c.AckMode = AckDouble
	}
	if c.FetchWait == 0 {
		c.FetchWait = time.Second
	}
	if c.DuplicatesWindow == 0 {
		c.DuplicatesWindow = 10 * time.Minute
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	return c
}

// Validate reports a setting out of range.
func (c Config) Validate() error {
	switch {
	case c.Concurrency < 1 || c.Concurrency > 10000:
		return fmt.Errorf("%w: concurrency %d not in 1..10000", ErrConfig, c.Concurrency)
	case c.RetryBase <= 0 || c.RetryMax < c.RetryBase:
		return fmt.Errorf("%w: retry delays %s..%s", ErrConfig, c.RetryBase, c.RetryMax)
	case c.AckMode != AckDouble && c.AckMode != AckAsync:
		return fmt.Errorf("%w: ack mode %q (want %s or %s)", ErrConfig, c.AckMode, AckDouble, AckAsync)
	case c.FetchWait < 100*time.Millisecond || c.FetchWait > time.Minute:
		return fmt.Errorf("%w: fetch wait %s not in 100ms..1m", ErrConfig, c.FetchWait)
	case c.PublishTimeout <= 0 || c.HandlerTimeout <= 0:
		return fmt.Errorf("%w: timeouts must be positive", ErrConfig)
	}
	return nil
}

// Metrics receives what the worker does; nil means none.
type Metrics interface {
	// Handled counts a message by subject and outcome (ok, error, invalid,
	// retry, dead, duplicate, ignored) with the time it took.
	Handled(subject, outcome string, took time.Duration)
	// Redelivered counts a message delivered more than once.
	Redelivered(subject string)
	// DeadLettered counts a dead letter.
	DeadLettered(subject string)
}

// Worker pulls messages and applies them through the registry's handlers.
type Worker struct {
	cfg     Config
	js      jetstream.JetStream
	store   store.Store
	reg     *handler.Registry
	log     logrus.FieldLogger
	metrics Metrics
	now     func() time.Time
	fault   func(step, id string) error
	// outbox builds completions; pub publishes them.
	outbox outboxBuilder
	pub    publisher
}

// New returns a worker. metrics may be nil.
func New(cfg Config, js jetstream.JetStream, st store.Store, reg *handler.Registry, log logrus.FieldLogger, metrics Metrics) (*Worker, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = logrus.StandardLogger()
	}
	pub, err := publish.New(publish.Config{Timeout: cfg.PublishTimeout, SpanName: "outbox publish"}, js)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	w := &Worker{cfg: cfg, js: js, store: st, reg: reg, log: log, metrics: metrics, now: cfg.Clock, fault: cfg.Fault,
		pub: publisher{p: pub}}
	if nc := js.Conn(); nc != nil {
		w.outbox.maxPayload = int(nc.MaxPayload())
	}
	return w, nil
}

// Run consumes until ctx is done, then stops fetching, finishes the messages
// already taken (acking them) and returns.
//
// Messages come in bounded fetches, each of which ends on its own (full, or
// FetchWait passed), never by an unsubscribe: a pull request cut short by
// unsubscribing can leave messages the server counted as delivered on
// their way to nobody (seen: 17 of them after a clean SIGTERM), which then
// wait AckWait before another worker gets them. A stopping worker waits at
// most FetchWait for its last fetch and handles all it got.
func (w *Worker) Run(ctx context.Context) error {
	sem := make(chan struct{}, w.cfg.Concurrency)
	var inflight sync.WaitGroup
	// Every consumer first: a failure starts no loop, so none runs
	// unwatched after Run returned.
	consumers := make([]jetstream.Consumer, 0, len(w.cfg.Streams))
	for _, stream := range w.cfg.Streams {
		cons, err := w.js.Consumer(ctx, stream, events.ConsumerWorkers)
		if err != nil {
			return fmt.Errorf("consumer %s/%s: %w", stream, events.ConsumerWorkers, err)
		}
		consumers = append(consumers, cons)
	}
	var loops sync.WaitGroup
	for _, cons := range consumers {
		loops.Add(1)
		go func() {
			defer loops.Done()
			w.loop(ctx, cons, sem, &inflight)
		}()
	}
	loops.Wait()
	inflight.Wait()
	return nil
}

// loop fetches from one consumer until ctx is done. A fetch asks for as many
// messages as there are free handler slots (at least one, once one is
// free), so a process never holds more than it can start: the rest stay in
// the stream for the other workers.
func (w *Worker) loop(ctx context.Context, cons jetstream.Consumer, sem chan struct{}, inflight *sync.WaitGroup) {
	info := cons.CachedInfo().Config
	// Handlers outlive the shutdown signal: what was taken is finished.
	work := context.WithoutCancel(ctx)
	var backoff time.Duration
	for {
		select {
		case sem <- struct{}{}: // a slot held for the first message
		case <-ctx.Done():
			return
		}
		if ctx.Err() != nil {
			<-sem
			return
		}
		batch, err := cons.Fetch(1+cap(sem)-len(sem), jetstream.FetchMaxWait(w.cfg.FetchWait))
		if err != nil {
			<-sem
			backoff = w.fetchFailed(ctx, err, backoff)
			continue
		}
		held := true
		for msg := range batch.Messages() {
			if !held {
				sem <- struct{}{} // a message taken is handled, even when stopping
			}
			held = false
			inflight.Add(1)
			go func() {
				defer inflight.Done()
				defer func() { <-sem }()
				w.process(work, msg, info)
			}()
		}
		if held {
			<-sem
		}
		if err := batch.Error(); err != nil {
			backoff = w.fetchFailed(ctx, err, backoff)
			continue
		}
		backoff = 0
	}
}

// fetchFailed logs a failed fetch and waits before the next one, longer
// after each failure in a row (the consumer or the server may be away).
func (w *Worker) fetchFailed(ctx context.Context, err error, backoff time.Duration) time.Duration {
	backoff = min(max(2*backoff, 50*time.Millisecond), 2*time.Second)
	w.log.WithError(err).WithField("retry_in", backoff).Warn("fetching messages")
	select {
	case <-time.After(backoff):
	case <-ctx.Done():
	}
	return backoff
}
