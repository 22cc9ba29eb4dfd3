// Package tracing is roomkeeper's OpenTelemetry tracing: [Setup] makes the
// tracer provider from the standard OTEL_* environment variables (an OTLP
// exporter over HTTP, or gRPC) and installs it, or nothing when
// OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is
// unset; the helpers start spans and carry their context across NATS in
// the W3C traceparent and tracestate headers.
//
// Off, every helper returns at once without allocating: [Start] checks one
// atomic flag and hands back the context unchanged with a no-op span, and
// [Inject] adds no header. So the runtime calls them on its hot path
// unconditionally.
//
// The package imports no NATS: a message's headers are a
// map[string][]string ([Header], which nats.Header converts to).
package tracing
