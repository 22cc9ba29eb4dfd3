package workers

import (
	"errors"
)

// Sentinel errors of the package.
var (
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
)
