package handler

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/sirupsen/logrus"
)

// Registry maps subjects to typed handlers.
type Registry struct {
	routes map[string]*Route
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{routes: map[string]*Route{}} }

// Options of a registration.
type Options[M any] struct {
	// Decode decodes and validates the body; the default validates against
	// the subject's JSON Schema and unmarshals (DecodeJSON).
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
	rt := &Route{subject: subject, result: !opts.NoResult}
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
	rt.handle = func(ctx context.Context, msg any, c Call) (*Outcome, error) {
		return h.Handle(ctx, &Job[M]{
			ID: c.ID, Subject: c.Subject, Msg: msg.(M), Now: c.Now, Log: c.Log, Trace: c.Trace,
			plan: c.Plan, plans: c.Plans,
		})
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

// Remove removes the handler of subject, so that another can be
// registered in its place (tests plug in their own).
func (r *Registry) Remove(subject string) { delete(r.routes, subject) }

// Subjects lists the registered subjects, sorted.
func (r *Registry) Subjects() []string {
	out := make([]string, 0, len(r.routes))
	for s := range r.routes {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// Route returns the handler of subject with its message type erased, as
// the runtime calls it; nil when there is none.
func (r *Registry) Route(subject string) *Route { return r.routes[subject] }

// Route is a registered handler with its message type erased.
type Route struct {
	subject string
	result  bool
	decode  func(subject string, body []byte, now time.Time) (any, error)
	plan    func(ctx context.Context, msg any, now time.Time) (json.RawMessage, error)
	handle  func(ctx context.Context, msg any, c Call) (*Outcome, error)
}

// Call is what the runtime tells a handler about one run of a command.
type Call struct {
	ID      string
	Subject string
	Now     time.Time
	Log     logrus.FieldLogger
	// Plan is the plan the command holds (nil: none yet); Plans stores the
	// one a handler makes with [Plan].
	Plan  json.RawMessage
	Plans PlanStore
	// Trace is the W3C traceparent of the handler's span (Job.Trace);
	// empty when tracing is off.
	Trace string
}

// Results reports whether the route's messages are commands, which get a
// result (LiveKit webhook events get none).
func (rt *Route) Results() bool { return rt.result }

// Decode decodes and validates body, judging dates against now.
func (rt *Route) Decode(subject string, body []byte, now time.Time) (any, error) {
	return rt.decode(subject, body, now)
}

// HasPlanner reports whether the handler plans before the claim.
func (rt *Route) HasPlanner() bool { return rt.plan != nil }

// Plan computes the plan of a decoded message (nil: no plan). Call it only
// when HasPlanner.
func (rt *Route) Plan(ctx context.Context, msg any, now time.Time) (json.RawMessage, error) {
	return rt.plan(ctx, msg, now)
}

// Handle runs the handler on a decoded message.
func (rt *Route) Handle(ctx context.Context, msg any, c Call) (*Outcome, error) {
	return rt.handle(ctx, msg, c)
}
