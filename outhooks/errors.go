package outhooks

import "errors"

var (
	// ErrConfig: the dispatcher's configuration is invalid (a target URL
	// that is not http(s), an unknown event name in a filter, no secret).
	ErrConfig = errors.New("outgoing webhooks: invalid configuration")
	// errMalformed: a domain event the dispatcher cannot turn into a
	// webhook (not JSON, no id); it is dead-lettered, never retried.
	errMalformed = errors.New("malformed domain event")
)
