package embedded

import "errors"

var (
	// ErrNotReady: the embedded server did not start in time.
	ErrNotReady = errors.New("embedded nats server not ready")
	// ErrAuth: the embedded server's keys could not be read or made (a
	// seed or public key file that is malformed, a publisher name that is
	// not allowed, a publisher that exists already).
	ErrAuth = errors.New("embedded nats auth")
)
