package workers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/sirupsen/logrus"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/handler"
	"github.com/roomkeeper/roomkeeper/store"
)

// ReasonMaxDeliveries is the Roomkeeper-Dead-Reason of a message that
// JetStream stopped delivering without the pipeline settling it.
const ReasonMaxDeliveries = "max deliveries exceeded"

// DeadLetterQueue is the queue group of the MAX_DELIVERIES advisory
// listeners: one worker process handles each advisory.
const DeadLetterQueue = "roomkeeper-deadletters"

// MaxDeliveriesSubject is the subject of JetStream's MAX_DELIVERIES advisory
// for a consumer on a stream.
func MaxDeliveriesSubject(stream, consumer string) string {
	return "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES." + stream + "." + consumer
}

// maxDeliveriesAdvisory is the part of the server's
// io.nats.jetstream.advisory.v1.max_deliver advisory the listener uses.
type maxDeliveriesAdvisory struct {
	Type       string `json:"type"`
	Stream     string `json:"stream"`
	Consumer   string `json:"consumer"`
	StreamSeq  uint64 `json:"stream_seq"`
	Deliveries uint64 `json:"deliveries"`
}

// DeadLettersConfig configures a DeadLetters listener.
type DeadLettersConfig struct {
	// Conn subscribes to the advisories; JetStream reads, publishes and
	// deletes messages.
	Conn      *nats.Conn
	JetStream jetstream.JetStream
	// Store holds the command ledger: a command not done yet gets an
	// unavailable result.
	Store store.Store
	// Streams whose workers consumer is watched; default
	// events.ConsumedStreams.
	Streams []string
	// Timeout bounds the handling of one advisory (default 30s); store and
	// publish failures are retried within it.
	Timeout time.Duration
	Log     logrus.FieldLogger
	Metrics Metrics
	// Registry, when set, is the workers' registry: an advisory for a
	// LiveKit event that no handler acts on is then left alone. Without
	// it every message named is ended.
	Registry *handler.Registry
	// PublishTimeout bounds the wait for JetStream to store what an
	// advisory's message publishes (default 10s).
	PublishTimeout time.Duration
	// ScanInterval is how often the work-queue streams are scanned for
	// messages their consumer gave up on whose advisory was lost (no
	// listener was up, or it failed): default 1 min; negative: never.
	ScanInterval time.Duration
	// ScanBatch bounds the messages one scan reads per stream (default 256).
	ScanBatch int
	// ExhaustedAge is how old a delivered message must be to be taken as
	// given up by its consumer even while other messages are pending;
	// default: the consumer's MaxDeliver × (AckWait + 1 min) + 5 min, more
	// than any redelivery schedule of the worker's defaults.
	ExhaustedAge time.Duration
}

// WithDefaults returns c with zero fields set to their defaults.
func (c DeadLettersConfig) WithDefaults() DeadLettersConfig {
	if len(c.Streams) == 0 {
		c.Streams = events.ConsumedStreams
	}
	if c.Timeout == 0 {
		c.Timeout = 30 * time.Second
	}
	if c.Log == nil {
		c.Log = logrus.StandardLogger()
	}
	if c.PublishTimeout == 0 {
		c.PublishTimeout = 10 * time.Second
	}
	if c.ScanInterval == 0 {
		c.ScanInterval = time.Minute
	}
	if c.ScanBatch == 0 {
		c.ScanBatch = 256
	}
	return c
}

func (c DeadLettersConfig) validate() error {
	switch {
	case c.Conn == nil || c.JetStream == nil:
		return fmt.Errorf("%w: dead letters need a NATS connection and JetStream", ErrConfig)
	case c.Store == nil:
		return fmt.Errorf("%w: dead letters need the store", ErrConfig)
	case c.Timeout <= 0 || c.PublishTimeout <= 0:
		return fmt.Errorf("%w: dead letter timeouts must be positive", ErrConfig)
	}
	return nil
}

// DeadLetters ends the messages the pipeline never settled: when JetStream
// gives up on a message of the workers consumer (a worker process crashing
// on every delivery of it, say), it publishes a MAX_DELIVERIES advisory;
// the listener ends the message as the pipeline ends a last delivery, with
// the same policy (Worker.failed): a command that has no result yet gets an
// unavailable one and a dead letter with the reason and delivery count
// (through the ledger, so it stays the only result), and the message is
// deleted from its work-queue stream.
//
// Advisories are core NATS messages: one that arrives while no worker
// listens is lost. Scan, run every ScanInterval, finds the messages of the
// work queue given up without one and ends them the same way.
type DeadLetters struct {
	cfg DeadLettersConfig
	// w ends the messages with the pipeline's own policy.
	w  *Worker
	wg sync.WaitGroup
}

// NewDeadLetters returns a listener; Start subscribes it.
func NewDeadLetters(cfg DeadLettersConfig) (*DeadLetters, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	reg := cfg.Registry
	if reg == nil {
		reg = handler.NewRegistry()
	}
	w, err := New(Config{PublishTimeout: cfg.PublishTimeout}, cfg.JetStream, cfg.Store, reg, cfg.Log, cfg.Metrics)
	if err != nil {
		return nil, err
	}
	return &DeadLetters{cfg: cfg, w: w}, nil
}

// Start subscribes to the MAX_DELIVERIES advisories of the workers consumer
// of every stream, in the DeadLetterQueue group, until ctx ends; then it
// unsubscribes and lets the advisories being handled finish.
func (d *DeadLetters) Start(ctx context.Context) error {
	var subs []*nats.Subscription
	for _, stream := range d.cfg.Streams {
		sub, err := d.cfg.Conn.QueueSubscribe(MaxDeliveriesSubject(stream, events.ConsumerWorkers), DeadLetterQueue, func(m *nats.Msg) {
			d.wg.Add(1)
			defer d.wg.Done()
			d.onAdvisory(stream, m.Data)
		})
		if err != nil {
			for _, s := range subs {
				_ = s.Unsubscribe()
			}
			return fmt.Errorf("subscribe to max deliveries advisories of %s: %w", stream, err)
		}
		subs = append(subs, sub)
	}
	if err := d.cfg.Conn.FlushTimeout(d.cfg.Timeout); err != nil {
		return fmt.Errorf("subscribe to max deliveries advisories: %w", err)
	}
	context.AfterFunc(ctx, func() {
		for _, s := range subs {
			_ = s.Unsubscribe()
		}
	})
	if d.cfg.ScanInterval > 0 {
		d.wg.Go(func() { d.scanEvery(ctx) })
	}
	return nil
}

// scanEvery scans until ctx ends.
func (d *DeadLetters) scanEvery(ctx context.Context) {
	t := time.NewTicker(d.cfg.ScanInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, stream := range d.cfg.Streams {
			sctx, cancel := context.WithTimeout(ctx, d.cfg.Timeout)
			n, err := d.Scan(sctx, stream)
			cancel()
			if err != nil {
				d.cfg.Log.WithError(err).WithField("stream", stream).Warn("scan for messages given up failed")
			} else if n > 0 {
				d.cfg.Log.WithFields(logrus.Fields{"stream": stream, "settled": n}).Warn("settled messages given up without an advisory")
			}
		}
	}
}

// Scan settles the messages of a work-queue stream that its workers
// consumer gave up on but nobody settled (their advisory was lost): in a
// work queue an acked or termed message is gone, so a message still there,
// delivered, and older than any delivery of it could be (givenUp), was
// given up. It reads at most ScanBatch messages from the start of the
// stream and returns how many it settled; a stream of another retention is
// not scanned.
func (d *DeadLetters) Scan(ctx context.Context, stream string) (int, error) {
	str, err := d.cfg.JetStream.Stream(ctx, stream)
	if err != nil {
		return 0, fmt.Errorf("stream %s: %w", stream, err)
	}
	if str.CachedInfo().Config.Retention != jetstream.WorkQueuePolicy {
		return 0, nil
	}
	cons, err := str.Consumer(ctx, events.ConsumerWorkers)
	if err != nil {
		return 0, fmt.Errorf("consumer %s/%s: %w", stream, events.ConsumerWorkers, err)
	}
	info, err := cons.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("consumer %s/%s: %w", stream, events.ConsumerWorkers, err)
	}
	now := time.Now()
	settled := 0
	var seq uint64
	for range d.cfg.ScanBatch {
		raw, err := str.GetMsg(ctx, seq+1, jetstream.WithGetMsgSubject(">"))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			break
		}
		if err != nil {
			return settled, fmt.Errorf("next message after %d: %w", seq, err)
		}
		seq = raw.Sequence
		if raw.Sequence > info.Delivered.Stream {
			break // not delivered yet: neither is anything after it
		}
		if now.Sub(raw.Time) <= d.exhaustedAge(info.Config) {
			break // younger: so is everything after it
		}
		log := d.cfg.Log.WithFields(logrus.Fields{"stream": stream, "stream_seq": raw.Sequence})
		if err := d.settle(ctx, str, raw, uint64(max(info.Config.MaxDeliver, 1)), log); err != nil {
			return settled, err
		}
		settled++
	}
	return settled, nil
}

// Wait returns once the advisories being handled are done.
func (d *DeadLetters) Wait() { d.wg.Wait() }

func (d *DeadLetters) onAdvisory(stream string, data []byte) {
	var adv maxDeliveriesAdvisory
	if err := json.Unmarshal(data, &adv); err != nil || adv.Stream == "" || adv.StreamSeq == 0 {
		d.cfg.Log.WithField("advisory", string(data)).Warn("malformed max deliveries advisory")
		return
	}
	log := d.cfg.Log.WithFields(logrus.Fields{"stream": adv.Stream, "stream_seq": adv.StreamSeq, "deliveries": adv.Deliveries})
	ctx, cancel := context.WithTimeout(context.Background(), d.cfg.Timeout)
	defer cancel()
	// Retry transient failures (store or JetStream away) within the timeout:
	// the advisory is not sent again.
	wait := 100 * time.Millisecond
	for {
		err := d.handle(ctx, stream, adv, log)
		if err == nil {
			return
		}
		if ctx.Err() != nil {
			log.WithError(err).Error("max deliveries advisory not handled; the message stays in its stream")
			return
		}
		log.WithError(err).Warn("max deliveries advisory not handled yet; retrying")
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
		wait = min(2*wait, 5*time.Second)
	}
}

// handle ends the message of one advisory the way the pipeline ends a
// last delivery, once the advisory is shown true: it must name the workers
// consumer of the stream it came for (forged is the advisory that does
// not), the message must still be there, and the consumer must show that
// it gave up on it (givenUp). Then, through the
// ledger: a command not finished gets its give-up result and dead letter;
// a finished one's outbox is published if it was not; an ID with a
// reserved prefix, or one held by another type, is answered as the
// pipeline answers it. A message of a work-queue stream is deleted so it
// leaves the queue; a webhook stream keeps its history.
func (d *DeadLetters) handle(ctx context.Context, stream string, adv maxDeliveriesAdvisory, log logrus.FieldLogger) error {
	if adv.Stream != stream || adv.Consumer != events.ConsumerWorkers {
		log.WithField("consumer", adv.Consumer).Warn("max deliveries advisory for a consumer that is not roomkeeper's; ignored")
		return nil
	}
	str, err := d.cfg.JetStream.Stream(ctx, stream)
	if err != nil {
		return fmt.Errorf("stream %s: %w", stream, err)
	}
	cons, err := str.Consumer(ctx, events.ConsumerWorkers)
	if err != nil {
		return fmt.Errorf("consumer %s/%s: %w", stream, events.ConsumerWorkers, err)
	}
	info, err := cons.Info(ctx)
	if err != nil {
		return fmt.Errorf("consumer %s/%s: %w", stream, events.ConsumerWorkers, err)
	}
	raw, err := str.GetMsg(ctx, adv.StreamSeq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		log.Debug("max deliveries: message already gone")
		return nil
	}
	if err != nil {
		return fmt.Errorf("get message %d: %w", adv.StreamSeq, err)
	}
	if err := givenUp(info, raw, time.Now(), d.exhaustedAge(info.Config)); err != nil {
		return err
	}
	return d.settle(ctx, str, raw, max(adv.Deliveries, 1), log)
}

// givenUp checks that the consumer gave up on message raw: it was
// delivered, and it is not being worked on — nothing is pending, or the
// ack floor passed it, or it is older than every delivery the consumer
// could still make of it (MaxDeliver times AckWait plus the longest nak
// delay, plus a handler's time: exhausted).
func givenUp(info *jetstream.ConsumerInfo, raw *jetstream.RawStreamMsg, now time.Time, exhausted time.Duration) error {
	switch {
	case raw.Sequence > info.Delivered.Stream:
		return fmt.Errorf("%w: message %d never delivered", errNotGivenUp, raw.Sequence)
	case info.NumAckPending == 0, info.AckFloor.Stream >= raw.Sequence:
		return nil
	case now.Sub(raw.Time) > exhausted:
		return nil
	}
	return fmt.Errorf("%w: message %d may still be in progress (%d pending)", errNotGivenUp, raw.Sequence, info.NumAckPending)
}

// exhaustedAge is how old a message of a consumer with config cc is at
// most while the consumer may still deliver it (DeadLettersConfig).
func (d *DeadLetters) exhaustedAge(cc jetstream.ConsumerConfig) time.Duration {
	if d.cfg.ExhaustedAge > 0 {
		return d.cfg.ExhaustedAge
	}
	return time.Duration(max(cc.MaxDeliver, 1))*(cc.AckWait+maxNakDelay) + maxHandlerTime
}

// Bounds of a delivery that exhaustedAge assumes: the longest nak delay
// and the longest a handler runs (the worker defaults, with margin).
const (
	maxNakDelay    = time.Minute
	maxHandlerTime = 5 * time.Minute
)

// settle ends message raw of stream str, which its consumer gave up on
// after deliveries, the way the pipeline ends a last delivery.
func (d *DeadLetters) settle(ctx context.Context, str jetstream.Stream, raw *jetstream.RawStreamMsg, deliveries uint64, log logrus.FieldLogger) error {
	stream := str.CachedInfo().Config.Name
	dl := &delivery{
		msg:     storedMsg{raw: raw},
		subject: raw.Subject,
		meta: &jetstream.MsgMetadata{
			NumDelivered: deliveries,
			Sequence:     jetstream.SequencePair{Stream: raw.Sequence},
			Timestamp:    raw.Time,
			Stream:       stream,
			Consumer:     events.ConsumerWorkers,
		},
		started: time.Now(),
		last:    true,
	}
	dl.now = dl.started
	if ignored := d.w.identify(dl); ignored && d.cfg.Registry != nil {
		log.Debug("max deliveries: a LiveKit event no handler acts on")
		return nil
	}
	dl.log = log.WithFields(logrus.Fields{"command_id": dl.id, "subject": raw.Subject})
	var v verdict
	if dl.reserved {
		v = d.w.rejectReserved(ctx, dl)
	} else {
		v = d.w.failed(ctx, dl, errMaxDeliveries)
	}
	if v.act == actNak || v.act == actNone {
		return fmt.Errorf("%w: %s", errNotSettled, v.outcome)
	}
	if str.CachedInfo().Config.Retention == jetstream.WorkQueuePolicy {
		if err := str.DeleteMsg(ctx, raw.Sequence); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
			return fmt.Errorf("delete message %d: %w", raw.Sequence, err)
		}
	}
	dl.log.WithField("outcome", v.outcome).Warn("settled after max deliveries")
	return nil
}

// storedMsg is a message read from its stream, as the pipeline's ending
// reads a delivery (subject, headers, body); it is never acked.
type storedMsg struct {
	jetstream.Msg
	raw *jetstream.RawStreamMsg
}

func (m storedMsg) Subject() string      { return m.raw.Subject }
func (m storedMsg) Data() []byte         { return m.raw.Data }
func (m storedMsg) Headers() nats.Header { return m.raw.Header }
