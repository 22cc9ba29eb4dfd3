package rooms

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/handler"
	"github.com/roomkeeper/roomkeeper/store"
)

// This file is the sweep's meeting duration limit (upstream's
// enforceMeetingMaxDurationGC): a room's config.maxDurationMinutes bounds
// each of its meetings, counted from the LiveKit room's creation (LiveKit
// has no limit of its own). A sweep ends the meetings over their limit by
// deleting their LiveKit room, as a moderator's meetingEnd does; LiveKit's
// room_finished then applies the room's meetingEndAction and publishes
// meeting_ended, as for any other end, so a meeting ended for its limit
// has no event of its own. A meeting inside the warning window before its
// limit gets one meet_meeting_ending_soon signal. A meeting can overrun
// its limit by up to one SWEEP_INTERVAL.

// TopicMeetingEndingSoon is the data signal that tells a meeting's
// participants it reaches its duration limit soon and will be ended for
// everyone (upstream MeetSignalType.MEET_MEETING_ENDING_SOON).
const TopicMeetingEndingSoon = "meet_meeting_ending_soon"

// endingSoonSignal is the payload of TopicMeetingEndingSoon (upstream
// MeetMeetingEndingSoonPayload).
type endingSoonSignal struct {
	RoomID string `json:"roomId"`
	// RemainingMinutes until the meeting is ended, rounded up, at least 1.
	RemainingMinutes int `json:"remainingMinutes"`
	// Timestamp: when the warning was sent, epoch ms.
	Timestamp int64 `json:"timestamp"`
}

// What the sweep does to a meeting with a duration limit
// (meetingLimit.Action).
const (
	limitEnd  = "end"  // over its limit: its LiveKit room is deleted
	limitWarn = "warn" // inside the warning window, not warned yet
)

// meetingLimit is the sweep's decision about one meeting with a duration
// limit, part of its plan.
type meetingLimit struct {
	RoomID string `json:"roomId"`
	// SID of the LiveKit room the decision is about: a redelivered sweep
	// leaves alone a later meeting of the same room.
	SID    string `json:"sid"`
	Action string `json:"action"`
	// RemainingMinutes of a warning.
	RemainingMinutes int `json:"remainingMinutes,omitempty"`
}

// planLimits adds to p what the duration limits of the rooms with an
// active meeting call for, judged at now: up to MaxDurationChecks rooms
// with status active_meeting, starting at start in the order of room
// names and wrapping around (so every room is seen over successive
// sweeps when there are more). Each room with a limit costs one LiveKit
// call. A room LiveKit does not have is the status GC's (reconcile); a
// room LiveKit cannot be asked about is left for the next sweep.
func (h sweepHandler) planLimits(ctx context.Context, log logrus.FieldLogger, start string, now time.Time, p *reconcilePlan) error {
	ending := make(map[string]bool, len(p.End))
	for _, e := range p.End {
		ending[e.RoomID] = true
	}
	checked, failed := 0, 0
	var firstErr error
	err := h.scanActive(ctx, start, func(page []store.Room) error {
		var limited []*store.Room
		for i := range page {
			r := &page[i]
			if m := r.Config.MaxDurationMinutes; m != nil && *m > 0 && !ending[r.RoomID] {
				limited = append(limited, r)
			}
		}
		starts, errs := h.meetingStarts(ctx, limited)
		for i, r := range limited {
			checked++
			if errs[i] != nil {
				failed++
				if firstErr == nil {
					firstErr = errs[i]
				}
				continue
			}
			if l, ok := h.decideLimit(r, starts[i], now); ok {
				p.Limits = append(p.Limits, l)
			}
		}
		return ctx.Err()
	})
	if err != nil {
		return err
	}
	if failed > 0 {
		log.WithError(firstErr).WithField("failed", failed).WithField("checked", checked).
			Warn("LiveKit could not be asked about some meetings with a duration limit; the next sweep checks them")
	}
	return nil
}

// liveMeeting is what LiveKit said of a room's meeting.
type liveMeeting struct {
	start time.Time
	sid   string
	ok    bool
}

// decideLimit decides what room r's meeting m calls for at now.
func (h sweepHandler) decideLimit(r *store.Room, m liveMeeting, now time.Time) (meetingLimit, bool) {
	if !m.ok || m.start.IsZero() || m.sid == "" {
		return meetingLimit{}, false
	}
	deadline := m.start.Add(time.Duration(*r.Config.MaxDurationMinutes) * time.Minute)
	remaining := deadline.Sub(now)
	switch {
	case remaining <= 0:
		return meetingLimit{RoomID: r.RoomID, SID: m.sid, Action: limitEnd}, true
	case remaining <= h.cfg.DurationWarning && r.WarnedMeeting != m.sid:
		mins := int((remaining + time.Minute - 1) / time.Minute) // rounded up, at least 1
		return meetingLimit{RoomID: r.RoomID, SID: m.sid, Action: limitWarn, RemainingMinutes: mins}, true
	}
	return meetingLimit{}, false
}

// meetingStarts asks LiveKit, a few calls at a time, when each room's
// meeting started; errs[i] is set when it could not say.
func (h sweepHandler) meetingStarts(ctx context.Context, rooms []*store.Room) ([]liveMeeting, []error) {
	out := make([]liveMeeting, len(rooms))
	errs := make([]error, len(rooms))
	sem := make(chan struct{}, h.cfg.ReconcileConcurrency)
	var wg sync.WaitGroup
	for i := range rooms {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			m := &out[i]
			m.start, m.sid, m.ok, errs[i] = h.Meetings.MeetingStart(ctx, rooms[i].RoomID)
		})
	}
	wg.Wait()
	return out, errs
}

// scanActive calls fn with the pages of the rooms with status
// active_meeting in room name order, from start to the end, then from the
// beginning up to start, until MaxDurationChecks rooms were seen.
func (h sweepHandler) scanActive(ctx context.Context, start string, fn func([]store.Room) error) error {
	var from *store.RoomCursor
	if start != "" {
		from = &store.RoomCursor{Str: start, HasValue: true}
	}
	return wrapScan(ctx, from, h.cfg.MaxDurationChecks, h.cfg.PageSize, lap[store.RoomCursor]{
		next: func(ctx context.Context, after *store.RoomCursor, limit int) ([]store.Room, error) {
			return h.Store.FindRooms(ctx, store.RoomQuery{
				Status: events.StatusActiveMeeting, Sort: store.SortRoomName, After: after, Limit: limit,
			})
		},
		cursor:  func(r store.Room) store.RoomCursor { return r.Cursor(store.SortRoomName) },
		covered: func(r store.Room) bool { return r.RoomName >= start },
	}, fn)
}

// applyLimits acts on the plan's duration limits, a few rooms at a time,
// and returns how many meetings ended and how many were warned. A LiveKit
// or signal failure is logged and left for the next sweep, which finds
// the meeting still over its limit, or still not warned.
func (h sweepHandler) applyLimits(ctx context.Context, job *handler.Job[events.Sweep], limits []meetingLimit) (ended, warned int, err error) {
	var nEnded, nWarned atomic.Int64
	errs := make([]error, len(limits))
	sem := make(chan struct{}, h.cfg.ReconcileConcurrency)
	var wg sync.WaitGroup
	for i := range limits {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			l := limits[i]
			log := job.Log.WithFields(logrus.Fields{"room_id": l.RoomID, "meeting": l.SID})
			switch l.Action {
			case limitEnd:
				if h.endMeeting(ctx, log, l) {
					nEnded.Add(1)
				}
			case limitWarn:
				ok, err := h.warnMeeting(ctx, job, log, l)
				if ok {
					nWarned.Add(1)
				}
				errs[i] = err
			}
		})
	}
	wg.Wait()
	return int(nEnded.Load()), int(nWarned.Load()), errors.Join(errs...)
}

// endMeeting ends the planned meeting by deleting its LiveKit room, unless
// LiveKit now has another meeting of the room (a redelivered sweep). It
// reports whether the meeting is over.
func (h sweepHandler) endMeeting(ctx context.Context, log logrus.FieldLogger, l meetingLimit) bool {
	ctx, cancel := context.WithTimeout(ctx, signalTimeout)
	defer cancel()
	_, sid, ok, err := h.Meetings.MeetingStart(ctx, l.RoomID)
	switch {
	case err != nil:
		log.WithError(err).Warn("meeting over its duration limit not ended: LiveKit cannot say whether it still runs; the next sweep ends it")
		return false
	case !ok:
		return true // ended meanwhile (or by this sweep's earlier run)
	case sid != l.SID:
		return false // a later meeting: the next sweep judges it
	}
	if err := h.Meetings.DeleteRoom(ctx, l.RoomID); err != nil {
		log.WithError(err).Warn("meeting over its duration limit not ended; the next sweep ends it")
		return false
	}
	log.Info("meeting over its duration limit ended")
	return true
}

// warnMeeting records on the room that meeting l.SID is warned, with
// compare-and-set under the sweep's ID, then signals its participants. A
// later sweep finds the record and does not warn again; a redelivery of
// this sweep finds its own write and signals again (signals are at least
// once). A signal that fails takes the record back, so the next sweep
// warns. It reports whether the participants were signalled; its error
// (the store's) fails the sweep, whose redelivery signals.
func (h sweepHandler) warnMeeting(ctx context.Context, job *handler.Job[events.Sweep], log logrus.FieldLogger, l meetingLimit) (bool, error) {
	room, err := h.updateRoom(ctx, l.RoomID, job.ID, func(r *store.Room) bool {
		if r.WarnedMeeting == l.SID {
			return false
		}
		r.WarnedMeeting = l.SID
		return true
	})
	if errors.Is(err, errGone) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if !room.WasApplied(job.ID) || room.WarnedMeeting != l.SID {
		return false, nil // warned by an earlier sweep, or taken back by this one
	}
	payload := endingSoonSignal{RoomID: l.RoomID, RemainingMinutes: l.RemainingMinutes, Timestamp: time.Now().UnixMilli()}
	sendErr := h.sendSignal(ctx, l.RoomID, TopicMeetingEndingSoon, payload)
	if sendErr == nil {
		log.WithField("remaining_minutes", l.RemainingMinutes).Info("meeting warned that it reaches its duration limit soon")
		return true, nil
	}
	log.WithError(sendErr).Warn("meeting ending soon signal failed; the next sweep warns again")
	_, err = h.updateRoom(ctx, l.RoomID, fanoutID(job.ID, ":unwarn"), func(r *store.Room) bool {
		if r.WarnedMeeting != l.SID {
			return false
		}
		r.WarnedMeeting = ""
		return true
	})
	if errors.Is(err, errGone) {
		return false, nil
	}
	return false, err
}
