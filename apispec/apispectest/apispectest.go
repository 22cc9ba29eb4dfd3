// Package apispectest checks, in tests, that what roomkeeper's HTTP API
// answers conforms to apispec/openapi.yaml, and that the webhooks its
// dispatcher sends conform to apispec/webhooks.yaml (kin-openapi).
//
// A gateway test routes its client through Transport:
//
//	client := &http.Client{Transport: apispectest.Transport(t, nil)}
//
// and every exchange is checked, a mismatch reported with t.Errorf:
//
//   - the method and path are an operation of the spec (its server is
//     /api/v1 on any host): a test of a path outside the spec (a 404 of an
//     unknown route, /healthz) uses a plain client;
//   - a request the spec rejects (a body, parameter or header that does not
//     conform, such as access.user.enabled true, an empty owner, a missing
//     body or Content-Type on a write) must be answered with a status of 400
//     or more; a conforming request may still be refused (422 for rules the
//     schema cannot say, 401 without a key: the API key is not checked here);
//   - the response's status is documented for the operation, and its
//     headers (Location of a 201), Content-Type and body conform.
//
// A webhook receiver in a test calls ValidateWebhook on each delivery.
// CheckExchange and CheckWebhook are the same checks returning the mismatch.
package apispectest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/roomkeeper/roomkeeper/apispec"
)

// specs are the two documents, loaded once per test binary. mu serialises
// validations: kin-openapi caches compiled schemas in the documents.
type specs struct {
	mu       sync.Mutex
	api      *openapi3.T
	router   routers.Router
	webhooks *openapi3.T
}

var (
	loadOnce sync.Once
	loaded   *specs
	errLoad  error
)

func load() (*specs, error) {
	loadOnce.Do(func() {
		ctx := context.Background()
		api, err := apispec.Load(ctx)
		if err != nil {
			errLoad = err
			return
		}
		router, err := gorillamux.NewRouter(api)
		if err != nil {
			errLoad = fmt.Errorf("apispectest: router: %w", err)
			return
		}
		webhooks, err := apispec.LoadWebhooks(ctx)
		if err != nil {
			errLoad = err
			return
		}
		loaded = &specs{api: api, router: router, webhooks: webhooks}
	})
	return loaded, errLoad
}

// options of the validations: security is the gateway's business (its own
// 401 tests), not the spec check's; every status must be documented.
func options() *openapi3filter.Options {
	return &openapi3filter.Options{
		AuthenticationFunc:    openapi3filter.NoopAuthenticationFunc,
		IncludeResponseStatus: true,
		MultiError:            true,
	}
}

// Transport returns a RoundTripper that sends each request with base
// (http.DefaultTransport when nil) and checks the exchange against
// apispec/openapi.yaml, reporting every mismatch with t.Errorf (method, path,
// status and the validation error). The spec's server is /api/v1 on any host,
// so a test server at http://127.0.0.1:PORT matches. The response body stays
// readable by the caller.
func Transport(t testing.TB, base http.RoundTripper) http.RoundTripper {
	t.Helper()
	if _, err := load(); err != nil {
		t.Fatalf("apispectest: %v", err)
	}
	if base == nil {
		base = http.DefaultTransport
	}
	return &transport{t: t, base: base}
}

// Client returns an http.Client whose Transport is Transport(t, nil).
func Client(t testing.TB) *http.Client {
	t.Helper()
	return &http.Client{Transport: Transport(t, nil)}
}

type transport struct {
	t    testing.TB
	base http.RoundTripper
}

func (tr *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	var reqBody []byte
	if req.Body != nil && req.Body != http.NoBody {
		b, err := io.ReadAll(req.Body)
		_ = req.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("apispectest: reading the request body: %w", err)
		}
		reqBody = b
	}
	out := req.Clone(req.Context())
	if reqBody != nil {
		out.Body = io.NopCloser(bytes.NewReader(reqBody))
		out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(reqBody)), nil }
		out.ContentLength = int64(len(reqBody))
	}
	resp, err := tr.base.RoundTrip(out)
	if err != nil {
		return resp, err
	}
	respBody, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("apispectest: reading the response body: %w", err)
	}
	resp.Body = io.NopCloser(bytes.NewReader(respBody))
	if err := CheckExchange(req.Context(), req, reqBody, resp, respBody); err != nil {
		tr.t.Errorf("apispectest: %s %s: %d: %v\nresponse body: %s", req.Method, req.URL.RequestURI(), resp.StatusCode, err, truncate(respBody))
	}
	return resp, nil
}

// CheckExchange checks one exchange against apispec/openapi.yaml: the route
// exists (ErrNoRoute), a request the spec rejects got a status of 400 or more
// (ErrAcceptedInvalid), and the response conforms (status documented,
// headers, body). req's body is reqBody; resp's body is respBody (their Body
// fields are not read).
func CheckExchange(ctx context.Context, req *http.Request, reqBody []byte, resp *http.Response, respBody []byte) error {
	s, err := load()
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()

	r := req.Clone(ctx)
	r.Body = io.NopCloser(bytes.NewReader(reqBody))
	route, pathParams, err := s.router.FindRoute(r)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrNoRoute, err)
	}
	in := &openapi3filter.RequestValidationInput{Request: r, PathParams: pathParams, Route: route, Options: options()}
	reqErr := openapi3filter.ValidateRequest(ctx, in)
	var errs []error
	if reqErr != nil && resp.StatusCode < 400 {
		errs = append(errs, fmt.Errorf("%w: %w", ErrAcceptedInvalid, reqErr))
	}
	// The request validation may have set defaults into r; the response is
	// checked against the route whatever the request was.
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in,
		Status:                 resp.StatusCode,
		Header:                 resp.Header,
		Options:                options(),
	}
	out.SetBodyBytes(respBody)
	if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
		errs = append(errs, fmt.Errorf("response: %w", err))
	}
	return errors.Join(errs...)
}

// ValidateWebhook checks a webhook delivery against the event's operation in
// apispec/webhooks.yaml (its X-Timestamp and X-Signature headers, its
// Content-Type and its body), reporting a mismatch with t.Errorf. It does not
// check the signature itself (that needs the secret).
func ValidateWebhook(t testing.TB, event string, headers http.Header, body []byte) {
	t.Helper()
	if err := CheckWebhook(context.Background(), event, headers, body); err != nil {
		t.Errorf("apispectest: webhook %s: %v\nbody: %s", event, err, truncate(body))
	}
}

// CheckWebhook is ValidateWebhook's check, returning the mismatch.
func CheckWebhook(ctx context.Context, event string, headers http.Header, body []byte) error {
	s, err := load()
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()

	item := s.webhooks.Webhooks[event]
	if item == nil || item.Post == nil {
		return fmt.Errorf("%w: %q", ErrUnknownEvent, event)
	}
	r, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://webhook.invalid/"+event, bytes.NewReader(body))
	if err != nil {
		return err
	}
	r.Header = headers.Clone()
	if r.Header == nil {
		r.Header = http.Header{}
	}
	route := &routers.Route{Spec: s.webhooks, Path: event, PathItem: item, Method: http.MethodPost, Operation: item.Post}
	in := &openapi3filter.RequestValidationInput{Request: r, Route: route, Options: options()}
	return openapi3filter.ValidateRequest(ctx, in)
}

func truncate(b []byte) string {
	const limit = 2048
	if len(b) > limit {
		return string(b[:limit]) + "…"
	}
	return string(b)
}
