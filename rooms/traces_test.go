package rooms_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/roomkeeper/roomkeeper/events"
	lktest "github.com/roomkeeper/roomkeeper/internal/testenv/livekit"
	"github.com/roomkeeper/roomkeeper/internal/tracing"
	"github.com/roomkeeper/roomkeeper/internal/workertest"
	"github.com/roomkeeper/roomkeeper/rooms"
	"github.com/roomkeeper/roomkeeper/scheduler"
)

// The tests of traces install a tracer provider for the whole process, so
// they do not run in parallel (the package's parallel tests wait for
// them).

// spans records the spans of the process while a test runs.
type spans struct{ rec *tracetest.SpanRecorder }

func recordSpans(t *testing.T) *spans {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	tracing.Install(tp)
	t.Cleanup(func() {
		tracing.Uninstall()
		_ = tp.Shutdown(context.Background())
	})
	return &spans{rec: rec}
}

// find waits for the one ended span named name that ok accepts.
func (s *spans) find(t *testing.T, what, name string, ok func(sdktrace.ReadOnlySpan) bool) sdktrace.ReadOnlySpan {
	t.Helper()
	var found []sdktrace.ReadOnlySpan
	require.Eventually(t, func() bool {
		found = found[:0]
		for _, sp := range s.rec.Ended() {
			if sp.Name() == name && (ok == nil || ok(sp)) {
				found = append(found, sp)
			}
		}
		return len(found) > 0
	}, 30*time.Second, 20*time.Millisecond, "no span %q (%s); spans: %v", name, what, s.names())
	require.Len(t, found, 1, "spans %q (%s)", name, what)
	return found[0]
}

// child waits for the one span named name whose parent is parent.
func (s *spans) child(t *testing.T, parent sdktrace.ReadOnlySpan, name string) sdktrace.ReadOnlySpan {
	t.Helper()
	return s.find(t, "child of "+parent.Name(), name, func(sp sdktrace.ReadOnlySpan) bool {
		return sp.Parent().SpanID() == parent.SpanContext().SpanID() && sp.Parent().TraceID() == parent.SpanContext().TraceID()
	})
}

// byID is the ended span with span ID id.
func (s *spans) byID(t *testing.T, id trace.SpanID) sdktrace.ReadOnlySpan {
	t.Helper()
	for _, sp := range s.rec.Ended() {
		if sp.SpanContext().SpanID() == id {
			return sp
		}
	}
	t.Fatalf("no span %s", id)
	return nil
}

func (s *spans) names() []string {
	var n []string
	for _, sp := range s.rec.Ended() {
		n = append(n, sp.Name())
	}
	slices.Sort(n)
	return slices.Compact(n)
}

// withCommand accepts a span whose command_id attribute is id.
func withCommand(id string) func(sdktrace.ReadOnlySpan) bool {
	return func(sp sdktrace.ReadOnlySpan) bool {
		for _, a := range sp.Attributes() {
			if a.Key == "command_id" && a.Value.AsString() == id {
				return true
			}
		}
		return false
	}
}

// parentOf is the span context a message's traceparent names.
func parentOf(t *testing.T, m jetstream.Msg) trace.SpanContext {
	t.Helper()
	sc := tracing.FromTraceParent(m.Headers().Get(tracing.HeaderTraceParent))
	require.True(t, sc.IsValid(), "%s carries no traceparent: %v", m.Subject(), m.Headers())
	return sc
}

func requireChildOf(t *testing.T, parent, child sdktrace.ReadOnlySpan) {
	t.Helper()
	require.Equal(t, parent.SpanContext().TraceID(), child.SpanContext().TraceID(), "%s and %s in one trace", parent.Name(), child.Name())
	require.Equal(t, parent.SpanContext().SpanID(), child.Parent().SpanID(), "%s is the parent of %s", parent.Name(), child.Name())
}

// A create's trace: the client's publish, the worker's delivery, and
// under it each step: decode, claim, the handler, the completion, the
// outbox publish (whose context the result and the created event carry)
// and the ack.
func TestTraceOfACreate(t *testing.T) {
	s := recordSpans(t)
	b := setup(t, workertest.SetupOpts{})
	b.Log.SetLevel(logrus.DebugLevel)
	logs := logtest.NewLocal(b.Log)
	b.Start(t, workertest.WorkerOpts{})

	const id = "trace-create"
	b.Send(t, id, events.CreateRoom{RoomName: ptr("traced")})
	room := roomOf(t, b.Result(t, id))

	pub := s.find(t, "client", "publish "+events.SubjectCreate, withCommand(id))
	require.Equal(t, trace.SpanKindProducer, pub.SpanKind())
	process := s.find(t, "worker", "process "+events.SubjectCreate, withCommand(id))
	require.Equal(t, trace.SpanKindConsumer, process.SpanKind())
	requireChildOf(t, pub, process)
	for _, step := range []string{"decode", "claim", "handle " + events.SubjectCreate, "complete", "ack"} {
		s.child(t, process, step)
	}
	outbox := s.child(t, process, "outbox publish")

	// The worker's log of the command carries the trace beside its ID.
	var logged bool
	for _, e := range logs.AllEntries() {
		if e.Data["command_id"] == id && e.Message == "handled" {
			logged = true
			require.Equal(t, process.SpanContext().TraceID().String(), e.Data["trace_id"])
			require.Equal(t, process.SpanContext().SpanID().String(), e.Data["span_id"])
		}
	}
	require.True(t, logged, "the worker logged the command")

	created := b.StreamMsgs(t, events.StreamEvents, events.EventSubject(events.EventCreated))
	require.Len(t, created, 1)
	sc := parentOf(t, created[0])
	require.Equal(t, outbox.SpanContext().TraceID(), sc.TraceID())
	require.Equal(t, outbox.SpanContext().SpanID(), sc.SpanID(), "the created event of %s carries the outbox publish's context", room.RoomID)
}

// Another service's trace context crosses the worker whole: a command
// published with traceparent and tracestate is processed in that trace,
// and its result and event carry the trace and the tracestate on.
func TestTraceContextOfAnotherService(t *testing.T) {
	s := recordSpans(t)
	b := setup(t, workertest.SetupOpts{})
	b.Start(t, workertest.WorkerOpts{})

	const id, tid, state = "trace-foreign", "4bf92f3577b34da6a3ce929d0e0e4736", "vendor=opaque-1,other=2"
	msg := nats.NewMsg(events.SubjectCreate)
	msg.Data = []byte(`{"roomName":"foreign"}`)
	msg.Header.Set(jetstream.MsgIDHeader, id)
	msg.Header.Set(tracing.HeaderTraceParent, "00-"+tid+"-00f067aa0ba902b7-01")
	msg.Header.Set(tracing.HeaderTraceState, state)
	_, err := b.JS.PublishMsg(workertest.Ctx(t, 5*time.Second), msg)
	require.NoError(t, err)
	require.True(t, b.Result(t, id).OK)

	process := s.find(t, "worker", "process "+events.SubjectCreate, withCommand(id))
	require.Equal(t, tid, process.SpanContext().TraceID().String())
	require.Equal(t, "00f067aa0ba902b7", process.Parent().SpanID().String())
	for _, m := range []jetstream.Msg{
		b.StreamMsgs(t, events.StreamResults, events.ResultSubject(id))[0],
		b.StreamMsgs(t, events.StreamEvents, events.EventSubject(events.EventCreated))[0],
	} {
		require.Equal(t, tid, parentOf(t, m).TraceID().String(), m.Subject())
		require.Equal(t, state, m.Headers().Get(tracing.HeaderTraceState), m.Subject())
	}
}

// A sweep's trace, from the scheduler: its publish, the worker's
// delivery, and the delete commands it fans out, children of its outbox
// publish, in the sweep's trace.
func TestTraceOfASweep(t *testing.T) {
	s := recordSpans(t)
	b := setup(t, workertest.SetupOpts{})
	b.Start(t, workertest.WorkerOpts{})
	const room = "traced-expired-aaaaaaaa"
	b.insertRoom(t, room, past(), nil)

	sch, err := scheduler.New(scheduler.Config{Interval: time.Second}, b.JS, b.Log)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = sch.Run(ctx)
	}()
	t.Cleanup(func() { cancel(); <-done })
	id := scheduler.SweepID(time.Now().Truncate(time.Second).Add(time.Second))
	require.True(t, b.Result(t, id).OK)
	require.True(t, b.Result(t, rooms.ExpirePrefix+room).OK)

	schedule := s.find(t, "scheduler", "sweep schedule", withCommand(id))
	pub := s.child(t, schedule, "sweep publish")
	sweep := s.find(t, "sweep", "process "+events.SubjectSweep, withCommand(id))
	requireChildOf(t, pub, sweep)
	outbox := s.child(t, sweep, "outbox publish")
	del := s.find(t, "fan-out", "process "+events.SubjectDelete, withCommand(rooms.ExpirePrefix+room))
	requireChildOf(t, outbox, del)
	s.child(t, del, "handle "+events.SubjectDelete)
}

// The trace of one graceful delete, with a real livekit-server: the
// delete command schedules the deletion (deletion_scheduled); the
// participant leaves, LiveKit's room_finished webhook comes in (in a trace
// of its own: LiveKit sends none), and the worker step that finishes the
// deletion goes on in the delete's trace, as a child of the delete's
// handler linked to the webhook's: one tree from the command to the
// deleted event.
func TestTraceOfAGracefulDelete(t *testing.T) {
	s := recordSpans(t)
	b := setup(t, workertest.SetupOpts{})
	srv := b.LiveKitWithWebhooks(t)
	b.Start(t, workertest.WorkerOpts{})

	const room, id = "traced-later-aaaaaaaa", "trace-delete"
	b.insertRoom(t, room, nil, nil)
	p := lktest.Join(t, srv, room, "alice")
	b.waitRoom(t, room, "active", isActive)
	res, _ := b.deleteResult(t, id, events.DeleteRooms{RoomIDs: []string{room}, WithMeeting: events.PolicyWhenMeetingEnds})
	require.Equal(t, 202, res.Status)
	p.Leave()
	b.waitRoom(t, room, "room_finished deletes it", nil)

	// The command.
	pub := s.find(t, "client", "publish "+events.SubjectDelete, withCommand(id))
	process := s.find(t, "worker", "process "+events.SubjectDelete, withCommand(id))
	requireChildOf(t, pub, process)
	handle := s.child(t, process, "handle "+events.SubjectDelete)
	// The handler's LiveKit call (is the meeting live?) is a span of it.
	require.Equal(t, trace.SpanKindClient, s.child(t, handle, "livekit list participants").SpanKind())
	outbox := s.child(t, process, "outbox publish")
	tid := pub.SpanContext().TraceID()
	// The outbox publish names what it published: the result and the
	// marked event.
	require.Equal(t, []string{events.ResultSubject(id), events.EventSubject(events.EventDeletionScheduled)}, published(outbox))

	// The marked event.
	var scheduled []jetstream.Msg
	require.Eventually(t, func() bool {
		scheduled = b.StreamMsgs(t, events.StreamEvents, events.EventSubject(events.EventDeletionScheduled))
		return len(scheduled) == 1
	}, 10*time.Second, 20*time.Millisecond)
	require.Equal(t, outbox.SpanContext().SpanID(), parentOf(t, scheduled[0]).SpanID())
	require.Equal(t, tid, parentOf(t, scheduled[0]).TraceID())

	// The finishing worker step, a child of the delete's handler...
	webhookSubject := events.WebhookPrefix + "room_finished"
	finish := s.child(t, handle, "finish "+webhookSubject)
	require.Equal(t, tid, finish.SpanContext().TraceID())
	s.child(t, finish, "complete")
	finOutbox := s.child(t, finish, "outbox publish")
	require.Contains(t, published(finOutbox), events.EventSubject(events.EventDeleted))

	// ... linked to LiveKit's room_finished webhook: its receipt, its
	// republish and the worker's delivery of it.
	require.Len(t, finish.Links(), 1)
	webhookProcess := s.byID(t, finish.Links()[0].SpanContext.SpanID())
	require.Equal(t, "process "+webhookSubject, webhookProcess.Name())
	s.child(t, webhookProcess, "handle "+webhookSubject)
	republish := s.byID(t, webhookProcess.Parent().SpanID())
	require.Equal(t, "webhook republish", republish.Name())
	receive := s.byID(t, republish.Parent().SpanID())
	require.Equal(t, "webhook receive", receive.Name())
	require.Contains(t, receive.Attributes(), attrString("livekit.event", "room_finished"))

	// The deleted event, in the delete's trace.
	deleted := b.StreamMsgs(t, events.StreamEvents, events.EventSubject(events.EventDeleted))
	require.Len(t, deleted, 1)
	require.Equal(t, tid, parentOf(t, deleted[0]).TraceID())
	require.Equal(t, finOutbox.SpanContext().SpanID(), parentOf(t, deleted[0]).SpanID())
}

// published lists the subjects an outbox publish span names (its span
// events, one per message), in order.
func published(sp sdktrace.ReadOnlySpan) []string {
	var subjects []string
	for _, ev := range sp.Events() {
		for _, a := range ev.Attributes {
			if a.Key == "messaging.destination.name" {
				subjects = append(subjects, a.Value.AsString())
			}
		}
	}
	return subjects
}

func attrString(k, v string) attribute.KeyValue { return attribute.String(k, v) }
