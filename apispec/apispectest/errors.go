package apispectest

import "errors"

// ErrNoRoute is the error of an exchange whose method and path are not in the
// spec.
var ErrNoRoute = errors.New("apispectest: no route in apispec/openapi.yaml")

// ErrAcceptedInvalid is the error of a request the spec rejects that the
// server answered with a status below 400.
var ErrAcceptedInvalid = errors.New("apispectest: the server accepted a request the spec rejects")

// ErrUnknownEvent is the error of a webhook whose event is not in
// apispec/webhooks.yaml.
var ErrUnknownEvent = errors.New("apispectest: unknown webhook event")
