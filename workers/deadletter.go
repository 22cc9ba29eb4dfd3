package workers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/sirupsen/logrus"

	"github.com/roomkeeper/roomkeeper/events"
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
	return c
}

func (c DeadLettersConfig) validate() error {
	switch {
	case c.Conn == nil || c.JetStream == nil:
		return fmt.Errorf("%w: dead letters need a NATS connection and JetStream", ErrConfig)
	case c.Store == nil:
		return fmt.Errorf("%w: dead letters need the store", ErrConfig)
	case c.Timeout <= 0:
		return fmt.Errorf("%w: dead letter timeout must be positive", ErrConfig)
	}
	return nil
}

// DeadLetters dead-letters the messages the pipeline never settled: when
// JetStream gives up on a message of the workers consumer (a worker process
// crashing on every delivery of it, say), it publishes a MAX_DELIVERIES
// advisory; the listener copies the message to rooms.dead.<type> with the
// reason and delivery count, gives a command that has no result yet an
// unavailable one (through the ledger, so it stays the only result), and
// deletes the message from its stream so it leaves the work queue.
//
// Advisories are core NATS messages: one that arrives while no worker
// listens is lost, and its message stays in the stream (undelivered).
type DeadLetters struct {
	cfg DeadLettersConfig
	wg  sync.WaitGroup
}

// NewDeadLetters returns a listener; Start subscribes it.
func NewDeadLetters(cfg DeadLettersConfig) (*DeadLetters, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &DeadLetters{cfg: cfg}, nil
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
			d.onAdvisory(m.Data)
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
	return nil
}

// Wait returns once the advisories being handled are done.
func (d *DeadLetters) Wait() { d.wg.Wait() }

func (d *DeadLetters) onAdvisory(data []byte) {
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
		err := d.handle(ctx, adv, log)
		if err == nil {
			return
		}
		if ctx.Err() != nil {
			log.WithError(err).Error("max deliveries advisory not handled; the message stays in its stream")
			return
		}
		log.WithError(err).Warn("dead-lettering after max deliveries failed; retrying")
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
		wait = min(2*wait, 5*time.Second)
	}
}

// handle dead-letters the message of one advisory.
func (d *DeadLetters) handle(ctx context.Context, adv maxDeliveriesAdvisory, log logrus.FieldLogger) error {
	stream, err := d.cfg.JetStream.Stream(ctx, adv.Stream)
	if err != nil {
		return fmt.Errorf("stream %s: %w", adv.Stream, err)
	}
	raw, err := stream.GetMsg(ctx, adv.StreamSeq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		// Settled (or deleted) after all: nothing left to dead-letter.
		log.Debug("max deliveries: message already gone")
		return nil
	}
	if err != nil {
		return fmt.Errorf("get message %d: %w", adv.StreamSeq, err)
	}
	id := messageID(raw.Header, raw.Sequence)
	if strings.HasPrefix(raw.Subject, events.WebhookPrefix) {
		id = "lk:" + id
	}
	log = log.WithFields(logrus.Fields{"command_id": id, "subject": raw.Subject})
	dead := store.OutMsg{
		Subject: events.DeadSubject(raw.Subject),
		MsgID:   "dead:" + id,
		Headers: map[string]string{
			events.HeaderDeadReason:         ReasonMaxDeliveries,
			events.HeaderDeadSubject:        raw.Subject,
			events.HeaderDeadCommandID:      id,
			events.HeaderDeadDeliveries:     strconv.FormatUint(adv.Deliveries, 10),
			events.HeaderDeadStreamSequence: strconv.FormatUint(raw.Sequence, 10),
		},
		Data: raw.Data,
	}
	out := []store.OutMsg{dead}
	if strings.HasPrefix(raw.Subject, events.CommandPrefix) {
		// The only result of the command comes from the ledger: complete
		// the record unless a delivery already did, and publish what it
		// holds.
		rec, err := d.complete(ctx, id, raw.Subject, adv.Deliveries, dead)
		if err != nil {
			return err
		}
		out = withDeadLetter(rec.Outbox, dead)
	}
	if err := publishAll(ctx, d.cfg.JetStream, out); err != nil {
		return err
	}
	if err := stream.DeleteMsg(ctx, raw.Sequence); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
		return fmt.Errorf("delete message %d: %w", raw.Sequence, err)
	}
	if d.cfg.Metrics != nil {
		d.cfg.Metrics.DeadLettered(raw.Subject)
	}
	log.Warn("dead-lettered after max deliveries")
	return nil
}

// complete claims and completes command id with an unavailable result and
// the dead letter, or returns the record some delivery already completed.
func (d *DeadLetters) complete(ctx context.Context, id, subject string, deliveries uint64, dead store.OutMsg) (*store.Command, error) {
	now := time.Now()
	rec, err := d.cfg.Store.ClaimCommand(ctx, &store.Command{ID: id, Type: subject, Status: store.StatusPending, CreatedAt: now, UpdatedAt: now})
	if err != nil && !errors.Is(err, store.ErrDuplicate) {
		return nil, fmt.Errorf("claim: %w", err)
	}
	if rec.Status == store.StatusDone {
		return rec, nil
	}
	res := events.Result{
		CommandID: id, Type: subject,
		Error: events.Errorf(events.CodeUnavailable, "gave up after %d deliveries", deliveries),
	}
	resJSON, err := json.Marshal(res)
	if err != nil {
		return nil, err
	}
	outbox := []store.OutMsg{
		{Subject: events.ResultSubject(id), MsgID: events.ResultMsgID(id), Data: resJSON},
		dead,
	}
	rec, err = d.cfg.Store.CompleteCommand(ctx, id, store.Completion{Status: store.StatusDead, Result: resJSON, Outbox: outbox})
	if err != nil {
		return nil, fmt.Errorf("complete: %w", err)
	}
	return rec, nil
}

// withDeadLetter returns outbox with dead in place of any dead letter it
// holds (the message IDs are the same), or appended.
func withDeadLetter(outbox []store.OutMsg, dead store.OutMsg) []store.OutMsg {
	out := make([]store.OutMsg, 0, len(outbox)+1)
	for _, m := range outbox {
		if !strings.HasPrefix(m.Subject, events.DeadPrefix) {
			out = append(out, m)
		}
	}
	return append(out, dead)
}

// messageID is the command ID of a stored message: its Nats-Msg-Id when
// well formed, else seq-<stream sequence> (as the pipeline names it).
func messageID(h nats.Header, seq uint64) string {
	if id := h.Get(nats.MsgIdHdr); id != "" && events.ValidCommandID(id) {
		return id
	}
	return "seq-" + strconv.FormatUint(seq, 10)
}

// publishAll publishes msgs with their message IDs and waits until
// JetStream stored all.
func publishAll(ctx context.Context, js jetstream.JetStream, msgs []store.OutMsg) error {
	for _, m := range msgs {
		nm := nats.NewMsg(m.Subject)
		nm.Data = m.Data
		for k, v := range m.Headers {
			nm.Header.Set(k, v)
		}
		if _, err := js.PublishMsg(ctx, nm, jetstream.WithMsgID(m.MsgID)); err != nil {
			return fmt.Errorf("publish %s: %w", m.Subject, err)
		}
	}
	return nil
}
