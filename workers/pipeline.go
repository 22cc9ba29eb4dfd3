package workers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"
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

// action is what the pipeline does with a message in the end.
type action int

const (
	actAck  action = iota // done: double-ack
	actTerm               // given up: term (a dead letter was published)
	actNak                // retry later: nak with delay
	actNone               // crash simulated: neither
)

// Outcome labels for metrics and logs.
const (
	outcomeOK        = "ok"
	outcomeError     = "error"
	outcomeInvalid   = "invalid"
	outcomeRetry     = "retry"
	outcomeDead      = "dead"
	outcomeDuplicate = "duplicate"
	outcomeIgnored   = "ignored"
)

// delivery is one message being processed.
type delivery struct {
	msg     jetstream.Msg
	meta    *jetstream.MsgMetadata
	subject string
	id      string
	route   *route
	log     logrus.FieldLogger
	started time.Time
	last    bool // the consumer's last delivery of this message
}

func (w *Worker) process(ctx context.Context, msg jetstream.Msg, cc jetstream.ConsumerConfig) {
	d := &delivery{msg: msg, subject: msg.Subject(), started: w.now()}
	meta, err := msg.Metadata()
	if err != nil {
		w.log.WithError(err).WithField("subject", d.subject).Error("message without metadata")
		_ = msg.Term()
		return
	}
	d.meta = meta
	d.last = cc.MaxDeliver > 0 && meta.NumDelivered >= uint64(cc.MaxDeliver)
	if meta.NumDelivered > 1 && w.metrics != nil {
		w.metrics.Redelivered(d.subject)
	}

	// Keep the message ours while a long handler runs.
	stopBeat := w.heartbeat(msg, cc.AckWait)
	defer stopBeat()

	act, delay, outcome := w.run(ctx, d)
	if d.log == nil {
		d.log = w.log.WithField("subject", d.subject)
	}
	switch act {
	case actAck:
		ack := func() error { return msg.DoubleAck(ctx) }
		if w.cfg.AckMode == AckAsync {
			ack = msg.Ack
		}
		if err := ack(); err != nil {
			d.log.WithError(err).Warn("ack failed; the message will be redelivered and answered from the ledger")
		}
	case actTerm:
		if err := msg.Term(); err != nil {
			d.log.WithError(err).Warn("term failed")
		}
	case actNak:
		if err := msg.NakWithDelay(delay); err != nil {
			d.log.WithError(err).Warn("nak failed")
		}
	case actNone:
	}
	took := w.now().Sub(d.started)
	if w.metrics != nil {
		w.metrics.Handled(d.subject, outcome, took)
	}
	d.log.WithFields(logrus.Fields{"outcome": outcome, "took_ms": took.Milliseconds(), "delivery": meta.NumDelivered}).Debug("handled")
}

// heartbeat tells JetStream every third of AckWait that the message is
// still being worked on, so a long handler keeps it; a timer, not a
// goroutine, so the common short message costs nothing.
func (w *Worker) heartbeat(msg jetstream.Msg, ackWait time.Duration) func() {
	if ackWait <= 0 {
		ackWait = 30 * time.Second
	}
	var mu sync.Mutex
	stopped := false
	var t *time.Timer
	mu.Lock() // t is set before the first tick can use it
	defer mu.Unlock()
	t = time.AfterFunc(ackWait/3, func() {
		_ = msg.InProgress()
		mu.Lock()
		defer mu.Unlock()
		if !stopped {
			t.Reset(ackWait / 3)
		}
	})
	return func() {
		mu.Lock()
		defer mu.Unlock()
		stopped = true
		t.Stop()
	}
}

// run takes the message through the outcome policy and says what to do with
// it.
func (w *Worker) run(ctx context.Context, d *delivery) (action, time.Duration, string) {
	isWebhook := strings.HasPrefix(d.subject, events.WebhookPrefix)
	id, idOK := commandID(d.msg, d.meta)
	if isWebhook {
		id = "lk:" + id
	}
	d.id = id
	d.log = w.log.WithFields(logrus.Fields{"command_id": id, "subject": d.subject})
	d.route = w.reg.lookup(d.subject)

	var reject *events.Error
	switch {
	case d.route == nil && isWebhook:
		// A LiveKit event this system does not act on.
		return actAck, 0, outcomeIgnored
	case d.route == nil:
		reject = events.Invalid(fmt.Sprintf("unknown command type %q", events.CommandType(d.subject)),
			events.FieldError{Field: "subject", Message: "no such command"})
	case !idOK:
		reject = events.Invalid("malformed command ID: 1 to 128 letters, digits, '-', '_' or ':' expected",
			events.FieldError{Field: "Nats-Msg-Id", Message: "malformed"})
	}

	now := d.started
	var msgVal any
	var plan json.RawMessage
	if reject == nil {
		v, err := d.route.decode(d.subject, d.msg.Data(), now)
		if err != nil {
			if reject = asInvalid(err); reject == nil {
				return w.retry(d, err)
			}
		}
		msgVal = v
	}
	if reject == nil && d.route.plan != nil {
		p, err := d.route.plan(ctx, msgVal, now)
		if err != nil {
			if reject = asInvalid(err); reject == nil {
				return w.retry(d, err)
			}
		}
		plan = p
	}

	rec, err := w.store.ClaimCommand(ctx, &store.Command{
		ID: id, Type: d.subject, Status: store.StatusPending, Plan: plan, CreatedAt: now, UpdatedAt: now,
	})
	switch {
	case errors.Is(err, store.ErrDuplicate):
	case err != nil:
		return w.retry(d, fmt.Errorf("claim: %w", err))
	}
	if err := w.step("claimed", id); err != nil {
		return actNone, 0, outcomeRetry
	}
	if rec.Status == store.StatusDone {
		// Done before: publish again what it published (the message IDs
		// drop copies) and ack. Past the duplicates window the copies would
		// not be dropped, so then only the result goes out again.
		if err := w.publish(ctx, w.republishable(rec, now)); err != nil {
			return w.retry(d, fmt.Errorf("republish: %w", err))
		}
		d.log.Info("already done; stored result republished")
		return w.settle(d, rec, outcomeDuplicate)
	}
	if reject != nil {
		return w.finish(ctx, d, rec, nil, reject)
	}

	job := &Job[any]{ID: id, Subject: d.subject, Delivery: d.meta.NumDelivered, Now: now, Log: d.log, ledger: rec, store: w.store}
	out, err := w.call(ctx, d, msgVal, job)
	if err != nil {
		e, ok := events.AsError(err)
		if !ok {
			return w.retry(d, err)
		}
		return w.finish(ctx, d, rec, nil, e)
	}
	if err := w.step("applied", id); err != nil {
		return actNone, 0, outcomeRetry
	}
	return w.finish(ctx, d, rec, out, nil)
}

// republishable is what a command found done publishes again.
func (w *Worker) republishable(rec *store.Command, now time.Time) []store.OutMsg {
	if now.Sub(rec.UpdatedAt) < w.cfg.Duplicates-w.cfg.PublishTimeout {
		return rec.Outbox
	}
	var out []store.OutMsg
	for _, m := range rec.Outbox {
		if strings.HasPrefix(m.Subject, events.ResultPrefix) {
			out = append(out, m)
		}
	}
	return out
}

// asInvalid returns err as an invalid_argument *events.Error, or nil when
// err is not about the input.
func asInvalid(err error) *events.Error {
	if e, ok := events.AsError(err); ok {
		return e
	}
	return nil
}

// call runs the handler, turning a panic into an error.
func (w *Worker) call(ctx context.Context, d *delivery, msg any, job *Job[any]) (out *Outcome, err error) {
	ctx, cancel := context.WithTimeout(ctx, w.cfg.HandlerTimeout)
	defer cancel()
	defer func() {
		if r := recover(); r != nil {
			d.log.WithField("stack", string(debug.Stack())).Errorf("handler panic: %v", r)
			out, err = nil, fmt.Errorf("%w: %v", ErrPanic, r)
		}
	}()
	return d.route.handle(ctx, msg, job)
}

// retry naks a transiently failed message with a growing delay; on the last
// delivery it gives up with an "unavailable" result and a dead letter.
func (w *Worker) retry(d *delivery, cause error) (action, time.Duration, string) {
	if d.last {
		d.log.WithError(cause).Error("failed on the last delivery; dead-lettering")
		ctx, cancel := context.WithTimeout(context.Background(), w.cfg.PublishTimeout)
		defer cancel()
		e := events.Errorf(events.CodeUnavailable, "gave up after %d deliveries", d.meta.NumDelivered)
		if errors.Is(cause, ErrPanic) {
			e = events.Errorf(events.CodeInternal, "handler failed after %d deliveries", d.meta.NumDelivered)
		}
		rec, err := w.store.ClaimCommand(ctx, &store.Command{ID: d.id, Type: d.subject, Status: store.StatusPending, CreatedAt: d.started, UpdatedAt: d.started})
		if err == nil || errors.Is(err, store.ErrDuplicate) {
			return w.finishWith(ctx, d, rec, nil, e, cause.Error())
		}
		// The store is gone too: dead-letter without a ledger record.
		dead := w.deadLetter(d, cause.Error())
		if perr := w.publish(ctx, []store.OutMsg{dead}); perr != nil {
			return actNak, w.cfg.RetryMax, outcomeRetry
		}
		if w.metrics != nil {
			w.metrics.DeadLettered(d.subject)
		}
		return actTerm, 0, outcomeDead
	}
	delay := w.cfg.RetryBase << min(d.meta.NumDelivered-1, 20)
	if delay > w.cfg.RetryMax || delay <= 0 {
		delay = w.cfg.RetryMax
	}
	var re *RetryError
	if errors.As(cause, &re) && re.Delay > 0 {
		delay = re.Delay
	}
	d.log.WithError(cause).WithField("delay", delay.String()).Warn("transient failure; retrying later")
	return actNak, delay, outcomeRetry
}

// finish completes the command with out or with the error e.
func (w *Worker) finish(ctx context.Context, d *delivery, rec *store.Command, out *Outcome, e *events.Error) (action, time.Duration, string) {
	reason := ""
	if e != nil && e.Code == events.CodeInvalidArgument {
		reason = e.Error()
	}
	return w.finishWith(ctx, d, rec, out, e, reason)
}

// finishWith stores the result and outbox in the ledger, publishes them and
// settles the message; deadReason, when set, adds a dead letter and terms.
func (w *Worker) finishWith(ctx context.Context, d *delivery, rec *store.Command, out *Outcome, e *events.Error, deadReason string) (action, time.Duration, string) {
	res := events.Result{CommandID: d.id, Type: d.subject, OK: e == nil, Error: e}
	var outbox []store.OutMsg
	if out != nil {
		data, err := json.Marshal(out.Data)
		if err != nil {
			return w.retry(d, fmt.Errorf("encode result: %w", err))
		}
		res.Data = data
	}
	resJSON, err := json.Marshal(res)
	if err != nil {
		return w.retry(d, fmt.Errorf("encode result: %w", err))
	}
	if d.route == nil || d.route.result {
		outbox = append(outbox, store.OutMsg{Subject: events.ResultSubject(d.id), MsgID: events.ResultMsgID(d.id), Data: resJSON})
	}
	if out != nil {
		for _, ev := range out.Events {
			raw, err := json.Marshal(ev)
			if err != nil {
				return w.retry(d, fmt.Errorf("encode event: %w", err))
			}
			outbox = append(outbox, store.OutMsg{Subject: events.EventSubject(ev.ShortType()), MsgID: ev.ID, Data: raw})
		}
		outbox = append(outbox, out.Publish...)
	}
	if deadReason != "" {
		outbox = append(outbox, w.deadLetter(d, deadReason))
	}
	var writes []store.Write
	if out != nil {
		writes = out.Writes
	}
	status := store.StatusDone
	if deadReason != "" {
		status = store.StatusDead
	}
	done, err := w.store.CompleteCommand(ctx, d.id, store.Completion{Status: status, Result: resJSON, Outbox: outbox, Writes: writes})
	if err != nil {
		return w.retry(d, fmt.Errorf("complete: %w", err))
	}
	if err := w.step("completed", d.id); err != nil {
		return actNone, 0, outcomeRetry
	}
	if err := w.publish(ctx, done.Outbox); err != nil {
		return w.retry(d, fmt.Errorf("publish: %w", err))
	}
	if err := w.step("published", d.id); err != nil {
		return actNone, 0, outcomeRetry
	}
	return w.settle(d, done, "")
}

// settle says how to end a message whose ledger record is done: term when
// its outbox holds a dead letter, ack otherwise.
func (w *Worker) settle(d *delivery, rec *store.Command, outcome string) (action, time.Duration, string) {
	dead := false
	for _, m := range rec.Outbox {
		if strings.HasPrefix(m.Subject, events.DeadPrefix) {
			dead = true
		}
	}
	if outcome == "" {
		var res events.Result
		_ = json.Unmarshal(rec.Result, &res)
		switch {
		case res.OK:
			outcome = outcomeOK
		case dead && res.Error != nil && res.Error.Code == events.CodeInvalidArgument:
			outcome = outcomeInvalid
		case dead:
			outcome = outcomeDead
		default:
			outcome = outcomeError
		}
		if dead && w.metrics != nil {
			w.metrics.DeadLettered(d.subject)
		}
		if !res.OK {
			d.log.WithField("error", res.Error).Info("command failed")
		}
	}
	if dead {
		return actTerm, 0, outcome
	}
	return actAck, 0, outcome
}

// deadLetter is the copy of the delivery for rooms.dead.<type>: the body
// unchanged, the reason and origin in headers.
func (w *Worker) deadLetter(d *delivery, reason string) store.OutMsg {
	return store.OutMsg{
		Subject: events.DeadSubject(d.subject),
		MsgID:   "dead:" + d.id,
		Headers: map[string]string{
			events.HeaderDeadReason:         reason,
			events.HeaderDeadSubject:        d.subject,
			events.HeaderDeadCommandID:      d.id,
			events.HeaderDeadDeliveries:     strconv.FormatUint(d.meta.NumDelivered, 10),
			events.HeaderDeadStreamSequence: strconv.FormatUint(d.meta.Sequence.Stream, 10),
		},
		Data: d.msg.Data(),
	}
}

// publish sends msgs asynchronously and waits until JetStream stored all.
func (w *Worker) publish(ctx context.Context, msgs []store.OutMsg) error {
	if len(msgs) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, w.cfg.PublishTimeout)
	defer cancel()
	futures := make([]jetstream.PubAckFuture, 0, len(msgs))
	for _, m := range msgs {
		nm := nats.NewMsg(m.Subject)
		nm.Data = m.Data
		for k, v := range m.Headers {
			nm.Header.Set(k, v)
		}
		f, err := w.js.PublishMsgAsync(nm, jetstream.WithMsgID(m.MsgID))
		if err != nil {
			return fmt.Errorf("publish %s: %w", m.Subject, err)
		}
		futures = append(futures, f)
	}
	for _, f := range futures {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			return fmt.Errorf("publish %s: %w", f.Msg().Subject, err)
		case <-ctx.Done():
			return fmt.Errorf("publish %s: %w", f.Msg().Subject, ctx.Err())
		}
	}
	return nil
}

func (w *Worker) step(step, id string) error {
	if w.fault == nil {
		return nil
	}
	return w.fault(step, id)
}
