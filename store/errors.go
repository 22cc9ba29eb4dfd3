package store

import "errors"

// Sentinel errors every implementation returns (wrapped with %w).
var (
	// ErrUnsupported: the store does not implement this (yet).
	ErrUnsupported = errors.New("not supported by this store")
	// ErrNotFound: no record with that ID.
	ErrNotFound = errors.New("not found")
	// ErrDuplicate: a record with that ID already exists.
	ErrDuplicate = errors.New("duplicate key")
	// ErrConflict: the record changed since it was read (version mismatch).
	ErrConflict = errors.New("version conflict")
	// ErrUnavailable: the database cannot be reached; retry later.
	ErrUnavailable = errors.New("store unavailable")
	// ErrInvalid: a caller's mistake, such as a completion whose status is
	// neither done nor dead.
	ErrInvalid = errors.New("invalid request")
)
