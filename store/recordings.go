package store

import (
	"context"

	"github.com/roomkeeper/roomkeeper/events"
)

// Recording statuses (upstream MeetRecordingStatus), from LiveKit's egress
// status.
const (
	RecordingStarting     = "starting"
	RecordingActive       = "active"
	RecordingEnding       = "ending"
	RecordingComplete     = "complete"
	RecordingFailed       = "failed"
	RecordingAborted      = "aborted"
	RecordingLimitReached = "limit_reached"
)

// RecordingRank orders the statuses of one egress as LiveKit moves it:
// starting, active, ending, then one of the final statuses. Two states of
// an egress with the same update time are ordered by it.
func RecordingRank(status string) int {
	switch status {
	case RecordingStarting:
		return 0
	case RecordingActive:
		return 1
	case RecordingEnding:
		return 2
	default:
		return 3
	}
}

// Recording is the metadata kept of one recording of a room: the state of
// its LiveKit egress as the egress webhooks last told it.
type Recording struct {
	EgressID string `bson:"_id"`
	RoomID   string `bson:"roomId"`
	RoomName string `bson:"roomName"`
	// Status is one of the Recording* statuses.
	Status   string `bson:"status"`
	Filename string `bson:"filename"`
	// StartDate and EndDate are epoch ms; zero when unknown.
	StartDate int64 `bson:"startDate"`
	EndDate   int64 `bson:"endDate"`
	// Duration in seconds, Size in bytes; zero when unknown.
	Duration float64 `bson:"duration"`
	Size     int64   `bson:"size"`
	Error    string  `bson:"error"`
	Details  string  `bson:"details"`
	// UpdatedAt is the egress's update time (epoch ns, from LiveKit): with
	// RecordingRank(Status) it orders the states of the egress, so an
	// older state arriving late never replaces a newer one.
	UpdatedAt int64 `bson:"updatedAt"`
	// Rank is RecordingRank(Status), set by PutRecording.
	Rank int `bson:"rank"`
}

// RecordingID is the recording's ID as other services see it:
// <roomId>--<egressId> (upstream's shape, without its file suffix).
func (r *Recording) RecordingID() string { return r.RoomID + "--" + r.EgressID }

// Newer reports whether r is a later state of its egress than old.
func (r *Recording) Newer(old *Recording) bool {
	if r.UpdatedAt != old.UpdatedAt {
		return r.UpdatedAt > old.UpdatedAt
	}
	return RecordingRank(r.Status) > RecordingRank(old.Status)
}

// View is the recording as other services see it (upstream
// MeetRecordingInfo).
func (r *Recording) View() events.Recording {
	v := events.Recording{
		RecordingID: r.RecordingID(), EgressID: r.EgressID, RoomID: r.RoomID, RoomName: r.RoomName,
		Status: r.Status, Filename: r.Filename, Error: r.Error, Details: r.Details,
	}
	if r.StartDate > 0 {
		v.StartDate = &r.StartDate
	}
	if r.EndDate > 0 {
		v.EndDate = &r.EndDate
	}
	if r.Duration > 0 {
		v.Duration = &r.Duration
	}
	if r.Size > 0 {
		v.Size = &r.Size
	}
	return v
}

// RecordingStore keeps recording metadata, keyed by egress ID (part of
// Store).
type RecordingStore interface {
	// PutRecording inserts rec, or replaces the stored state of its
	// egress when rec is newer (Recording.Newer); it sets rec.Rank and
	// reports whether it stored rec. Safe under concurrent calls for one
	// egress: the newest state wins whatever the order of the calls.
	PutRecording(ctx context.Context, rec *Recording) (bool, error)
	// GetRecording reads the recording of an egress; ErrNotFound when
	// there is none.
	GetRecording(ctx context.Context, egressID string) (*Recording, error)
	// RoomRecordings returns up to limit recordings of a room, in egress
	// ID order.
	RoomRecordings(ctx context.Context, roomID string, limit int) ([]Recording, error)
	// DeleteRecordings deletes the recordings of these egresses; those
	// already gone are no error.
	DeleteRecordings(ctx context.Context, egressIDs []string) error
}
