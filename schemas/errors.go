package schemas

import "errors"

// Sentinel errors of the package.
var (
	// ErrUnknownSubject: no command or query schema exists for the subject.
	// The caller decides what that means (the worker answers an unknown
	// rooms.cmd.<type> with an invalid_argument result).
	ErrUnknownSubject = errors.New("no schema for subject")
	// ErrUnknownSchema: Validate was given a name that [Names] does not list.
	ErrUnknownSchema = errors.New("unknown schema")
)
