package tracing

import "errors"

// ErrSetup: the tracer provider could not be made from the environment.
var ErrSetup = errors.New("tracing setup")
