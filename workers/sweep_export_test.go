package workers

import "github.com/roomkeeper/roomkeeper/events"

// SetSweepConfig replaces the sweep handler of reg (registered by
// Rooms.Register) with one bounded by cfg.
func SetSweepConfig(reg *Registry, r *Rooms, cfg SweepConfig) {
	Unregister(reg, events.SubjectSweep)
	MustRegister(reg, sweepHandler{Rooms: r, cfg: cfg.WithDefaults()}, Options[events.Sweep]{})
}

// Unregister removes the handler of subject, for tests that plug in their
// own.
func Unregister(reg *Registry, subject string) { delete(reg.routes, subject) }

// FanoutID, ScanStart and ExpireID expose the ID helpers of the sweep.
var (
	FanoutID  = fanoutID
	ScanStart = scanStart
	ExpireID  = expireID
)
