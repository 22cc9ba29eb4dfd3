package queries

import "errors"

// Sentinel errors of the package.
var (
	// ErrConfig: a setting of the query service is missing or out of range.
	ErrConfig = errors.New("invalid queries configuration")
	// ErrPanic wraps a recovered panic of a query handler.
	ErrPanic = errors.New("query handler panicked")
)
