package sqlite

import "errors"

var (
	// ErrInvalidConfig: a Config field is out of range (see Config).
	ErrInvalidConfig = errors.New("sqlite: invalid config")
	// ErrSchemaTooNew: the file was written by a newer roomkeeper, whose
	// schema this one does not know.
	ErrSchemaTooNew = errors.New("sqlite: database schema is newer than this program")

	// errOutbox: an outbox column that does not decode.
	errOutbox = errors.New("sqlite: malformed outbox")

	// errWritePanic fails the writes of a batch in which one panicked.
	errWritePanic = errors.New("sqlite: write panicked")
)
