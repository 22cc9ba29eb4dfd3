package rooms

import (
	"context"

	"github.com/sirupsen/logrus"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/handler"
)

// SignalMarked exposes signalMarkedLog to the tests.
func (r *Rooms) SignalMarked(ctx context.Context, roomID string) {
	r.signalMarkedLog(ctx, logrus.StandardLogger(), roomID)
}

// SetSweepConfig replaces the sweep handler of reg (registered by
// Rooms.Register) with one bounded by cfg.
func SetSweepConfig(reg *handler.Registry, r *Rooms, cfg SweepConfig) {
	reg.Remove(events.SubjectSweep)
	bounded := *r
	bounded.Sweep = cfg
	handler.MustRegister(reg, newSweepHandler(&bounded), handler.Options[events.Sweep]{})
}

// RoomIDs is the sanitised, deduplicated room ID list of a delete.
func RoomIDs(raw []string) []string { return roomIDs(raw) }

// FanoutID, ScanStart and ExpireID expose the ID helpers of the sweep.
var (
	FanoutID  = fanoutID
	ScanStart = scanStart
	ExpireID  = expireID
)

// Deletion is what a delete decides for one room (decideDeletion).
type Deletion struct {
	Action, EndAction, SuccessCode, Error, Message string
	EndMeeting, ReturnsRoom, Scheduled             bool
}

// DecideDeletion exposes the deletion matrix.
func DecideDeletion(id string, activeMeeting, hasRecordings bool, withMeeting, withRecordings string) Deletion {
	d := decideDeletion(id, activeMeeting, hasRecordings, withMeeting, withRecordings)
	return Deletion{Action: d.Action, EndAction: d.EndAction, SuccessCode: d.SuccessCode, Error: d.Error,
		Message: d.Message, EndMeeting: d.EndMeeting, ReturnsRoom: d.ReturnsRoom, Scheduled: d.Scheduled()}
}
