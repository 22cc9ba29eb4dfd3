package handler

import (
	"context"
	"encoding/json"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/store"
)

// Message is a command or webhook event body that says where it is
// published.
type Message interface {
	Subject() string
}

// Job is one run of a handler on a decoded message of type M.
type Job[M any] struct {
	// ID is the command ID (or the webhook event ID).
	ID string
	// Subject the message was published on.
	Subject string
	// Msg is the decoded, validated body.
	Msg M
	// Now is the command's time (when it was first taken); handlers use it
	// as "now", so every run of the command judges the same moment.
	Now time.Time
	// Log carries the command ID and subject.
	Log logrus.FieldLogger
	// Trace is the W3C traceparent of the span of this run when tracing
	// is on (empty otherwise): a handler keeps it where later work that
	// finishes this command finds it (Outcome.Trace).
	Trace string

	plan  json.RawMessage
	plans PlanStore
}

// PlanStore keeps the plans of commands (store.Store is one).
type PlanStore interface {
	// SetCommandPlan stores plan for command id unless it has one, and
	// returns the plan it holds afterwards (the first one stored wins).
	SetCommandPlan(ctx context.Context, id string, plan json.RawMessage) (json.RawMessage, error)
}

// Outcome is what a successful handler produced.
type Outcome struct {
	// Data is the result's data.
	Data any
	// Status is the result's REST status (0: 200 OK): 201 for a create,
	// 202 for a change scheduled for when the meeting ends.
	Status int
	// Events are published on rooms.events.<type> after the result.
	Events []events.Event
	// Publish holds further messages (fan-out commands), published with the
	// events.
	Publish []store.OutMsg
	// Writes are room writes applied with the command's completion, in its
	// transaction where the store has them (store.Store.CompleteCommand):
	// a handler leaves its idempotent writes here rather than making them
	// itself, which saves a store round trip each.
	Writes []store.Write
	// Trace, when set, is the W3C traceparent (a Job.Trace kept earlier)
	// of the command whose work this outcome finishes, such as the delete
	// that scheduled the deletion room_finished applies: the runtime
	// records the completion and publishes the outbox in that command's
	// trace, linked to this message's.
	Trace string
}

// Event appends a domain event caused by the job to the outcome.
func (o *Outcome) Event(cause, eventType, roomID string, at time.Time, data any) error {
	ev, err := events.NewEvent(cause, eventType, roomID, at, data)
	if err != nil {
		return err
	}
	o.Events = append(o.Events, ev)
	return nil
}

// Plan returns the choices command job made before its first effect: the
// plan stored by an earlier run, or else the one compute makes now, stored
// so that every later run converges on it.
func Plan[P any, M any](ctx context.Context, job *Job[M], compute func() (P, error)) (P, error) {
	var p P
	if len(job.plan) > 0 {
		err := json.Unmarshal(job.plan, &p)
		return p, err
	}
	p, err := compute()
	if err != nil {
		return p, err
	}
	raw, err := json.Marshal(p)
	if err != nil {
		return p, err
	}
	stored, err := job.plans.SetCommandPlan(ctx, job.ID, raw)
	if err != nil {
		return p, err
	}
	job.plan = stored
	var winner P
	if err := json.Unmarshal(stored, &winner); err != nil {
		return p, err
	}
	return winner, nil
}

// Handler applies messages of type M.
type Handler[M Message] interface {
	Handle(ctx context.Context, job *Job[M]) (*Outcome, error)
}

// Func adapts a function to a Handler.
type Func[M Message] func(ctx context.Context, job *Job[M]) (*Outcome, error)

// Handle calls f.
func (f Func[M]) Handle(ctx context.Context, job *Job[M]) (*Outcome, error) {
	return f(ctx, job)
}

// Planner is implemented by handlers whose choices can be made before the
// command is claimed, from the message and what the store and LiveKit say
// (but without any effect): the plan is then stored with the claim, saving
// a write per command. When the command was claimed before, the plan it
// holds wins and this one is dropped, so every run acts on the first
// run's choices. Plan returns nil for no plan; its errors are transient
// (retry later) unless they are an *events.Error.
type Planner[M Message] interface {
	Plan(ctx context.Context, msg M, now time.Time) (any, error)
}

// Validator is implemented by handlers whose messages have rules beyond
// their JSON Schema (limits from configuration, dates relative to now); it
// returns an *events.Error (invalid_argument) naming the field.
type Validator[M Message] interface {
	Validate(msg M, now time.Time) error
}

// Decoder turns a body into a message; it returns an *events.Error for bad
// input.
type Decoder[M any] func(subject string, body []byte) (M, error)
