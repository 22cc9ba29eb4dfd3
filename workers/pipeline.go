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
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/handler"
	"github.com/roomkeeper/roomkeeper/internal/tracing"
	"github.com/roomkeeper/roomkeeper/store"
)

// action is what the pipeline does with a message in the end.
type action int

const (
	actAck  action = iota // done: ack
	actTerm               // given up (a dead letter was published), or requeued: term
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
	outcomeRequeued  = "requeued"
)

// verdict is the outcome policy's one answer for a message: what to do
// with it, after how long (nak), and the outcome label.
type verdict struct {
	act     action
	delay   time.Duration
	outcome string
}

// Outcomes lists the outcome labels the pipeline reports to
// Metrics.Handled.
func Outcomes() []string {
	return []string{
		outcomeOK, outcomeError, outcomeInvalid, outcomeRetry,
		outcomeDead, outcomeDuplicate, outcomeIgnored, outcomeRequeued,
	}
}

var crashed = verdict{act: actNone, outcome: outcomeRetry}

// delivery is one message being processed.
type delivery struct {
	msg     jetstream.Msg
	meta    *jetstream.MsgMetadata
	subject string
	id      string
	route   *handler.Route
	log     logrus.FieldLogger
	started time.Time
	// now is the command's time: its first delivery's, on every delivery,
	// so rules that depend on time give the same answer each time.
	now  time.Time
	last bool // the consumer's last delivery of this message
	// reject: the message is invalid before any handler sees it.
	reject *events.Error
	// reserved: the rejection is of an ID with a reserved prefix, which
	// the ledger must keep free for roomkeeper's own command.
	reserved bool
}

// src is the delivery as its ending needs it.
func (d *delivery) src() source {
	return source{
		id: d.id, subject: d.subject, result: d.route == nil || d.route.Results(),
		deliveries: d.meta.NumDelivered, streamSeq: d.meta.Sequence.Stream, data: d.msg.Data(),
		cause: d.cause(),
	}
}

// cause is what caused the command, for its rooms' histories: the parent
// of a fan-out command (Roomkeeper-Origin "command:<id>"), or for a
// LiveKit webhook the webhook event (its ID, without WebhookIDPrefix).
func (d *delivery) cause() string {
	if id, ok := strings.CutPrefix(d.id, events.WebhookIDPrefix); ok && strings.HasPrefix(d.subject, events.WebhookPrefix) {
		return id
	}
	if parent, ok := strings.CutPrefix(d.msg.Headers().Get(events.HeaderOrigin), events.OriginCommandPrefix); ok {
		return parent
	}
	return ""
}

func (w *Worker) process(ctx context.Context, msg jetstream.Msg, cc jetstream.ConsumerConfig) {
	d := &delivery{msg: msg, subject: msg.Subject(), started: w.now()}
	d.now = d.started
	// The publisher's trace goes on here: the message's traceparent.
	ctx, span := tracing.StartOf(tracing.Extract(ctx, tracing.Header(msg.Headers())), "process", d.subject, trace.SpanKindConsumer)
	defer span.End()
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

	v := w.run(ctx, d)
	if d.log == nil {
		d.log = w.log.WithField("subject", d.subject)
	}
	if span.IsRecording() {
		span.SetAttributes(attribute.String("command_id", d.id), attribute.String("outcome", v.outcome),
			attribute.Int64("messaging.nats.delivery", int64(meta.NumDelivered)))
	}
	switch v.act {
	case actAck:
		ackCtx, ackSpan := tracing.Start(ctx, "ack", trace.SpanKindInternal)
		ack := func() error { return msg.DoubleAck(ackCtx) }
		if w.cfg.AckMode == AckAsync {
			ack = msg.Ack
		}
		err := ack()
		tracing.End(ackSpan, err)
		if err != nil {
			d.log.WithError(err).Warn("ack failed; the message will be redelivered and answered from the ledger")
		}
	case actTerm:
		if err := msg.Term(); err != nil {
			d.log.WithError(err).Warn("term failed")
		}
	case actNak:
		if err := msg.NakWithDelay(v.delay); err != nil {
			d.log.WithError(err).Warn("nak failed")
		}
	case actNone:
	}
	took := w.now().Sub(d.started)
	if w.metrics != nil {
		w.metrics.Handled(d.subject, v.outcome, took)
	}
	d.log.WithFields(logrus.Fields{"outcome": v.outcome, "took_ms": took.Milliseconds(), "delivery": meta.NumDelivered}).Debug("handled")
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

// run takes the message through the outcome policy. Every path ends in
// one verdict, without recursion: a transient failure naks (or, on the
// last delivery, gives up through the ledger), a ledger that cannot be
// written on the last delivery requeues, and a finished record is
// published and settled.
func (w *Worker) run(ctx context.Context, d *delivery) verdict {
	ignored := w.identify(d)
	d.log = tracing.LogFields(ctx, d.log)
	if ignored {
		return verdict{act: actAck, outcome: outcomeIgnored}
	}
	if d.reserved {
		return w.rejectReserved(ctx, d)
	}
	rec, end := w.recall(ctx, d)
	if end != nil {
		return *end
	}
	msgVal, plan, end := w.prepare(ctx, d, rec == nil)
	if end != nil {
		return *end
	}

	if rec == nil {
		claimCtx, span := tracing.Start(ctx, "claim", trace.SpanKindInternal)
		claimed, err := w.store.ClaimCommand(claimCtx, &store.Command{
			ID: d.id, Type: d.subject, Status: store.StatusPending, Plan: plan, CreatedAt: d.now, UpdatedAt: d.now,
		})
		tracing.End(span, ignoreDuplicate(err))
		if err != nil && !errors.Is(err, store.ErrDuplicate) {
			return w.failed(ctx, d, fmt.Errorf("claim: %w", err))
		}
		rec = claimed
	}
	if err := w.step("claimed", d.id); err != nil {
		return crashed
	}
	switch {
	case rec.Type != d.subject:
		return w.foreign(ctx, d, rec)
	case rec.Finished():
		return w.replay(ctx, d, rec)
	case d.reject != nil:
		return w.complete(ctx, d, ending{err: d.reject})
	}

	call := handler.Call{ID: d.id, Subject: d.subject, Now: d.now, Log: d.log, Plan: rec.Plan, Plans: w.store}
	out, err := w.call(ctx, d, msgVal, call)
	if err == nil && out != nil && out.Trace != "" {
		// The outcome finishes work another command began (a deletion
		// scheduled for the meeting's end): its completion goes on in
		// that command's trace, linked to this message's.
		var span trace.Span
		ctx, span = tracing.StartContinued(ctx, "finish "+d.subject, out.Trace, attribute.String("command_id", d.id))
		defer span.End()
	}
	if err != nil {
		e, ok := events.AsError(err)
		if !ok {
			return w.failed(ctx, d, err)
		}
		return w.complete(ctx, d, ending{err: e})
	}
	if err := w.step("applied", d.id); err != nil {
		return crashed
	}
	return w.complete(ctx, d, ending{out: out})
}

// recall looks up the record of a redelivered (or requeued) message: the
// first delivery's time is the command's time, a finished record is
// answered without decoding again, and a pending one is not claimed or
// planned again (its plan, stored with the claim, wins). A non-nil verdict
// ends the message.
func (w *Worker) recall(ctx context.Context, d *delivery) (*store.Command, *verdict) {
	requeued := d.msg.Headers().Get(events.HeaderRequeues) != ""
	if d.meta.NumDelivered <= 1 && !requeued {
		// A command is judged at the time JetStream accepted it, not when
		// a worker got to it: one that waited in the stream (workers
		// down, a backlog) is not refused for time that passed there.
		// (Measured as the wait since then, taken from the worker's
		// clock, so that a test's clock keeps its meaning.)
		if wait := time.Since(d.meta.Timestamp); wait > 0 && !d.meta.Timestamp.IsZero() {
			d.now = d.now.Add(-wait)
		}
		return nil, nil
	}
	found, err := w.store.GetCommand(ctx, d.id)
	var v verdict
	switch {
	case errors.Is(err, store.ErrNotFound):
		// No earlier delivery got as far as the claim (the store was
		// away): the time JetStream stored the message, before any
		// delivery, judges it, never stricter than the first did.
		if !requeued && d.meta.Timestamp.Before(d.now) {
			d.now = d.meta.Timestamp
		}
		return nil, nil
	case err != nil:
		v = w.failed(ctx, d, fmt.Errorf("ledger: %w", err))
	case found.Type != d.subject:
		v = w.foreign(ctx, d, found)
	case found.Finished():
		v = w.replay(ctx, d, found)
	default:
		d.now = found.CreatedAt
		return found, nil
	}
	return nil, &v
}

// prepare decodes the message (setting d.reject for bad input) and, for a
// command not claimed yet whose handler plans, makes its plan. A non-nil
// verdict ends the message (a transient failure).
func (w *Worker) prepare(ctx context.Context, d *delivery, unclaimed bool) (msg any, plan []byte, end *verdict) {
	if d.reject == nil {
		_, span := tracing.Start(ctx, "decode", trace.SpanKindInternal)
		v, err := d.route.Decode(d.subject, d.msg.Data(), d.now)
		tracing.End(span, err)
		if d.reject = asEventsError(err); err != nil && d.reject == nil {
			f := w.failed(ctx, d, err)
			return nil, nil, &f
		}
		msg = v
	}
	if unclaimed && d.reject == nil && d.route.HasPlanner() {
		planCtx, span := tracing.Start(ctx, "plan", trace.SpanKindInternal)
		p, err := d.route.Plan(planCtx, msg, d.now)
		tracing.End(span, err)
		if d.reject = asEventsError(err); err != nil && d.reject == nil {
			f := w.failed(ctx, d, err)
			return nil, nil, &f
		}
		plan = p
	}
	return msg, plan, nil
}

// identify sets the delivery's command ID, route and, for a message no
// handler may see, its rejection. It reports a LiveKit event that no
// handler acts on.
func (w *Worker) identify(d *delivery) (ignored bool) {
	isWebhook := strings.HasPrefix(d.subject, events.WebhookPrefix)
	id, ok, system := commandID(d.msg.Headers(), d.meta.Sequence.Stream, d.meta.Timestamp, isWebhook)
	d.id = id
	d.log = w.log.WithFields(logrus.Fields{"command_id": id, "subject": d.subject})
	d.route = w.reg.Route(d.subject)
	switch {
	case d.route == nil && isWebhook:
		return true
	case d.route == nil:
		d.reject = events.Invalid(fmt.Sprintf("unknown command type %q", events.CommandType(d.subject)),
			events.FieldError{Field: "subject", Message: "no such command"})
	case !ok:
		d.reject = events.Invalid("malformed command ID: 1 to 128 letters, digits, '-', '_' or ':' expected",
			events.FieldError{Field: "Nats-Msg-Id", Message: "malformed"})
	case !isWebhook && !system && d.msg.Headers().Get(nats.MsgIdHdr) == id:
		// The client's own ID.
		if p, reserved := events.ReservedCommandID(id); reserved {
			d.reserved = true
			d.reject = events.Invalid(fmt.Sprintf("command IDs starting with %q are roomkeeper's own", p),
				events.FieldError{Field: "Nats-Msg-Id", Message: "reserved prefix " + p})
		}
	}
	if t, err := time.Parse(time.RFC3339Nano, d.msg.Headers().Get(events.HeaderFirstDelivery)); err == nil && system {
		d.now = t
	}
	return false
}

// commandID is the command ID of a stored message: a requeued copy's
// Roomkeeper-Command-Id; else its Nats-Msg-Id when well formed ("lk:" +
// it for a webhook event); else the automatic ID of its sequence and
// time (then ok is false for a malformed Nats-Msg-Id). system reports a
// message published by roomkeeper itself.
func commandID(h nats.Header, seq uint64, stored time.Time, webhook bool) (id string, ok, system bool) {
	system = h.Get(events.HeaderOrigin) != ""
	if c := h.Get(events.HeaderCommandID); c != "" && system && events.ValidCommandID(c) {
		return c, true, true
	}
	hdr := h.Get(nats.MsgIdHdr)
	switch {
	case hdr != "" && events.ValidCommandID(hdr) && webhook:
		return events.WebhookIDPrefix + hdr, true, system
	case hdr != "" && events.ValidCommandID(hdr):
		return hdr, true, system
	}
	return events.AutoCommandID(seq, stored), hdr == "", system
}

// ignoreDuplicate is err unless it says the record was there already
// (not a failure of the step).
func ignoreDuplicate(err error) error {
	if errors.Is(err, store.ErrDuplicate) {
		return nil
	}
	return err
}

// asEventsError returns err as an *events.Error (an answer about the
// input), or nil when err is something else (a transient failure).
func asEventsError(err error) *events.Error {
	if e, ok := events.AsError(err); ok {
		return e
	}
	return nil
}

// call runs the handler, turning a panic into an error.
func (w *Worker) call(ctx context.Context, d *delivery, msg any, c handler.Call) (out *handler.Outcome, err error) {
	ctx, cancel := context.WithTimeout(ctx, w.cfg.HandlerTimeout)
	defer cancel()
	ctx, span := tracing.StartOf(ctx, "handle", d.subject, trace.SpanKindInternal)
	defer func() { tracing.End(span, err) }()
	c.Trace = tracing.TraceParent(ctx)
	defer func() {
		if r := recover(); r != nil {
			d.log.WithField("stack", string(debug.Stack())).Errorf("handler panic: %v", r)
			out, err = nil, fmt.Errorf("%w: %v", ErrPanic, r)
		}
	}()
	return d.route.Handle(ctx, msg, c)
}

// failed is the policy for a transient failure: retry later with a
// growing delay; on the last delivery, give up through the ledger with an
// unavailable (or internal) result and a dead letter.
func (w *Worker) failed(ctx context.Context, d *delivery, cause error) verdict {
	if !d.last {
		return w.nak(d, cause)
	}
	d.log.WithError(cause).Error("failed on the last delivery; giving up")
	rec, err := w.store.ClaimCommand(ctx, &store.Command{ID: d.id, Type: d.subject, Status: store.StatusPending, CreatedAt: d.now, UpdatedAt: d.now})
	switch {
	case err != nil && !errors.Is(err, store.ErrDuplicate):
		return w.requeue(ctx, d, fmt.Errorf("claim: %w (after: %w)", err, cause))
	case rec.Type != d.subject:
		return w.foreign(ctx, d, rec)
	case rec.Finished():
		return w.replay(ctx, d, rec)
	}
	return w.complete(ctx, d, ending{err: giveUpError(cause, d.meta.NumDelivered), dead: cause.Error()})
}

// nak is the verdict "retry later": RetryBase doubled per delivery, at
// most RetryMax, or the delay a handler.RetryError asks for.
func (w *Worker) nak(d *delivery, cause error) verdict {
	delay := w.cfg.RetryBase << min(d.meta.NumDelivered-1, 20)
	if delay > w.cfg.RetryMax || delay <= 0 {
		delay = w.cfg.RetryMax
	}
	var re *handler.RetryError
	if errors.As(cause, &re) && re.Delay > 0 {
		delay = re.Delay
	}
	d.log.WithError(cause).WithField("delay", delay.String()).Warn("transient failure; retrying later")
	return verdict{act: actNak, delay: delay, outcome: outcomeRetry}
}

// complete records how the command ended in the ledger, with its room
// writes, then publishes what the ledger holds and settles the message. A
// result, event or fan-out too large to publish turns the ending into an
// error result with a dead letter. A ledger that cannot be written naks;
// on the last delivery it requeues the message.
func (w *Worker) complete(ctx context.Context, d *delivery, end ending) verdict {
	if end.err != nil && end.err.Code == events.CodeInvalidArgument && end.dead == "" {
		// Bad input is given up at once: it will never apply.
		end.dead = end.err.Error()
	}
	c, err := w.outbox.build(d.src(), end)
	if errors.Is(err, errTooLarge) {
		d.log.WithError(err).Error("result or events too large to publish; giving up")
		c, err = w.outbox.build(d.src(), tooLarge(err))
	}
	if err != nil {
		return w.failed(ctx, d, err)
	}
	completeCtx, span := tracing.Start(ctx, "complete", trace.SpanKindInternal)
	done, err := w.store.CompleteCommand(completeCtx, d.id, c)
	tracing.End(span, err)
	if err != nil {
		err = fmt.Errorf("complete: %w", err)
		if d.last {
			return w.requeue(ctx, d, err)
		}
		return w.nak(d, err)
	}
	if err := w.step("completed", d.id); err != nil {
		return crashed
	}
	return w.deliver(ctx, d, done, done.Outbox, "")
}

// replay answers a delivery of a command found finished: its outbox goes
// out again unless the ledger knows it was stored, in which case only the
// result does (the results stream keeps one per command, so a repeat of
// it replaces it with the same bytes; events and fan-out are never
// published twice past the duplicates window).
func (w *Worker) replay(ctx context.Context, d *delivery, rec *store.Command) verdict {
	msgs := rec.Outbox
	if rec.Published {
		msgs = nil
		for _, m := range rec.Outbox {
			if strings.HasPrefix(m.Subject, events.ResultPrefix) {
				msgs = append(msgs, m)
			}
		}
	}
	if !rec.Published && w.now().Sub(rec.UpdatedAt) > w.cfg.DuplicatesWindow/2 {
		// The duplicates window may have passed since the first publish:
		// publish only the events ROOMS_EVENTS does not hold.
		kept, err := w.unstored(ctx, rec.UpdatedAt, msgs)
		if err != nil {
			return w.nak(d, fmt.Errorf("look for the stored events: %w", err))
		}
		msgs = kept
	}
	d.log.Info("already finished; stored outcome published again")
	return w.deliver(ctx, d, rec, msgs, outcomeDuplicate)
}

// deliver publishes msgs of finished record rec, records that they are
// stored, and settles: term when rec is dead, ack otherwise. A publish
// that fails naks, so that a redelivery (or, after the last, the
// max-deliveries listener) publishes from the ledger again.
func (w *Worker) deliver(ctx context.Context, d *delivery, rec *store.Command, msgs []store.OutMsg, outcome string) verdict {
	if err := w.pub.publish(ctx, msgs); err != nil {
		return w.nak(d, fmt.Errorf("publish: %w", err))
	}
	if err := w.step("published", d.id); err != nil {
		return crashed
	}
	if !rec.Published {
		if err := w.store.MarkPublished(ctx, d.id); err != nil {
			// A later delivery publishes again: the duplicates window
			// drops the copies.
			d.log.WithError(err).Warn("could not record the outbox as published")
		}
	}
	if outcome == "" {
		outcome = w.outcomeOf(d, rec)
	}
	if rec.Status == store.StatusDead {
		return verdict{act: actTerm, outcome: outcome}
	}
	return verdict{act: actAck, outcome: outcome}
}

// outcomeOf labels the first finish of a record for metrics and logs.
func (w *Worker) outcomeOf(d *delivery, rec *store.Command) string {
	var res *events.Result
	if err := json.Unmarshal(rec.Result, &res); err != nil {
		res = nil
	}
	dead := rec.Status == store.StatusDead
	if dead && w.metrics != nil {
		w.metrics.DeadLettered(d.subject)
	}
	if res != nil && !res.OK {
		d.log.WithField("error", res.Error).Info("command failed")
	}
	switch {
	case res != nil && res.OK:
		return outcomeOK
	case dead && res != nil && res.Error != nil && res.Error.Code == events.CodeInvalidArgument:
		return outcomeInvalid
	case dead:
		return outcomeDead
	}
	return outcomeError
}

// foreign answers a command whose ID the ledger holds for a command of
// another type: no second result (the ID's result stays the first
// command's; the Go client reports the mismatch), a dead letter saying
// whose the ID is, and term.
func (w *Worker) foreign(ctx context.Context, d *delivery, rec *store.Command) verdict {
	reason := fmt.Sprintf("invalid_argument: command ID %q belongs to a %s command", d.id, rec.Type)
	d.log.WithField("owner", rec.Type).Warn("command ID reused for another type; dead-lettered")
	if err := w.pub.publish(ctx, []store.OutMsg{w.outbox.deadLetter(d.src(), reason)}); err != nil {
		return w.nak(d, fmt.Errorf("publish dead letter: %w", err))
	}
	if w.metrics != nil {
		w.metrics.DeadLettered(d.subject)
	}
	return verdict{act: actTerm, outcome: outcomeInvalid}
}

// rejectReserved answers a command whose ID has a prefix reserved for
// roomkeeper's own commands: an invalid_argument result and a dead letter,
// both under message IDs of this message (not the command ID's, which the
// duplicates window must keep free for the command that owns it), and no
// ledger record; then term.
func (w *Worker) rejectReserved(ctx context.Context, d *delivery) verdict {
	c, err := w.outbox.build(d.src(), ending{err: d.reject, dead: d.reject.Error()})
	if err != nil {
		return w.nak(d, err)
	}
	tag := fmt.Sprintf("rejected:%d-%s:", d.meta.Sequence.Stream, strconv.FormatInt(d.meta.Timestamp.UnixNano(), 36))
	for i := range c.Outbox {
		c.Outbox[i].MsgID = tag + c.Outbox[i].MsgID
	}
	if err := w.pub.publish(ctx, c.Outbox); err != nil {
		return w.nak(d, fmt.Errorf("publish: %w", err))
	}
	if w.metrics != nil {
		w.metrics.DeadLettered(d.subject)
	}
	d.log.Info("command ID with a reserved prefix; rejected")
	return verdict{act: actTerm, outcome: outcomeInvalid}
}

// requeue ends a last delivery whose outcome cannot be recorded (the store
// is away): a copy of the message goes to the back of its stream with its
// command ID and first delivery time, and a fresh delivery budget, and the
// message is termed. The copy is answered once the store is back, so the
// command still gets its one result. If even the copy cannot be published
// the message is nakked; JetStream then gives up on it and the
// max-deliveries listener takes over.
func (w *Worker) requeue(ctx context.Context, d *delivery, cause error) verdict {
	copyMsg := requeueCopy(d.msg.Headers(), d.subject, d.id, d.msg.Data(), d.now)
	if err := w.pub.publish(ctx, []store.OutMsg{copyMsg}); err != nil {
		return w.nak(d, fmt.Errorf("requeue: %w (after: %w)", err, cause))
	}
	d.log.WithError(cause).WithField("requeues", copyMsg.Headers[events.HeaderRequeues]).Warn("store away on the last delivery; command requeued")
	return verdict{act: actTerm, outcome: outcomeRequeued}
}

// requeueCopy is the copy of a message that requeue publishes: its headers
// (but its Nats-Msg-Id), the command ID, the first delivery time and the
// requeue count; its message ID names the command and the count, so a
// repeat of the same requeue is dropped by the duplicates window.
func requeueCopy(h nats.Header, subject, id string, data []byte, first time.Time) store.OutMsg {
	n, _ := strconv.Atoi(h.Get(events.HeaderRequeues))
	n++
	headers := map[string]string{}
	for k, vs := range h {
		if k != nats.MsgIdHdr && len(vs) > 0 {
			headers[k] = vs[0]
		}
	}
	if !strings.HasPrefix(headers[events.HeaderOrigin], events.OriginCommandPrefix) {
		// A fan-out command keeps its origin, which names its cause (a
		// room's history); any other copy is marked requeued.
		headers[events.HeaderOrigin] = events.OriginRequeue
	}
	headers[events.HeaderCommandID] = id
	headers[events.HeaderRequeues] = strconv.Itoa(n)
	headers[events.HeaderFirstDelivery] = first.UTC().Format(time.RFC3339Nano)
	return store.OutMsg{Subject: subject, MsgID: fmt.Sprintf("requeue:%d:%s", n, id), Headers: headers, Data: data}
}

func (w *Worker) step(step, id string) error {
	if w.fault == nil {
		return nil
	}
	return w.fault(step, id)
}
