package rooms

import (
	"context"
	"errors"
	"sync"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/handler"
	"github.com/roomkeeper/roomkeeper/store"
)

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

// applyReconcile acts on the sweep's plan: the meetings LiveKit no longer
// has end (compare-and-set on the version the plan saw), and the rooms
// marked for deletion that LiveKit lost get a graceful delete command. It
// returns how many rooms were reconciled.
func (h sweepHandler) applyReconcile(ctx context.Context, job *handler.Job[events.Sweep], plan reconcilePlan, out *handler.Outcome) (int, error) {
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
			return 0, err
		}
		if !room.WasApplied(job.ID) {
			continue // changed meanwhile: the next sweep looks again
		}
		if err := out.Event(job.ID, events.EventMeetingEnded, rv.RoomID, job.Now, map[string]string{"roomId": rv.RoomID}); err != nil {
			return 0, err
		}
		reconciled[rv.RoomID] = true
	}
	for _, id := range plan.Delete {
		m, err := deleteCommand(fanoutID(ReconcilePrefix+id+"-", job.ID), id)
		if err != nil {
			return 0, err
		}
		out.Publish = append(out.Publish, m)
		reconciled[id] = true
	}
	return len(reconciled), nil
}

// reconcile checks the rooms marked for deletion or with an active meeting
// against LiveKit and decides what to repair. Only rooms LiveKit does not
// have are touched: a marked one is deleted, an active one gets its meeting
// ended. A detached deployment has no LiveKit rooms, so its marked rooms
// are deleted (no meeting can hold them) and no unmarked room ever is.
// A room LiveKit cannot be asked about is left for the next sweep.
func (h sweepHandler) reconcile(ctx context.Context, job *handler.Job[events.Sweep]) (reconcilePlan, error) {
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
