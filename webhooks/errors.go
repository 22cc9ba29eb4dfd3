package webhooks

import "errors"

// Sentinel errors of the package. A request's error wraps one of them, and
// [StatusOf] maps it to the HTTP status and outcome in one place.
var (
	// ErrConfig: a Config or New argument is invalid.
	ErrConfig = errors.New("invalid webhook receiver configuration")
	// ErrMethod: the request's method is not POST (405).
	ErrMethod = errors.New("method not allowed")
	// ErrTooLarge: the body is larger than Config.MaxBody (413).
	ErrTooLarge = errors.New("webhook body too large")
	// ErrUnauthorized: the Authorization JWT or the body hash is missing or
	// wrong (401).
	ErrUnauthorized = errors.New("webhook signature not valid")
	// ErrMalformed: the body is not a webhook event with an id and a usable
	// event name (400).
	ErrMalformed = errors.New("malformed webhook event")
	// ErrBusy: the body buffers of the requests in flight already take
	// Config.MaxInFlightBytes (503 with a Retry-After).
	ErrBusy = errors.New("webhook receiver busy")
	// ErrUnavailable: JetStream did not store the event (503).
	ErrUnavailable = errors.New("webhook event could not be stored")
)
