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
	// errTooLarge: a result, event or fan-out command does not fit in one
	// message of the server.
	errTooLarge = errors.New("message too large to publish")
	// errMaxDeliveries is why a message JetStream gave up on is given up.
	errMaxDeliveries = errors.New(ReasonMaxDeliveries)
	// errNotGivenUp: an advisory names a message the consumer has not
	// (yet) given up on.
	errNotGivenUp = errors.New("message not given up by its consumer")
	// errNotSettled: the ending of an advisory's message must be tried
	// again.
	errNotSettled = errors.New("message not settled")
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
