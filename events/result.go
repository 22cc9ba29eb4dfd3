package events

import (
	"encoding/json"
	"errors"
	"fmt"
)

// Error codes of results and query replies.
const (
	CodeInvalidArgument = "invalid_argument"
	CodeNotFound        = "not_found"
	CodeInvalidSecret   = "invalid_secret"
	CodeForbidden       = "forbidden"
	CodeUnavailable     = "unavailable"
	CodeInternal        = "internal"
)

// FieldError names one field that failed validation.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Error is the error of a failed command or query. It is a Go error, so
// handlers return it and the worker turns it into the result.
type Error struct {
	Code    string       `json:"code"`
	Message string       `json:"message"`
	Details []FieldError `json:"details,omitempty"`
}

func (e *Error) Error() string {
	if len(e.Details) == 0 {
		return e.Code + ": " + e.Message
	}
	return fmt.Sprintf("%s: %s (%s: %s)", e.Code, e.Message, e.Details[0].Field, e.Details[0].Message)
}

// Errorf returns an *Error with the given code.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Invalid returns an invalid_argument error naming the fields at fault.
func Invalid(message string, details ...FieldError) *Error {
	return &Error{Code: CodeInvalidArgument, Message: message, Details: details}
}

// AsError returns the *Error in err's chain, if any.
func AsError(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

// Result is the one result of a command, published on
// rooms.results.<commandId> and kept in the command ledger.
type Result struct {
	CommandID string          `json:"commandId"`
	Type      string          `json:"type"`
	OK        bool            `json:"ok"`
	Data      json.RawMessage `json:"data,omitempty"`
	Error     *Error          `json:"error,omitempty"`
}

// Err returns the result's error, or nil when it succeeded.
func (r *Result) Err() error {
	if r.OK || r.Error == nil {
		return nil
	}
	return r.Error
}

// DeleteResult is the data of a rooms.cmd.delete result.
type DeleteResult struct {
	Deleted           []string `json:"deleted"`
	MarkedForDeletion []string `json:"markedForDeletion"`
}

// SweepResult is the data of a rooms.cmd.sweep result.
type SweepResult struct {
	Expired        int `json:"expired"`
	DeleteCommands int `json:"deleteCommands"`
	Reconciled     int `json:"reconciled"`
}
