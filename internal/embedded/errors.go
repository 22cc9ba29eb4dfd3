package embedded

import "errors"

var (
	// ErrNotReady: the embedded server did not start in time.
	ErrNotReady = errors.New("embedded nats server not ready")
	// ErrListen: the embedded server cannot listen on its address (in
	// use, not a local address); the wrapped error names it.
	ErrListen = errors.New("embedded nats server cannot listen (EMBEDDED_NATS_ADDR)")
	// ErrAuth: the embedded server's keys could not be read or made (a
	// seed or public key file that is malformed, a publisher name that is
	// not allowed, a publisher that exists already).
	ErrAuth = errors.New("embedded nats auth")
)
