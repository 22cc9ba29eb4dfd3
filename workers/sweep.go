package workers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/store"
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
	// reconciliation. Default 8.
	ReconcileConcurrency int
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
// graceful rooms.cmd.delete each, and reconciles rooms with LiveKit.
//
// Every effect is safe to repeat. The delete commands go out through the
// outcome's Publish list, so the pipeline stores them in the ledger before
// publishing them with their message IDs: a crash before that publishes
// nothing, a crash after it republishes the same IDs, which JetStream drops.
// The reconciliation decision (which rooms LiveKit no longer has) is the
// command's plan, taken once; its meeting_ended updates are
// compare-and-set writes that carry the sweep's ID.
type sweepHandler struct {
	*Rooms
	cfg SweepConfig
}

func newSweepHandler(r *Rooms) sweepHandler {
	return sweepHandler{Rooms: r, cfg: SweepConfig{}.WithDefaults()}
}

// reconcilePlan is what a sweep decided from LiveKit at its first delivery.
type reconcilePlan struct {
	// Delete: rooms marked for deletion that LiveKit does not have (their
	// room_finished was lost); a graceful delete removes them.
	Delete []string `json:"delete,omitempty"`
	// EndMeeting: rooms whose meeting status is active while LiveKit has no
	// such room, with the version that was read; the update is skipped if
	// the room changed since (a webhook came in).
	EndMeeting []roomVersion `json:"endMeeting,omitempty"`
}

type roomVersion struct {
	RoomID  string `json:"roomId"`
	Version int64  `json:"version"`
}

func (h sweepHandler) Handle(ctx context.Context, job *Job[events.Sweep]) (*Outcome, error) {
	plan, err := Plan(ctx, job, func() (reconcilePlan, error) { return h.reconcile(ctx, job) })
	if err != nil {
		return nil, err
	}
	expired, more, err := h.expired(ctx, job.Now.UnixMilli())
	if err != nil {
		return nil, err
	}

	out := &Outcome{}
	res := events.SweepResult{Expired: len(expired)}
	for _, id := range expired {
		cmdID, err := h.expireAttempt(ctx, id)
		if err != nil {
			return nil, err
		}
		m, err := deleteCommand(cmdID, id)
		if err != nil {
			return nil, err
		}
		out.Publish = append(out.Publish, m)
	}

	reconciled := map[string]bool{}
	for _, rv := range plan.EndMeeting {
		room, err := h.updateRoom(ctx, rv.RoomID, job.ID, func(r *store.Room) bool {
			if r.Version != rv.Version || r.Meeting != store.MeetingActive {
				return false
			}
			r.Meeting = store.MeetingEnded
			return true
		})
		if errors.Is(err, errGone) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if !room.WasApplied(job.ID) {
			continue // changed meanwhile: the next sweep looks again
		}
		if err := out.Event(job.ID, events.EventMeetingEnded, rv.RoomID, job.Now, map[string]string{"roomId": rv.RoomID}); err != nil {
			return nil, err
		}
		reconciled[rv.RoomID] = true
	}
	for _, id := range plan.Delete {
		m, err := deleteCommand(fanoutID(ReconcilePrefix+id+"-", job.ID), id)
		if err != nil {
			return nil, err
		}
		out.Publish = append(out.Publish, m)
		reconciled[id] = true
	}
	res.DeleteCommands = len(out.Publish)
	res.Reconciled = len(reconciled)
	out.Data = res

	log := job.Log.WithField("expired", res.Expired).WithField("delete_commands", res.DeleteCommands).WithField("reconciled", res.Reconciled)
	if h.cfg.LedgerRetention > 0 {
		pruned, err := h.prune(ctx, job.Now.Add(-h.cfg.LedgerRetention))
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
	} else {
		log.Info("sweep done")
	}
	if h.Sweeps != nil {
		h.Sweeps.SweepObserved(time.Since(job.Now), res.Expired, res.DeleteCommands, res.Reconciled)
	}
	return out, nil
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

// expired returns the IDs of up to MaxDeleteCommands rooms, not marked for
// deletion, whose autoDeletionDate is at or before now, the longest expired
// first, read through the store's expiry index in keyset pages (each costs
// about PageSize rooms, however large the backlog); more reports that
// there are others beyond the bound.
func (h sweepHandler) expired(ctx context.Context, now int64) (ids []string, more bool, err error) {
	var after store.ExpiryKey
	for {
		// One more than the bound allows, to learn whether rooms are left.
		limit := min(h.cfg.PageSize, h.cfg.MaxDeleteCommands+1-len(ids))
		page, err := h.Store.ExpiredRooms(ctx, now, after, limit)
		if err != nil {
			return nil, false, err
		}
		for _, r := range page {
			ids = append(ids, r.RoomID)
		}
		if len(ids) > h.cfg.MaxDeleteCommands {
			return ids[:h.cfg.MaxDeleteCommands], true, nil
		}
		if len(page) < limit {
			return ids, false, nil
		}
		after = page[len(page)-1].ExpiryKey()
	}
}

// expireID is the command ID of attempt n (from 0) of the expiry delete of
// room roomID: "expire-<roomId>", then "expire-<roomId>:<n>". Room IDs hold
// no ':', so a retry's ID is never another room's first attempt (with '-'
// the retry "expire-a-1" would be the first attempt of room "a-1").
// Overlong IDs are shortened by fanoutID, which keeps them distinct.
func expireID(roomID string, n int) string {
	if n == 0 {
		return fanoutID(ExpirePrefix+roomID, "")
	}
	return fanoutID(ExpirePrefix+roomID, ":"+strconv.Itoa(n))
}

// expireAttempt returns the ID of the expiry delete to publish for room
// roomID: its first attempt that did not fail, read from the ledger.
//
// An attempt is failed when its record is done with an error result: it
// ran and the room is still there (the sweep just listed it). Every other
// state keeps the attempt: no record (still queued, or never published:
// publishing it again is what it needs), pending (a worker has it and
// retries), done with success (it deleted or marked the room, and the
// sweep read the room just before). So at most one attempt per room is
// open at a time, however long a backlog lasts, and a new one starts only
// after the last ended without deleting; a retry waits for the next sweep
// (SWEEP_INTERVAL), after the failed attempt's own redeliveries.
// (Buckets of time in the ID would need no read, but would add one more
// delete per room and bucket to a queue that is already behind.)
//
// Attempts are contiguous (attempt n+1 exists only after n failed), so
// the first that did not fail is found by doubling, then bisecting: one
// ledger read for a room met for the first time, about 2·log2(n) after n
// failed attempts. One point read costs about 6-12 µs on SQLite and 0.3 ms
// against FerretDB on loopback, so the 2,000 rooms of a full sweep add
// about 20 ms and 0.6 s. The reads go one after the other: eight at a
// time measured slower on both (1,000 reads: 30 ms and 0.7 s).
func (h sweepHandler) expireAttempt(ctx context.Context, roomID string) (string, error) {
	failed := func(n int) (bool, error) {
		rec, err := h.Store.GetCommand(ctx, expireID(roomID, n))
		if errors.Is(err, store.ErrNotFound) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		return rec.Finished() && !succeeded(rec.Result), nil
	}
	// Invariant: attempt lo failed (or lo is -1); hi is the next probe.
	lo, hi := -1, 0
	for {
		f, err := failed(hi)
		if err != nil {
			return "", err
		}
		if !f {
			break
		}
		lo, hi = hi, 2*hi+1
	}
	// Now lo failed and hi did not: the first that did not is in (lo, hi].
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		f, err := failed(mid)
		if err != nil {
			return "", err
		}
		if f {
			lo = mid
		} else {
			hi = mid
		}
	}
	return expireID(roomID, hi), nil
}

// succeeded reports whether a stored result is a success.
func succeeded(result json.RawMessage) bool {
	var r struct {
		OK bool `json:"ok"`
	}
	return json.Unmarshal(result, &r) == nil && r.OK
}

// reconcile checks the rooms marked for deletion or with an active meeting
// against LiveKit and decides what to repair. Only rooms LiveKit does not
// have are touched: a marked one is deleted, an active one gets its meeting
// ended. A detached deployment has no LiveKit rooms, so its marked rooms
// are deleted (no meeting can hold them) and no unmarked room ever is.
// A room LiveKit cannot be asked about is left for the next sweep.
func (h sweepHandler) reconcile(ctx context.Context, job *Job[events.Sweep]) (reconcilePlan, error) {
	var p reconcilePlan
	start := scanStart(job.ID)
	checked, failed := 0, 0
	var firstErr error
	err := h.scanMarked(ctx, start, func(page []store.Room) error {
		gone, errs := h.missingInLiveKit(ctx, page)
		for i, r := range page {
			checked++
			if errs[i] != nil {
				failed++
				if firstErr == nil {
					firstErr = errs[i]
				}
				continue
			}
			if !gone[i] {
				continue
			}
			if r.MarkedForDeletion {
				p.Delete = append(p.Delete, r.RoomID)
			}
			if r.Meeting == store.MeetingActive {
				p.EndMeeting = append(p.EndMeeting, roomVersion{RoomID: r.RoomID, Version: r.Version})
			}
		}
		return ctx.Err()
	})
	if err != nil {
		return p, err
	}
	if failed > 0 {
		job.Log.WithError(firstErr).WithField("failed", failed).WithField("checked", checked).
			Warn("LiveKit could not be asked about some rooms; the next sweep reconciles them")
	}
	return p, nil
}

// scanMarked calls fn with the pages of MarkedRooms from just after start
// to the end of the ID order, then from the beginning up to start, until
// MaxReconcile rooms were seen.
func (h sweepHandler) scanMarked(ctx context.Context, start string, fn func([]store.Room) error) error {
	seen := 0
	after, wrapped := start, start == ""
	for seen < h.cfg.MaxReconcile {
		limit := min(h.cfg.PageSize, h.cfg.MaxReconcile-seen)
		page, err := h.Store.MarkedRooms(ctx, after, limit)
		if err != nil {
			return err
		}
		full := len(page) == limit
		if wrapped {
			// Second lap: stop at the rooms the first one covered.
			for i, r := range page {
				if r.RoomID > start {
					page, full = page[:i], false
					break
				}
			}
		}
		if len(page) > 0 {
			if err := fn(page); err != nil {
				return err
			}
			seen += len(page)
			after = page[len(page)-1].RoomID
		}
		if !full {
			if wrapped {
				return nil
			}
			after, wrapped = "", true
		}
	}
	return nil
}

// missingInLiveKit asks LiveKit, a few calls at a time, whether it has each
// room: gone[i] is true when it does not, errs[i] is set when it could not
// say.
func (h sweepHandler) missingInLiveKit(ctx context.Context, rooms []store.Room) (gone []bool, errs []error) {
	gone = make([]bool, len(rooms))
	errs = make([]error, len(rooms))
	sem := make(chan struct{}, h.cfg.ReconcileConcurrency)
	var wg sync.WaitGroup
	for i := range rooms {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			exists, err := h.Meetings.RoomExists(ctx, rooms[i].RoomID)
			gone[i], errs[i] = err == nil && !exists, err
		})
	}
	wg.Wait()
	return gone, errs
}

// scanStart is where a sweep's reconciliation starts in the ID order: a
// short key derived from the sweep's ID, so successive sweeps start at
// different places when there are more rooms than MaxReconcile. Room IDs
// start with letters, digits, '-' or '_' (sanitised names).
func scanStart(sweepID string) string {
	const keys = "-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"
	sum := sha256.Sum256([]byte(sweepID))
	return string([]byte{keys[int(sum[0])%len(keys)], keys[int(sum[1])%len(keys)]})
}

// deleteCommand is a graceful rooms.cmd.delete of one room with message ID
// id.
func deleteCommand(id, roomID string) (store.OutMsg, error) {
	body, err := json.Marshal(events.DeleteRooms{RoomIDs: []string{roomID}})
	if err != nil {
		return store.OutMsg{}, err
	}
	return store.OutMsg{Subject: events.SubjectDelete, MsgID: id, Data: body}, nil
}

// fanoutID is prefix+suffix when that is a valid command ID, otherwise
// prefix (cut to fit) followed by a hash of both, so an overlong sweep ID
// still yields a stable, valid ID.
func fanoutID(prefix, suffix string) string {
	if id := prefix + suffix; events.ValidCommandID(id) {
		return id
	}
	sum := sha256.Sum256([]byte(prefix + "\x00" + suffix))
	h := hex.EncodeToString(sum[:12])
	keep := min(len(prefix), 128-len(h))
	id := prefix[:keep] + h
	if !events.ValidCommandID(id) {
		return "fanout-" + h
	}
	return id
}
