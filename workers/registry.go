package workers

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
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

// Job is one delivery of a decoded message of type M.
type Job[M any] struct {
	// ID is the command ID (or the webhook event ID).
	ID string
	// Subject the message was published on.
	Subject string
	// Msg is the decoded, validated body.
	Msg M
	// Delivery counts deliveries of this message, from 1.
	Delivery uint64
	// Now is when the worker took the message; handlers use it as "now".
	Now time.Time
	// Log carries the command ID and subject.
	Log logrus.FieldLogger

	ledger *store.Command
	store  store.Store
}

// Outcome is what a successful handler produced.
type Outcome struct {
	// Data is the result's data.
	Data any
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
// plan stored in the ledger by an earlier delivery, or else the one compute
// makes now, stored so that every later delivery converges on it.
func Plan[P any, M any](ctx context.Context, job *Job[M], compute func() (P, error)) (P, error) {
	var p P
	if len(job.ledger.Plan) > 0 {
		err := json.Unmarshal(job.ledger.Plan, &p)
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
	stored, err := job.store.SetCommandPlan(ctx, job.ID, raw)
	if err != nil {
		return p, err
	}
	job.ledger.Plan = stored
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

// HandlerFunc adapts a function to a Handler.
type HandlerFunc[M Message] func(ctx context.Context, job *Job[M]) (*Outcome, error)

// Handle calls f.
func (f HandlerFunc[M]) Handle(ctx context.Context, job *Job[M]) (*Outcome, error) {
	return f(ctx, job)
}

// Planner is implemented by handlers whose choices can be made before the
// command is claimed, from the message and what the store and LiveKit say
// (but without any effect): the plan is then stored with the claim, saving
// a ledger write per command. When the command was claimed before, the
// plan in its ledger record wins and this one is dropped, so every
// delivery acts on the first delivery's choices. Plan returns nil for no
// plan; its errors are transient (retry later) unless they are an
// *events.Error.
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

// route is a registered handler with its type erased.
type route struct {
	subject string
	// result: publish a result (commands); webhook events have none.
	result bool
	// decode validates and decodes the body; plan computes the initial plan.
	decode func(subject string, body []byte, now time.Time) (any, error)
	plan   func(ctx context.Context, msg any, now time.Time) (json.RawMessage, error)
	handle func(ctx context.Context, msg any, j *Job[any]) (*Outcome, error)
}

// Registry maps subjects to typed handlers.
type Registry struct {
	routes map[string]*route
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{routes: map[string]*route{}} }

// Options of a registration.
type Options[M any] struct {
	// Decode decodes and validates the body; the default validates against
	// the subject's JSON Schema and unmarshals.
	Decode Decoder[M]
	// NoResult: the messages are events, not commands; no result is
	// published (LiveKit webhooks).
	NoResult bool
}

// Register adds the handler of M's subject; it returns ErrDuplicateHandler
// when the subject already has one.
func Register[M Message](r *Registry, h Handler[M], opts Options[M]) error {
	var zero M
	subject := zero.Subject()
	if _, ok := r.routes[subject]; ok {
		return fmt.Errorf("%w: %s", ErrDuplicateHandler, subject)
	}
	decode := opts.Decode
	if decode == nil {
		decode = DecodeJSON[M]
	}
	rt := &route{subject: subject, result: !opts.NoResult}
	rt.decode = func(subject string, body []byte, now time.Time) (any, error) {
		m, err := decode(subject, body)
		if err != nil {
			return nil, err
		}
		if v, ok := h.(Validator[M]); ok {
			if err := v.Validate(m, now); err != nil {
				return nil, err
			}
		}
		return m, nil
	}
	if p, ok := h.(Planner[M]); ok {
		rt.plan = func(ctx context.Context, msg any, now time.Time) (json.RawMessage, error) {
			v, err := p.Plan(ctx, msg.(M), now)
			if err != nil || v == nil {
				return nil, err
			}
			return json.Marshal(v)
		}
	}
	rt.handle = func(ctx context.Context, msg any, j *Job[any]) (*Outcome, error) {
		typed := &Job[M]{
			ID: j.ID, Subject: j.Subject, Msg: msg.(M), Delivery: j.Delivery,
			Now: j.Now, Log: j.Log, ledger: j.ledger, store: j.store,
		}
		return h.Handle(ctx, typed)
	}
	r.routes[subject] = rt
	return nil
}

// MustRegister is Register that panics on a duplicate subject.
func MustRegister[M Message](r *Registry, h Handler[M], opts Options[M]) {
	if err := Register(r, h, opts); err != nil {
		panic(err)
	}
}

// Subjects lists the registered subjects, sorted.
func (r *Registry) Subjects() []string {
	out := make([]string, 0, len(r.routes))
	for s := range r.routes {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

func (r *Registry) lookup(subject string) *route { return r.routes[subject] }
