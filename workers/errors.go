package workers

import (
	"errors"
	"fmt"
	"time"
)

// Sentinel errors of the package.
var (
	// ErrDuplicateHandler: a handler for the subject is already registered.
	ErrDuplicateHandler = errors.New("handler already registered")
	// ErrConfig: a worker setting is out of range.
	ErrConfig = errors.New("invalid worker configuration")
	// ErrPanic wraps a recovered handler panic.
	ErrPanic = errors.New("handler panicked")
	// errCrash is returned by a test fault hook: the pipeline stops as if the
	// process had died, with neither ack nor nak.
	errCrash = errors.New("simulated crash")
)

// RetryError tells the worker to retry the message later: nak with Delay.
// Any error that is neither an *events.Error nor a RetryError is retried
// with the worker's growing backoff.
type RetryError struct {
	Delay time.Duration
	Err   error
}

func (e *RetryError) Error() string { return fmt.Sprintf("retry in %s: %v", e.Delay, e.Err) }
func (e *RetryError) Unwrap() error { return e.Err }

// RetryAfter returns an error that naks the message with delay d.
func RetryAfter(d time.Duration, err error) error { return &RetryError{Delay: d, Err: err} }
