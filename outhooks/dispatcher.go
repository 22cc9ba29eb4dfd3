package outhooks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/sirupsen/logrus"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/internal/publish"
)

// inactiveThreshold removes the consumer of a URL no longer configured
// once no dispatcher has pulled from it for as long as ROOMS_EVENTS keeps
// its events.
const inactiveThreshold = 7 * 24 * time.Hour

// maxReason bounds the reason of a dead letter.
const maxReason = 512

// Dispatcher delivers the domain events of ROOMS_EVENTS to the targets.
type Dispatcher struct {
	cfg Config
	js  jetstream.JetStream
	pub *publish.Publisher
	wg  sync.WaitGroup
}

// New returns a dispatcher; Start creates its consumers and runs it.
func New(cfg Config, js jetstream.JetStream) (*Dispatcher, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if js == nil {
		return nil, fmt.Errorf("%w: no JetStream", ErrConfig)
	}
	pub, err := publish.New(publish.Config{Timeout: cfg.PublishTimeout, ExpectStream: events.StreamDead}, js)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	return &Dispatcher{cfg: cfg, js: js, pub: pub}, nil
}

// ConsumerConfig is the durable consumer of target t on ROOMS_EVENTS: new
// events only from its creation on (a URL added later does not get the
// history), no delivery limit (the dispatcher counts the tries, so a
// crash on the last one still ends in a dead letter), removed after
// inactiveThreshold without a dispatcher.
func (c Config) ConsumerConfig(t Target) jetstream.ConsumerConfig {
	c = c.WithDefaults()
	return jetstream.ConsumerConfig{
		Durable:           t.Consumer(),
		Description:       "roomkeeper outgoing webhooks to " + t.Redacted(),
		DeliverPolicy:     jetstream.DeliverNewPolicy,
		AckPolicy:         jetstream.AckExplicitPolicy,
		AckWait:           c.AckWait,
		MaxDeliver:        -1,
		MaxAckPending:     max(1000, 4*c.Concurrency),
		FilterSubjects:    t.Subjects(),
		InactiveThreshold: inactiveThreshold,
	}
}

// Start creates (or updates) the consumer of every target and delivers
// until ctx ends; Wait then returns once the deliveries in progress are
// settled.
func (d *Dispatcher) Start(ctx context.Context) error {
	var conss []jetstream.Consumer
	for _, t := range d.cfg.Targets {
		cons, err := d.consumer(ctx, t)
		if err != nil {
			return err
		}
		conss = append(conss, cons)
	}
	for i, t := range d.cfg.Targets {
		d.wg.Go(func() { d.run(ctx, t, conss[i]) })
		d.cfg.Log.WithFields(logrus.Fields{"url": t.Redacted(), "consumer": t.Consumer(), "events": t.Events}).Info("outgoing webhooks on")
	}
	return nil
}

// consumer creates or updates target t's consumer.
func (d *Dispatcher) consumer(ctx context.Context, t Target) (jetstream.Consumer, error) {
	cons, err := d.js.CreateOrUpdateConsumer(ctx, events.StreamEvents, d.cfg.ConsumerConfig(t))
	if err != nil {
		return nil, fmt.Errorf("consumer %s for %s: %w", t.Consumer(), t.Redacted(), err)
	}
	return cons, nil
}

// Wait returns once every target's loop and delivery has ended.
func (d *Dispatcher) Wait() { d.wg.Wait() }

// resumeDelay is the pause before a target's consumer is pulled from, or
// made, again after a failure.
const resumeDelay = time.Second

// run delivers target t's messages from cons until ctx ends; should the
// consumer go (deleted by hand, or the stream recreated), it makes it
// again and goes on.
func (d *Dispatcher) run(ctx context.Context, t Target, cons jetstream.Consumer) {
	log := d.cfg.Log.WithFields(logrus.Fields{"url": t.Redacted(), "consumer": t.Consumer()})
	for {
		if cons != nil {
			err := d.consume(ctx, t, cons)
			if ctx.Err() != nil {
				return
			}
			log.WithError(err).Warn("outgoing webhooks: consumer lost; making it again")
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(resumeDelay):
		}
		var err error
		if cons, err = d.consumer(ctx, t); err != nil {
			log.WithError(err).Warn("outgoing webhooks: consumer not made; retrying")
		}
	}
}

// consume delivers cons's messages, Concurrency at once, until ctx ends
// or the consumer is gone; it returns once its deliveries are settled.
func (d *Dispatcher) consume(ctx context.Context, t Target, cons jetstream.Consumer) error {
	it, err := cons.Messages(jetstream.PullMaxMessages(d.cfg.Concurrency))
	if err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, it.Stop)
	defer stop()
	defer it.Stop()
	// A deleted consumer does not always end the pull (no pull request
	// pending when it went): check that it is still there.
	var gone atomic.Bool
	done := make(chan struct{})
	defer close(done)
	go func() {
		tick := time.NewTicker(d.cfg.ConsumerCheck)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			cctx, cancel := context.WithTimeout(ctx, d.cfg.ConsumerCheck)
			_, err := cons.Info(cctx)
			cancel()
			if errors.Is(err, jetstream.ErrConsumerNotFound) {
				gone.Store(true)
				it.Stop()
				return
			}
		}
	}()
	sem := make(chan struct{}, d.cfg.Concurrency)
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		msg, err := it.Next()
		switch {
		case ctx.Err() != nil:
			if msg != nil {
				_ = msg.Nak()
			}
			return ctx.Err()
		case errors.Is(err, jetstream.ErrMsgIteratorClosed), errors.Is(err, jetstream.ErrConsumerDeleted),
			errors.Is(err, jetstream.ErrConsumerNotFound):
			if gone.Load() {
				return fmt.Errorf("%w: %w", jetstream.ErrConsumerNotFound, err)
			}
			return err
		case err != nil:
			d.cfg.Log.WithError(err).WithField("url", t.Redacted()).Debug("outgoing webhooks: pull failed; pulling again")
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
			continue
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			d.deliver(ctx, t, msg)
		})
	}
}

// result is what one POST came to.
type result struct {
	outcome string
	reason  string
}

// deliver POSTs one event to t and settles it by the outcome policy.
func (d *Dispatcher) deliver(ctx context.Context, t Target, msg jetstream.Msg) {
	meta, err := msg.Metadata()
	if err != nil {
		_ = msg.Term()
		return
	}
	log := d.cfg.Log.WithFields(logrus.Fields{"url": t.Redacted(), "subject": msg.Subject(), "stream_seq": meta.Sequence.Stream, "delivery": meta.NumDelivered})
	var ev events.Event
	p, err := func() (Payload, error) {
		if err := json.Unmarshal(msg.Data(), &ev); err != nil {
			return Payload{}, fmt.Errorf("%w: %w", errMalformed, err)
		}
		return PayloadOf(ev)
	}()
	if err != nil {
		log.WithError(err).Error("outgoing webhook: event makes no webhook; dead letter")
		d.observe(webhookEvent(events.EventType(msg.Subject())), OutcomeMalformed, 0)
		d.giveUp(ctx, t, msg, meta, ev.ID, err.Error(), log)
		return
	}
	log = log.WithFields(logrus.Fields{"event": p.Event, "event_id": ev.ID})
	// The delivery may have waited in the pull buffer: a fresh AckWait for
	// the POST.
	_ = msg.InProgress()
	start := time.Now()
	r := d.post(ctx, t, ev.ID, p)
	took := time.Since(start)
	last := meta.NumDelivered >= uint64(d.cfg.Tries)
	if r.outcome == OutcomeRetry && last {
		r.outcome, r.reason = OutcomeExhausted, fmt.Sprintf("given up after %d tries: %s", meta.NumDelivered, r.reason)
	}
	if ctx.Err() != nil && r.outcome != OutcomeDelivered {
		r.outcome = OutcomeInterrupted
	}
	d.observe(p.Event, r.outcome, took)
	switch r.outcome {
	case OutcomeDelivered:
		if err := msg.Ack(); err != nil {
			log.WithError(err).Warn("outgoing webhook delivered, ack lost: it will be delivered again (same X-Event-Id)")
			return
		}
		log.WithField("took", took).Debug("outgoing webhook delivered")
	case OutcomeInterrupted:
		// Stopping: the next dispatcher delivers it at once.
		_ = msg.Nak()
	case OutcomeRetry:
		delay := d.cfg.Delay(meta.NumDelivered)
		log.WithField("retry_in", delay).WithField("reason", r.reason).Warn("outgoing webhook failed; retrying")
		_ = msg.NakWithDelay(delay)
	default:
		log.WithField("reason", r.reason).Error("outgoing webhook given up; dead letter")
		d.giveUp(ctx, t, msg, meta, ev.ID, r.reason, log)
	}
}

// post sends p to t once.
func (d *Dispatcher) post(ctx context.Context, t Target, eventID string, p Payload) result {
	body, err := p.Body()
	if err != nil {
		return result{OutcomeMalformed, err.Error()}
	}
	secret := d.secret()
	if secret == "" {
		// The keys file was emptied: an unsigned webhook would be refused
		// (or, worse, trusted); wait for a key.
		return result{OutcomeRetry, "no signing secret: the API keys file holds no key"}
	}
	ctx, cancel := context.WithTimeout(ctx, d.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.URL, bytes.NewReader(body))
	if err != nil {
		return result{OutcomeRejected, t.redact(err.Error())}
	}
	ts := time.Now().UnixMilli()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
	req.Header.Set(HeaderSignature, Sign(secret, ts, body))
	req.Header.Set(HeaderEventID, eventID)
	resp, err := d.cfg.Client.Do(req)
	if err != nil {
		return result{OutcomeRetry, t.redact(err.Error())}
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	return classify(resp.StatusCode)
}

// secret is the key of this try's signature.
func (d *Dispatcher) secret() string {
	if d.cfg.SecretFunc != nil {
		return d.cfg.SecretFunc()
	}
	return d.cfg.Secret
}

// classify is the outcome of an HTTP status: 2xx delivered; 408, 429 and
// 5xx retried; anything else rejected.
func classify(status int) result {
	reason := "HTTP " + strconv.Itoa(status) + " " + http.StatusText(status)
	switch {
	case status >= 200 && status < 300:
		return result{OutcomeDelivered, ""}
	case status == http.StatusRequestTimeout, status == http.StatusTooManyRequests, status >= 500:
		return result{OutcomeRetry, reason}
	default:
		return result{OutcomeRejected, reason}
	}
}

// giveUp publishes the dead letter of msg for t and terms msg; should the
// dead letter not be stored, msg is nakked to try again later.
func (d *Dispatcher) giveUp(ctx context.Context, t Target, msg jetstream.Msg, meta *jetstream.MsgMetadata, eventID, reason string, log logrus.FieldLogger) {
	if len(reason) > maxReason {
		reason = reason[:maxReason]
	}
	eventType := events.EventType(msg.Subject())
	dl := publish.Msg{
		Subject: events.OutgoingDeadSubject(eventType),
		// One dead letter per event and target, however often this runs.
		MsgID: deadMsgID(t, eventID, meta.Sequence.Stream),
		Data:  msg.Data(),
		Headers: map[string]string{
			events.HeaderDeadReason:         reason,
			events.HeaderDeadSubject:        msg.Subject(),
			events.HeaderDeadCommandID:      eventID,
			events.HeaderDeadDeliveries:     strconv.FormatUint(meta.NumDelivered, 10),
			events.HeaderDeadStreamSequence: strconv.FormatUint(meta.Sequence.Stream, 10),
			events.HeaderDeadTargetURL:      t.Redacted(),
		},
	}
	pctx := context.WithoutCancel(ctx)
	if _, err := d.pub.Publish(pctx, dl); err != nil {
		delay := d.cfg.Delay(meta.NumDelivered)
		log.WithError(err).WithField("retry_in", delay).Error("outgoing webhook dead letter not stored; trying again later")
		_ = msg.NakWithDelay(delay)
		return
	}
	_ = msg.Term()
}

// deadMsgID is the Nats-Msg-Id of the dead letter of an event for t: by
// the event's ID, else (a malformed event) by its stream sequence.
func deadMsgID(t Target, eventID string, seq uint64) string {
	if eventID == "" {
		return "dead:" + t.Consumer() + ":seq:" + strconv.FormatUint(seq, 10)
	}
	return "dead:" + t.Consumer() + ":" + eventID
}

func (d *Dispatcher) observe(event, outcome string, took time.Duration) {
	if d.cfg.Metrics != nil {
		d.cfg.Metrics.Delivered(event, outcome, took)
	}
}
