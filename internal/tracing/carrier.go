package tracing

import (
	"context"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// The W3C trace context headers.
const (
	HeaderTraceParent = "traceparent"
	HeaderTraceState  = "tracestate"
)

// Header is a message's headers as NATS keeps them (nats.Header converts
// to it): a propagation.TextMapCarrier whose keys are kept as given, not
// canonicalised as HTTP's are.
type Header map[string][]string

// Get returns the first value of key.
func (h Header) Get(key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// Set sets key to value.
func (h Header) Set(key, value string) { h[key] = []string{value} }

// Keys lists the keys.
func (h Header) Keys() []string {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	return keys
}

var _ propagation.TextMapCarrier = Header(nil)

// Inject writes the trace context of the span in ctx into h. Off, or
// without a span, it writes nothing.
func Inject(ctx context.Context, h Header) {
	if !on.Load() || h == nil || !trace.SpanContextFromContext(ctx).IsValid() {
		return
	}
	prop.Inject(ctx, h)
}

// Extract returns ctx with the remote span context of headers h as the
// parent of the spans started from it; ctx unchanged when off or when h
// carries none.
func Extract(ctx context.Context, h Header) context.Context {
	if !on.Load() || h.Get(HeaderTraceParent) == "" {
		return ctx
	}
	return prop.Extract(ctx, h)
}

// TraceParent is the W3C traceparent of the span in ctx; empty when off or
// without a span.
func TraceParent(ctx context.Context) string {
	if !on.Load() || !trace.SpanContextFromContext(ctx).IsValid() {
		return ""
	}
	m := propagation.MapCarrier{}
	propagation.TraceContext{}.Inject(ctx, m)
	return m[HeaderTraceParent]
}

// FromTraceParent returns the span context of a W3C traceparent (invalid
// when tp is empty or malformed), remote.
func FromTraceParent(tp string) trace.SpanContext {
	if tp == "" {
		return trace.SpanContext{}
	}
	ctx := propagation.TraceContext{}.Extract(context.Background(), propagation.MapCarrier{HeaderTraceParent: tp})
	return trace.SpanContextFromContext(ctx)
}
