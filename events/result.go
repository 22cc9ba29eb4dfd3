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
	// CodeConflict: the room's state forbids the command now (an active
	// meeting, for instance); REST 409.
	CodeConflict = "conflict"
)

// HTTPStatus is the REST status an error code maps to, as OpenVidu Meet's
// API answers it (validation errors are 422 Unprocessable Entity).
func HTTPStatus(code string) int {
	switch code {
	case CodeInvalidArgument:
		return 422
	case CodeInvalidSecret:
		return 401
	case CodeForbidden:
		return 403
	case CodeNotFound:
		return 404
	case CodeConflict:
		return 409
	case CodeUnavailable:
		return 503
	default:
		return 500
	}
}

// FieldError names one field that failed validation.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Error is the error of a failed command or query. It is a Go error, so
// handlers return it and the worker turns it into the result.
type Error struct {
	Code string `json:"code"`
	// Name is the upstream error name (OpenVidu Meet's "error" field, e.g.
	// "Room Error", or a deletion error code such as
	// room_has_active_meeting), when it differs from what Code implies.
	Name    string       `json:"name,omitempty"`
	Message string       `json:"message"`
	Details []FieldError `json:"details,omitempty"`
	// Status, when set, is the REST status of this error instead of
	// HTTPStatus(Code); it reaches the result's status.
	Status int `json:"-"`
}

// HTTPStatus is the REST status of the error.
func (e *Error) HTTPStatus() int {
	if e.Status != 0 {
		return e.Status
	}
	return HTTPStatus(e.Code)
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
	CommandID string `json:"commandId"`
	Type      string `json:"type"`
	OK        bool   `json:"ok"`
	// Status is the REST status the result maps to (200, 201, 202, 400,
	// 404, 409, 422, ...): what OpenVidu Meet's API answers for the same
	// request. Results stored before it existed have none (0).
	Status int             `json:"status,omitempty"`
	Data   json.RawMessage `json:"data,omitempty"`
	Error  *Error          `json:"error,omitempty"`
}

// Err returns the result's error, or nil when it succeeded.
func (r *Result) Err() error {
	if r.OK || r.Error == nil {
		return nil
	}
	return r.Error
}

// DeleteResult is the data of a rooms.cmd.delete result: upstream's bulk
// delete body. Every requested room is in Deleted (processed: deleted,
// closed, or scheduled for when its meeting ends) or in Failed.
//
// The result is ok whenever the command was processed, with status 200
// when Failed is empty and 400 otherwise (upstream's bulk answer); a
// command naming exactly one room answers like upstream's single delete
// on success: 200, or 202 when the deletion or closure waits for the
// meeting to end. ok stays true with status 400 because rooms in Deleted
// did change (and their events were published): an ok false result means
// the command had no effect at all. A gateway serving DELETE
// /rooms/{roomId} answers Failed[0] with 404 when its error is
// [DeleteErrorRoom] and 409 otherwise.
type DeleteResult struct {
	// Message: "Bulk deletion request processed successfully", or
	// "<n> room(s) failed to process while deleting".
	Message string        `json:"message,omitempty"`
	Deleted []DeletedRoom `json:"deleted"`
	Failed  []FailedRoom  `json:"failed"`
}

// DeletedRoom is a room a delete processed.
type DeletedRoom struct {
	RoomID string `json:"roomId"`
	// SuccessCode is one of the DeleteSuccess* codes.
	SuccessCode string `json:"successCode"`
	Message     string `json:"message"`
	// Room is the room as it is after the command, for a room that still
	// exists (closed, or scheduled for deletion or closure).
	Room *Room `json:"room,omitempty"`
}

// FailedRoom is a room a delete could not process.
type FailedRoom struct {
	RoomID string `json:"roomId"`
	// Error is one of the DeleteError* codes, or DeleteErrorRoom for a
	// room that does not exist.
	Error   string `json:"error"`
	Message string `json:"message"`
}

// Success codes of a room delete (upstream MeetRoomDeletionSuccessCode).
const (
	DeleteSuccessRoomDeleted                                 = "room_deleted"
	DeleteSuccessRoomWithActiveMeetingDeleted                = "room_with_active_meeting_deleted"
	DeleteSuccessRoomWithActiveMeetingScheduledToBeDeleted   = "room_with_active_meeting_scheduled_to_be_deleted"
	DeleteSuccessRoomAndRecordingsDeleted                    = "room_and_recordings_deleted"
	DeleteSuccessRoomClosed                                  = "room_closed"
	DeleteSuccessRoomWithActiveMeetingAndRecordingsDeleted   = "room_with_active_meeting_and_recordings_deleted"
	DeleteSuccessRoomWithActiveMeetingClosed                 = "room_with_active_meeting_closed"
	DeleteSuccessRoomWithActiveMeetingAndRecordingsScheduled = "room_with_active_meeting_and_recordings_scheduled_to_be_deleted"
	DeleteSuccessRoomWithActiveMeetingScheduledToBeClosed    = "room_with_active_meeting_scheduled_to_be_closed"
)

// Error codes of a room delete (upstream MeetRoomDeletionErrorCode), and
// DeleteErrorRoom, upstream's error name of a room that does not exist.
const (
	DeleteErrorRoomHasActiveMeeting                        = "room_has_active_meeting"
	DeleteErrorRoomHasRecordings                           = "room_has_recordings"
	DeleteErrorRoomWithActiveMeetingHasRecordings          = "room_with_active_meeting_has_recordings"
	DeleteErrorRoomWithActiveMeetingCannotScheduleDeletion = "room_with_active_meeting_has_recordings_cannot_schedule_deletion"
	DeleteErrorRoomWithRecordingsHasActiveMeeting          = "room_with_recordings_has_active_meeting"
	DeleteErrorRoom                                        = "Room Error"
)

// SweepResult is the data of a rooms.cmd.sweep result.
type SweepResult struct {
	Expired        int `json:"expired"`
	DeleteCommands int `json:"deleteCommands"`
	Reconciled     int `json:"reconciled"`
	// MeetingsEnded and MeetingsWarned: meetings ended for being over
	// their duration limit, and meetings warned that they reach it soon
	// (absent when none).
	MeetingsEnded  int `json:"meetingsEnded,omitempty"`
	MeetingsWarned int `json:"meetingsWarned,omitempty"`
}
