package tracing

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/sirupsen/logrus"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// Instrumentation is the name of roomkeeper's tracer.
const Instrumentation = "github.com/roomkeeper/roomkeeper"

// The standard variables Setup looks at (the exporter reads the others:
// OTEL_EXPORTER_OTLP_HEADERS, _TIMEOUT, _PROTOCOL..., the SDK the
// sampler's OTEL_TRACES_SAMPLER and the batcher's OTEL_BSP_*).
const (
	EnvEndpoint       = "OTEL_EXPORTER_OTLP_ENDPOINT"
	EnvTracesEndpoint = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
	EnvSDKDisabled    = "OTEL_SDK_DISABLED"
	EnvTracesExporter = "OTEL_TRACES_EXPORTER"
	EnvProtocol       = "OTEL_EXPORTER_OTLP_PROTOCOL"
	EnvTracesProtocol = "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"
)

// The OTLP protocols built in: OTLP/HTTP with protobuf (the default, as the
// specification says) and OTLP/gRPC.
const (
	protocolHTTP = "http/protobuf"
	protocolGRPC = "grpc"
)

var (
	on     atomic.Bool
	tracer atomic.Pointer[trace.Tracer]
	prop   propagation.TextMapPropagator = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
)

// Propagator is the propagator Install makes global: the W3C trace
// context and baggage.
func Propagator() propagation.TextMapPropagator { return prop }

// Configured reports whether the environment asks for traces: an OTLP
// endpoint is set, the SDK is not disabled and the traces exporter is not
// "none".
func Configured(getenv func(string) string) bool {
	if getenv == nil {
		getenv = os.Getenv
	}
	if strings.EqualFold(getenv(EnvSDKDisabled), "true") || strings.EqualFold(getenv(EnvTracesExporter), "none") {
		return false
	}
	return getenv(EnvEndpoint) != "" || getenv(EnvTracesEndpoint) != ""
}

// Setup installs a tracer provider exporting over OTLP (HTTP, or gRPC when
// OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL is grpc) as the standard OTEL_*
// variables say, with service name service unless
// OTEL_SERVICE_NAME or OTEL_RESOURCE_ATTRIBUTES name another. When the
// environment does not ask for traces (Configured) it installs nothing:
// tracing stays off. The returned function flushes and stops the
// provider; it is never nil.
func Setup(ctx context.Context, service string) (shutdown func(context.Context) error, err error) {
	nothing := func(context.Context) error { return nil }
	if !Configured(nil) {
		return nothing, nil
	}
	if v := os.Getenv(EnvTracesExporter); v != "" && v != "otlp" {
		return nothing, fmt.Errorf("%w: %s=%s: only otlp (or none) is built in", ErrSetup, EnvTracesExporter, v)
	}
	// The exporters would ignore another protocol and speak theirs to, say,
	// a collector's port of the other one: say so instead.
	protocol := protocolHTTP
	for _, key := range []string{EnvTracesProtocol, EnvProtocol} {
		if p := os.Getenv(key); p != "" {
			if p != protocolHTTP && p != protocolGRPC {
				return nothing, fmt.Errorf("%w: %s=%s: only %s and %s are built in", ErrSetup, key, p, protocolHTTP, protocolGRPC)
			}
			protocol = p
			break
		}
	}
	var exp sdktrace.SpanExporter
	if protocol == protocolGRPC {
		exp, err = otlptracegrpc.New(ctx)
	} else {
		exp, err = otlptracehttp.New(ctx)
	}
	if err != nil {
		return nothing, fmt.Errorf("%w: OTLP exporter (%s): %w", ErrSetup, protocol, err)
	}
	env, err := resource.New(ctx, resource.WithFromEnv(), resource.WithTelemetrySDK())
	if err != nil {
		return nothing, fmt.Errorf("%w: resource: %w", ErrSetup, err)
	}
	res, err := resource.Merge(resource.NewSchemaless(attribute.String("service.name", service)), env)
	if err != nil {
		return nothing, fmt.Errorf("%w: resource: %w", ErrSetup, err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	Install(tp)
	return func(ctx context.Context) error {
		Uninstall()
		return tp.Shutdown(ctx)
	}, nil
}

// Install makes tp the provider of roomkeeper's spans (and the global
// one, with the W3C trace context and baggage propagators) and turns
// tracing on. Tests install an SDK provider with an in-memory exporter.
func Install(tp trace.TracerProvider) {
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(prop)
	t := tp.Tracer(Instrumentation)
	tracer.Store(&t)
	on.Store(true)
}

// Uninstall turns tracing off again (the global provider becomes a
// no-op one).
func Uninstall() {
	on.Store(false)
	tracer.Store(nil)
	otel.SetTracerProvider(noop.NewTracerProvider())
}

var (
	errLog     atomic.Pointer[logrus.FieldLogger]
	errLogOnce sync.Once
)

// SetErrorLog sends OpenTelemetry's own errors (a failed export: the
// collector down or refusing) to log, in the process's log format,
// instead of Go's standard log on stderr. The last call wins.
func SetErrorLog(log logrus.FieldLogger) {
	errLog.Store(&log)
	errLogOnce.Do(func() {
		otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
			if l := errLog.Load(); l != nil {
				(*l).WithError(err).Warn("traces: OpenTelemetry error")
			}
		}))
	})
}

// Enabled reports whether spans are recorded.
func Enabled() bool { return on.Load() }

var noopSpan trace.Span = noop.Span{}

// Start starts a span named name as a child of the span in ctx (or a
// root), with the given kind and attributes. Off, it returns ctx and a
// no-op span, without allocating.
func Start(ctx context.Context, name string, kind trace.SpanKind, attrs ...attribute.KeyValue) (context.Context, trace.Span) {
	if !on.Load() {
		return ctx, noopSpan
	}
	t := tracer.Load()
	if t == nil {
		return ctx, noopSpan
	}
	return (*t).Start(ctx, name, trace.WithSpanKind(kind), trace.WithAttributes(attrs...))
}

// StartOf is Start with the span named verb + " " + object (say,
// "process rooms.cmd.create"), the name made only when tracing is on.
func StartOf(ctx context.Context, verb, object string, kind trace.SpanKind, attrs ...attribute.KeyValue) (context.Context, trace.Span) {
	if !on.Load() {
		return ctx, noopSpan
	}
	return Start(ctx, verb+" "+object, kind, attrs...)
}

// StartLinked is Start with links to other spans (a root, when ctx holds
// no span).
func StartLinked(ctx context.Context, name string, kind trace.SpanKind, links []trace.Link, attrs ...attribute.KeyValue) (context.Context, trace.Span) {
	if !on.Load() {
		return ctx, noopSpan
	}
	t := tracer.Load()
	if t == nil {
		return ctx, noopSpan
	}
	return (*t).Start(ctx, name, trace.WithSpanKind(kind), trace.WithLinks(links...), trace.WithAttributes(attrs...))
}

// End ends span, recording err (when not nil) as its error status.
func End(span trace.Span, err error) {
	if err != nil && span.IsRecording() {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}

// LogFields adds trace_id and span_id of the span recorded in ctx to log;
// it returns log unchanged when there is none.
func LogFields(ctx context.Context, log logrus.FieldLogger) logrus.FieldLogger {
	if !on.Load() {
		return log
	}
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() {
		return log
	}
	return log.WithFields(logrus.Fields{"trace_id": sc.TraceID().String(), "span_id": sc.SpanID().String()})
}

// StartContinued starts a span named name as a child of the span whose
// W3C traceparent is parent (work begun elsewhere that this step
// finishes), linked to the span in ctx, and returns ctx holding it. With
// parent empty or malformed, or off, it returns ctx and a no-op span; so
// it does when parent's trace was not sampled and ctx's was, so that the
// step stays in the trace that is kept rather than be dropped with the
// other.
func StartContinued(ctx context.Context, name, parent string, attrs ...attribute.KeyValue) (context.Context, trace.Span) {
	if !on.Load() {
		return ctx, noopSpan
	}
	sc := FromTraceParent(parent)
	if !sc.IsValid() || (!sc.IsSampled() && trace.SpanContextFromContext(ctx).IsSampled()) {
		return ctx, noopSpan
	}
	links := []trace.Link{trace.LinkFromContext(ctx, attribute.String("link", "cause"))}
	return StartLinked(trace.ContextWithRemoteSpanContext(ctx, sc), name, trace.SpanKindInternal, links, attrs...)
}
