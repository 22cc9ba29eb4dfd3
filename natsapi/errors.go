package natsapi

import "errors"

// Sentinel errors of the package.
var (
	// ErrConfig: a topology or client setting is out of range.
	ErrConfig = errors.New("invalid configuration")
	// ErrMissing: a stream or consumer of the contract does not exist.
	ErrMissing = errors.New("missing")
	// ErrTimeout: no result arrived in time.
	ErrTimeout = errors.New("timed out waiting for the result")
	// ErrNotReplayable: a dead letter names no command or webhook subject to
	// publish its body on again.
	ErrNotReplayable = errors.New("dead letter cannot be replayed")
	// ErrNoService: no worker answered a query (none is running).
	ErrNoService = errors.New("no roomkeeper worker answered")
)
