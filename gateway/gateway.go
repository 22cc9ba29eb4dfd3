package gateway

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/internal/tracing"
	"github.com/roomkeeper/roomkeeper/natsapi"
)

// Prefix is the path every route of the gateway is under.
const Prefix = "/api/v1/"

// Headers of the gateway.
const (
	// HeaderAPIKey carries the caller's API key.
	HeaderAPIKey = "X-API-KEY"
	// HeaderIdempotencyKey is the command ID of a write, in the request
	// (optional) and in the response (always).
	HeaderIdempotencyKey = "Idempotency-Key"
	// IDPrefix starts the command IDs the gateway makes.
	IDPrefix = "http-"
)

// Gateway is the HTTP API, an http.Handler serving under Prefix.
type Gateway struct {
	cfg Config
	mux *http.ServeMux
}

// New returns a gateway.
func New(cfg Config) (*Gateway, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	g := &Gateway{cfg: cfg, mux: http.NewServeMux()}
	g.route("POST /api/v1/rooms", false, g.createRoom)
	g.route("GET /api/v1/rooms", false, g.listRooms)
	g.route("DELETE /api/v1/rooms", false, g.bulkDelete)
	g.route("GET /api/v1/rooms/{roomId}", true, g.getRoom)
	g.route("DELETE /api/v1/rooms/{roomId}", false, g.deleteRoom)
	g.route("GET /api/v1/rooms/{roomId}/config", true, g.getConfig)
	g.route("PUT /api/v1/rooms/{roomId}/config", false, g.update(events.SubjectUpdateConfig))
	g.route("PUT /api/v1/rooms/{roomId}/status", false, g.updateStatus)
	g.route("PUT /api/v1/rooms/{roomId}/roles", false, g.update(events.SubjectUpdateRoles))
	g.route("PUT /api/v1/rooms/{roomId}/access", false, g.update(events.SubjectUpdateAccess))
	g.mux.HandleFunc("GET /api/v1/openapi.yaml", g.spec)
	for path, allow := range map[string]string{
		"/api/v1/rooms":                 "GET, POST, DELETE",
		"/api/v1/rooms/{roomId}":        "GET, DELETE",
		"/api/v1/rooms/{roomId}/config": "GET, PUT",
		"/api/v1/rooms/{roomId}/status": "PUT",
		"/api/v1/rooms/{roomId}/roles":  "PUT",
		"/api/v1/rooms/{roomId}/access": "PUT",
		"/api/v1/openapi.yaml":          "GET",
	} {
		g.mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", allow)
			writeError(w, http.StatusMethodNotAllowed, "Method Not Allowed", r.Method+" is not allowed on "+r.URL.Path)
		})
	}
	g.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "Not Found", "no route "+r.Method+" "+r.URL.Path)
	})
	return g, nil
}

// ServeHTTP serves a request; a handler that panics answers 500. With
// tracing on, the request is a server span (continuing the caller's W3C
// traceparent, if any) under which the command's publish is made.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if tracing.Enabled() {
		ctx := tracing.Propagator().Extract(r.Context(), propagation.HeaderCarrier(r.Header))
		_, pattern := g.mux.Handler(r)
		ctx, span := tracing.Start(ctx, "HTTP "+pattern, trace.SpanKindServer,
			attribute.String("http.request.method", r.Method), attribute.String("url.path", r.URL.Path))
		defer span.End()
		r = r.WithContext(ctx)
	}
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler { //nolint:errorlint // a sentinel re-panicked as is
				panic(v)
			}
			g.cfg.Log.WithField("path", r.URL.Path).Errorf("gateway handler panicked: %v", v)
			writeError(w, http.StatusInternalServerError, "Internal Server Error", "Unexpected error occurred")
		}
	}()
	g.mux.ServeHTTP(w, r)
}

// member is a caller admitted by a room secret instead of an API key.
type member struct{ secret string }

type handlerFunc func(w http.ResponseWriter, r *http.Request, m *member)

// route registers h behind the API key check; withSecret also admits a
// caller without a key who gives a room secret (the `secret` query
// parameter), which the queries check.
func (g *Gateway) route(pattern string, withSecret bool, h handlerFunc) {
	g.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		if key := r.Header.Get(HeaderAPIKey); key != "" || !withSecret || r.URL.Query().Get("secret") == "" {
			if !g.cfg.Keys.Match(key) {
				writeError(w, http.StatusUnauthorized, "Authentication Error", "Unauthorized")
				return
			}
			h(w, r, nil)
			return
		}
		h(w, r, &member{secret: r.URL.Query().Get("secret")})
	})
}

func (g *Gateway) spec(w http.ResponseWriter, _ *http.Request) {
	if g.cfg.Spec == nil {
		writeError(w, http.StatusNotFound, "Not Found", "no OpenAPI document")
		return
	}
	w.Header().Set("Content-Type", "application/yaml")
	_, _ = w.Write(g.cfg.Spec)
}

// errorBody is upstream's error body; a 503 for a command also names its
// ID.
type errorBody struct {
	Error     string              `json:"error"`
	Message   string              `json:"message"`
	Details   []events.FieldError `json:"details,omitempty"`
	CommandID string              `json:"commandId,omitempty"`
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	raw, err := json.Marshal(body)
	if err != nil {
		status, raw = http.StatusInternalServerError, []byte(`{"error":"Internal Server Error","message":"Unexpected error occurred"}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(raw)
}

func writeError(w http.ResponseWriter, status int, name, message string) {
	writeJSON(w, status, errorBody{Error: name, Message: message})
}

// invalid answers upstream's validation error (422).
func invalid(w http.ResponseWriter, details ...events.FieldError) {
	writeJSON(w, http.StatusUnprocessableEntity, errorBody{Error: "Unprocessable Entity", Message: "Invalid request", Details: details})
}

// errorNames are upstream's error names by status, for errors that carry
// none.
var errorNames = map[int]string{
	400: "Bad Request", 401: "Authentication Error", 403: "Authorization Error", 404: "Room Error",
	409: "Room Error", 413: "Payload Too Large", 422: "Unprocessable Entity", 503: "Service Unavailable",
}

// writeEventsError answers a command's or query's *Error with its status
// (status when not 0) and upstream's body.
func writeEventsError(w http.ResponseWriter, status int, e *events.Error) {
	if status == 0 {
		status = e.HTTPStatus()
	}
	name := e.Name
	if name == "" || status == http.StatusUnauthorized { // upstream's 401 is always an Authentication Error
		if name = errorNames[status]; name == "" {
			name = "Internal Server Error"
		}
	}
	body := errorBody{Error: name, Message: e.Message, Details: e.Details}
	if status == http.StatusUnprocessableEntity && len(e.Details) > 0 {
		body.Message = "Invalid request"
	}
	writeJSON(w, status, body)
}

// writeQueryError answers the error of a query.
func (g *Gateway) writeQueryError(w http.ResponseWriter, r *http.Request, err error) {
	if e, ok := events.AsError(err); ok {
		writeEventsError(w, 0, e)
		return
	}
	switch {
	case errors.Is(err, natsapi.ErrNoService):
		writeError(w, http.StatusServiceUnavailable, "Service Unavailable", "no roomkeeper worker answered; retry later")
	case errors.Is(err, context.DeadlineExceeded) && r.Context().Err() == nil:
		writeError(w, http.StatusServiceUnavailable, "Service Unavailable", "no reply in time; retry later")
	default:
		g.cfg.Log.WithError(err).WithField("path", r.URL.Path).Warn("query failed")
		writeError(w, http.StatusServiceUnavailable, "Service Unavailable", "the query failed; retry later")
	}
}

// query runs a rooms.api.* query bounded by the command timeout and
// answers its reply as is; false (answered) when it failed.
func (g *Gateway) query(w http.ResponseWriter, r *http.Request, subject string, req any) (json.RawMessage, bool) {
	ctx, cancel := context.WithTimeout(r.Context(), g.cfg.CommandTimeout)
	defer cancel()
	var reply json.RawMessage
	if err := g.cfg.Client.Request(ctx, subject, req, &reply); err != nil {
		g.writeQueryError(w, r, err)
		return nil, false
	}
	return reply, true
}

// readBody reads a JSON object body (an empty body is {}); false
// (answered) when it is too large (413), not JSON (400, upstream's
// "Malformed body") or not an object (422).
func (g *Gateway) readBody(w http.ResponseWriter, r *http.Request) (map[string]json.RawMessage, bool) {
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, g.cfg.MaxBodyBytes))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		writeError(w, http.StatusRequestEntityTooLarge, "Payload Too Large", fmt.Sprintf("the body is over %d bytes", tooLarge.Limit))
		return nil, false
	case err != nil:
		writeError(w, http.StatusBadRequest, "Bad Request", "the body could not be read")
		return nil, false
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return map[string]json.RawMessage{}, true
	}
	// One parse: a syntax error is a malformed body; JSON that is not an
	// object (an array, a string, null) is the wrong type.
	var obj map[string]json.RawMessage
	var wrongType *json.UnmarshalTypeError
	switch err := json.Unmarshal(raw, &obj); {
	case errors.As(err, &wrongType) || (err == nil && obj == nil):
		invalid(w, events.FieldError{Field: "body", Message: "Expected object"})
		return nil, false
	case err != nil:
		writeError(w, http.StatusBadRequest, "Bad Request", "Malformed body")
		return nil, false
	}
	return obj, true
}

// commandID is the request's Idempotency-Key, or a new ID; false
// (answered 422) when the key is not a valid command ID or starts with a
// prefix roomkeeper keeps for its own commands.
func commandID(w http.ResponseWriter, r *http.Request) (string, bool) {
	key := r.Header.Get(HeaderIdempotencyKey)
	if key == "" {
		return newID(), true
	}
	if _, reserved := events.ReservedCommandID(key); reserved || !events.ValidCommandID(key) {
		invalid(w, events.FieldError{Field: HeaderIdempotencyKey,
			Message: "must be 1 to 128 letters, digits, '-', '_' or ':', not starting with one of " + strings.Join(events.ReservedIDPrefixes, " ")})
		return "", false
	}
	return key, true
}

var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return IDPrefix + idEncoding.EncodeToString(b[:])
}

// command publishes body on subject as command id and waits for its
// result. It answers itself (false) when there is no result: 503 with the
// command ID when none came in time or JetStream did not take the command,
// 422 when id belongs to another kind of command. A result that is not ok
// is answered with its error, the fields of its details renamed by field
// when not nil (a command's field that is a path parameter of the
// request). On true, the caller answers the ok result.
func (g *Gateway) command(w http.ResponseWriter, r *http.Request, id, subject string, body any, field func(string) string) (*events.Result, bool) {
	w.Header().Set(HeaderIdempotencyKey, id)
	raw, err := json.Marshal(body)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "Internal Server Error", "Unexpected error occurred")
		return nil, false
	}
	ctx, cancel := context.WithTimeout(r.Context(), g.cfg.CommandTimeout)
	defer cancel()
	unavailable := func(why string, err error) {
		g.cfg.Log.WithError(err).WithField("commandId", id).Warn(why)
		w.Header().Set("Retry-After", "1")
		writeJSON(w, http.StatusServiceUnavailable, errorBody{
			Error: "Service Unavailable", CommandID: id,
			Message: why + "; retry with " + HeaderIdempotencyKey + " " + id + " to get its result",
		})
	}
	if err := g.cfg.Client.SendRaw(ctx, id, subject, raw); err != nil {
		unavailable("the command was not taken", err)
		return nil, false
	}
	res, err := g.cfg.Client.Result(ctx, id)
	if err != nil {
		unavailable(fmt.Sprintf("no result within %s", g.cfg.CommandTimeout), err)
		return nil, false
	}
	if res.Type != subject {
		invalid(w, events.FieldError{Field: HeaderIdempotencyKey, Message: "already used by a " + events.CommandType(res.Type) + " command"})
		return nil, false
	}
	if !res.OK && res.Error != nil {
		e := res.Error
		if field != nil && len(e.Details) > 0 {
			renamed := *e
			renamed.Details = make([]events.FieldError, len(e.Details))
			for i, d := range e.Details {
				renamed.Details[i] = events.FieldError{Field: field(d.Field), Message: d.Message}
			}
			e = &renamed
		}
		writeEventsError(w, res.Status, e)
		return nil, false
	}
	return res, true
}

// status is the REST status of an ok result (200 for a result stored
// before results had one).
func status(res *events.Result) int {
	if res.Status == 0 {
		return http.StatusOK
	}
	return res.Status
}

func writeRaw(w http.ResponseWriter, status int, raw json.RawMessage) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(raw)
}
