package rooms

import (
	"context"
	"time"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/handler"
)

// SweepConfig bounds the work of one rooms.cmd.sweep. Whatever a sweep
// leaves over is found by the next one (the scheduler publishes one per
// SWEEP_INTERVAL), so the bounds trade how fast a backlog drains for how
// large one sweep's ledger record and publish burst get.
type SweepConfig struct {
	// PageSize is the number of rooms read per store query (keyset pages of
	// ExpiredRooms and MarkedRooms). Default 500.
	PageSize int
	// MaxDeleteCommands bounds the rooms.cmd.delete commands one sweep
	// publishes for expired rooms. They are kept in the sweep's ledger
	// record (about 220 bytes each) and published in one asynchronous burst,
	// so the default, 2000, stays below the NATS client's 4000 pending
	// asynchronous publishes and far below MongoDB's 16 MiB per document.
	// With the default SWEEP_INTERVAL of one minute that drains 120,000
	// expired rooms an hour.
	MaxDeleteCommands int
	// MaxReconcile bounds the rooms checked against LiveKit per sweep (the
	// rooms marked for deletion or with an active meeting). Each check is one
	// LiveKit call. When there are more, each sweep starts at a different
	// place in the ID order and wraps around, so every room is checked over
	// successive sweeps. Default 5000.
	MaxReconcile int
	// ReconcileConcurrency is the number of LiveKit calls in flight during
	// reconciliation and the duration limits. Default 8.
	ReconcileConcurrency int
	// MaxDurationChecks bounds the rooms with an active meeting read per
	// sweep for their duration limit (config.maxDurationMinutes); each of
	// them that has a limit costs one LiveKit call. When there are more,
	// each sweep starts at a different place in the order of room names
	// and wraps around. Default 5000.
	MaxDurationChecks int
	// DurationWarning is how long before its duration limit a meeting's
	// participants are warned, once, with a meet_meeting_ending_soon
	// signal (upstream MEETING_DURATION_WARNING_REMAINING). Default 5
	// minutes; negative: no warning.
	DurationWarning time.Duration
	// LedgerRetention is how long a command's ledger record is kept after
	// it is done; every sweep deletes older ones (store.PruneCommands).
	// Default DefaultLedgerRetention; negative: never prune.
	//
	// The ledger is what makes a repeated command ID harmless once the
	// streams' duplicates window (10 min by default) has passed: a delivery
	// that finds the record done only republishes the stored result. After
	// the record is pruned, a command with the same ID is claimed afresh
	// and applied again. So the retention must stay far beyond every way an
	// ID can come back: redeliveries (AckWait plus backoff, bounded by the
	// duplicates window), a client repeating a command after reading its
	// result, whose stream keeps results 24 h, and a replay of the webhooks
	// stream, which keeps messages 7 days (a record is done after its
	// message was published, so with 7 days the message is gone first).
	LedgerRetention time.Duration
	// MaxPrune bounds the ledger records one sweep deletes, in statements
	// of at most pruneBatch, so a backlog (the first sweep after an upgrade)
	// drains over several sweeps without holding the store's writer long.
	// Default 10000.
	MaxPrune int
}

// DefaultLedgerRetention is the default of SweepConfig.LedgerRetention.
const DefaultLedgerRetention = 7 * 24 * time.Hour

// DefaultDurationWarning is the default of SweepConfig.DurationWarning.
const DefaultDurationWarning = 5 * time.Minute

// pruneBatch is the most ledger records one PruneCommands call deletes.
const pruneBatch = 1000

// WithDefaults returns c with zero fields set to their defaults.
func (c SweepConfig) WithDefaults() SweepConfig {
	if c.PageSize <= 0 {
		c.PageSize = 500
	}
	if c.MaxDeleteCommands <= 0 {
		c.MaxDeleteCommands = 2000
	}
	if c.MaxReconcile <= 0 {
		c.MaxReconcile = 5000
	}
	if c.ReconcileConcurrency <= 0 {
		c.ReconcileConcurrency = 8
	}
	if c.MaxDurationChecks <= 0 {
		c.MaxDurationChecks = 5000
	}
	if c.DurationWarning == 0 {
		c.DurationWarning = DefaultDurationWarning
	}
	if c.LedgerRetention == 0 {
		c.LedgerRetention = DefaultLedgerRetention
	}
	if c.MaxPrune <= 0 {
		c.MaxPrune = 10000
	}
	return c
}

// Message ID prefixes of the commands a sweep publishes.
const (
	// ExpirePrefix: the delete of an expired room, "expire-<roomId>" for
	// the first attempt and "expire-<roomId>:<n>" for the n-th retry
	// (expireID). Every sweep publishes the room's current attempt (see
	// expireAttempt): the same ID while that attempt may still delete the
	// room, so a room whose delete is still queued or retrying gets no
	// second command (JetStream drops the copy inside the duplicates
	// window, the ledger after it); the next ID once the attempt ended
	// without deleting it (an "unavailable" result after LiveKit or the
	// store was down through every delivery), so a later sweep tries again
	// rather than being answered from the ledger for its whole retention.
	ExpirePrefix = "expire-"
	// ReconcilePrefix: "reconcile-<roomId>-<sweep ID>", the delete of a room
	// marked for deletion whose LiveKit room is gone. Per sweep, so a room
	// that a later sweep finds in the same state is tried again.
	ReconcilePrefix = "reconcile-"
)

// sweepHandler applies rooms.cmd.sweep: it fans expired rooms out as one
// graceful rooms.cmd.delete each, reconciles rooms with LiveKit, and
// enforces the meetings' duration limits (limits.go).
//
// Every effect is safe to repeat. The delete commands go out through the
// outcome's Publish list, so the pipeline stores them in the ledger before
// publishing them with their message IDs: a crash before that publishes
// nothing, a crash after it republishes the same IDs, which JetStream drops.
// The reconciliation decision (which rooms LiveKit no longer has) is the
// command's plan, taken once; its meeting_ended updates are
// compare-and-set writes that carry the sweep's ID. So is the duration
// limits' decision (which meetings to end or warn); a warning is recorded
// on its room with a compare-and-set write that carries the sweep's ID.
type sweepHandler struct {
	*Rooms
	cfg SweepConfig
}

func newSweepHandler(r *Rooms) sweepHandler {
	return sweepHandler{Rooms: r, cfg: r.Sweep.WithDefaults()}
}

func (h sweepHandler) Handle(ctx context.Context, job *handler.Job[events.Sweep]) (*handler.Outcome, error) {
	plan, err := handler.Plan(ctx, job, func() (reconcilePlan, error) { return h.reconcile(ctx, job) })
	if err != nil {
		return nil, err
	}
	out := &handler.Outcome{}
	expired, more, err := h.expire(ctx, job.Now, out)
	if err != nil {
		return nil, err
	}
	reconciled, err := h.applyReconcile(ctx, job, plan, out)
	if err != nil {
		return nil, err
	}
	ended, warned, err := h.applyLimits(ctx, job, plan.Limits)
	if err != nil {
		return nil, err
	}
	res := events.SweepResult{Expired: expired, DeleteCommands: len(out.Publish), Reconciled: reconciled,
		MeetingsEnded: ended, MeetingsWarned: warned}
	out.Data = res
	h.report(ctx, job, res, more)
	return out, nil
}

// report logs the sweep, prunes the ledger and tells the observer.
func (h sweepHandler) report(ctx context.Context, job *handler.Job[events.Sweep], res events.SweepResult, more bool) {
	log := job.Log.WithField("expired", res.Expired).WithField("delete_commands", res.DeleteCommands).WithField("reconciled", res.Reconciled).
		WithField("meetings_ended", res.MeetingsEnded).WithField("meetings_warned", res.MeetingsWarned)
	var pruned int64
	if h.cfg.LedgerRetention > 0 {
		var err error
		pruned, err = h.prune(ctx, job.Now.Add(-h.cfg.LedgerRetention))
		log = log.WithField("pruned", pruned)
		if err != nil {
			// Not the sweep's business to fail for: the next one prunes.
			log.WithError(err).Warn("pruning the command ledger failed")
		} else if pruned >= int64(h.cfg.MaxPrune) {
			log.WithField("prune_bound", h.cfg.MaxPrune).Info("more ledger records to prune; the next sweep continues")
		}
	}
	if more {
		log = log.WithField("bound", h.cfg.MaxDeleteCommands)
		log.Warn("more expired rooms than one sweep handles; the next sweep continues")
	} else if res != (events.SweepResult{}) || pruned > 0 {
		log.Info("sweep done")
	} else {
		// An idle sweep, every interval: nothing to say at info.
		log.Debug("sweep done")
	}
	if h.Sweeps != nil {
		h.Sweeps.SweepObserved(time.Since(job.Now), res.Expired, res.DeleteCommands, res.Reconciled)
	}
}

// prune deletes up to MaxPrune done ledger records older than before, in
// calls of at most pruneBatch, and returns how many went. It is not one of
// the sweep's effects (its record holds nothing of it): deleting what is
// already old enough is harmless to repeat, and a redelivered sweep simply
// prunes what has aged since.
func (h sweepHandler) prune(ctx context.Context, before time.Time) (int64, error) {
	var total int64
	for total < int64(h.cfg.MaxPrune) {
		limit := min(pruneBatch, h.cfg.MaxPrune-int(total))
		n, err := h.Store.PruneCommands(ctx, before, limit)
		total += n
		if err != nil || n < int64(limit) {
			return total, err
		}
	}
	return total, nil
}
