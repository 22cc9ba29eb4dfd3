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
