package apispectest

import "errors"

// ErrNoRoute is the error of an exchange whose method and path are not in the
// spec.
var ErrNoRoute = errors.New("apispectest: no route in apispec/openapi.yaml")

// ErrRouted is the error of an exchange sent through Unrouted whose method
// and path are in the spec: it belongs to Transport.
var ErrRouted = errors.New("apispectest: the route is in apispec/openapi.yaml; send it through Transport")

// ErrUnroutedAnswer is the error of an answer to a request outside the spec
// that is not the spec's NoRoute answer (404, or 405 with Allow, and the
// Error body).
var ErrUnroutedAnswer = errors.New("apispectest: not the spec's answer to a route outside it")

// ErrAcceptedInvalid is the error of a request the spec rejects that the
// server answered with a status below 400.
var ErrAcceptedInvalid = errors.New("apispectest: the server accepted a request the spec rejects")

// ErrUnknownEvent is the error of a webhook whose event is not in
// apispec/webhooks.yaml.
var ErrUnknownEvent = errors.New("apispectest: unknown webhook event")
