package handler

import (
	"errors"
	"fmt"
	"time"
)

// ErrDuplicateHandler: a handler for the subject is already registered.
var ErrDuplicateHandler = errors.New("handler already registered")

// RetryError tells the runtime to retry the message later (nak with
// Delay). Any error that is neither an *events.Error nor a RetryError is
// retried with the runtime's growing backoff.
type RetryError struct {
	Delay time.Duration
	Err   error
}

func (e *RetryError) Error() string { return fmt.Sprintf("retry in %s: %v", e.Delay, e.Err) }
func (e *RetryError) Unwrap() error { return e.Err }

// RetryAfter returns an error that retries the message after d.
func RetryAfter(d time.Duration, err error) error { return &RetryError{Delay: d, Err: err} }
