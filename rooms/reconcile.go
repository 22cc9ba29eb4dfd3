package rooms

import (
	"context"
	"sync"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/handler"
	"github.com/roomkeeper/roomkeeper/store"
)

// reconcilePlan is what a sweep decided from LiveKit at its first delivery
// (upstream's active rooms status GC).
type reconcilePlan struct {
	// End: rooms whose status is active_meeting while LiveKit has no such
	// room (their room_finished was lost), with the version that was read
	// and what the end of their meeting does (their meetingEndAction).
	End []roomEnd `json:"end,omitempty"`
	// Limits: meetings over their duration limit, to end, and meetings
	// to warn that they reach it soon (limits.go).
	Limits []meetingLimit `json:"limits,omitempty"`
}

type roomEnd struct {
	RoomID  string     `json:"roomId"`
	Version int64      `json:"version"`
	Plan    finishPlan `json:"plan"`
}

// applyReconcile acts on the sweep's plan: the meetings LiveKit no longer
// has end as room_finished would have ended them. An open or close is a
// compare-and-set on the version the plan saw, skipped if the room
// changed since (a webhook came in); a delete is applied with the
// completion. It returns how many rooms were reconciled.
func (h sweepHandler) applyReconcile(ctx context.Context, job *handler.Job[events.Sweep], plan reconcilePlan, out *handler.Outcome) (int, error) {
	n := 0
	for _, e := range plan.End {
		done, err := h.finishMeeting(ctx, job.ID, e.RoomID, e.Plan, e.Version, job.Now, out)
		if err != nil {
			return 0, err
		}
		if done {
			n++
		}
	}
	return n, nil
}

// reconcile checks the rooms with an active meeting against LiveKit and
// decides what to repair: those LiveKit does not have get their meeting
// ended. A detached deployment has no LiveKit rooms, so every active
// meeting ends. A room LiveKit cannot be asked about is left for the next
// sweep.
func (h sweepHandler) reconcile(ctx context.Context, job *handler.Job[events.Sweep]) (reconcilePlan, error) {
	var p reconcilePlan
	start := scanStart(job.ID)
	checked, failed := 0, 0
	var firstErr error
	err := h.scanMarked(ctx, start, func(page []store.Room) error {
		gone, errs := h.missingInLiveKit(ctx, page)
		for i := range page {
			r := &page[i]
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
			if r.Status != events.StatusActiveMeeting && r.Meeting != store.MeetingActive && !r.MarkedForDeletion {
				continue
			}
			fp, err := h.finishPlanOf(ctx, r)
			if err != nil {
				return err
			}
			p.End = append(p.End, roomEnd{RoomID: r.RoomID, Version: r.Version, Plan: fp})
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
	return p, h.planLimits(ctx, job.Log, start, job.Now, &p)
}

// scanMarked calls fn with the pages of MarkedRooms from just after start
// to the end of the ID order, then from the beginning up to start, until
// MaxReconcile rooms were seen.
func (h sweepHandler) scanMarked(ctx context.Context, start string, fn func([]store.Room) error) error {
	var from *string
	if start != "" {
		from = &start
	}
	return wrapScan(ctx, from, h.cfg.MaxReconcile, h.cfg.PageSize, lap[string]{
		next: func(ctx context.Context, after *string, limit int) ([]store.Room, error) {
			var id string
			if after != nil {
				id = *after
			}
			return h.Store.MarkedRooms(ctx, id, limit)
		},
		cursor:  func(r store.Room) string { return r.RoomID },
		covered: func(r store.Room) bool { return r.RoomID > start },
	}, fn)
}

// lap is how wrapScan reads one keyset order of rooms.
type lap[C any] struct {
	// next reads up to limit rooms just after the cursor after (nil: from
	// the beginning).
	next func(ctx context.Context, after *C, limit int) ([]store.Room, error)
	// cursor is a room's position in the order.
	cursor func(store.Room) C
	// covered reports, on the second lap, a room the first lap began with
	// or passed.
	covered func(store.Room) bool
}

// wrapScan calls fn with the pages of an order from just after start to
// its end, then from the beginning up to where the first lap began (nil
// start: one lap from the beginning), until bound rooms were seen, at most
// pageSize a page. Successive sweeps start at different places, so that a
// bounded sweep still reaches every room in turn.
func wrapScan[C any](ctx context.Context, start *C, bound, pageSize int, l lap[C], fn func([]store.Room) error) error {
	seen := 0
	after, wrapped := start, start == nil
	for seen < bound {
		limit := min(pageSize, bound-seen)
		page, err := l.next(ctx, after, limit)
		if err != nil {
			return err
		}
		full := len(page) == limit
		if wrapped {
			// Second lap: stop at the rooms the first one covered.
			for i, r := range page {
				if l.covered(r) {
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
			c := l.cursor(page[len(page)-1])
			after = &c
		}
		if !full {
			if wrapped {
				return nil
			}
			after, wrapped = nil, true
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
