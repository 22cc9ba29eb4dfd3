package rooms_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/handler"
	lktest "github.com/roomkeeper/roomkeeper/internal/testenv/livekit"
	"github.com/roomkeeper/roomkeeper/internal/workertest"
	"github.com/roomkeeper/roomkeeper/natsapi"
	"github.com/roomkeeper/roomkeeper/rooms"
	"github.com/roomkeeper/roomkeeper/store"
)

// limited makes a room's meetings last at most minutes (and, with an end
// action, sets it).
func limited(minutes int, endAction string) func(*store.Room) {
	return func(r *store.Room) {
		r.Config.MaxDurationMinutes = &minutes
		if endAction != "" {
			r.MeetingEndAction = endAction
		}
	}
}

// endingSoon is a meet_meeting_ending_soon payload.
type endingSoon struct {
	RoomID           string `json:"roomId"`
	RemainingMinutes int    `json:"remainingMinutes"`
	Timestamp        int64  `json:"timestamp"`
}

// warnings are the meet_meeting_ending_soon messages p received.
func warnings(t *testing.T, p *lktest.Participant) []endingSoon {
	t.Helper()
	var out []endingSoon
	for _, m := range p.Messages() {
		if m.Topic != rooms.TopicMeetingEndingSoon {
			continue
		}
		var w endingSoon
		require.NoError(t, json.Unmarshal(m.Payload, &w))
		out = append(out, w)
	}
	return out
}

// The duration limit with a real livekit-server, whose webhooks drive the
// rooms' status: meetings whose limit is within the warning window (5
// minutes) get one meet_meeting_ending_soon each across two sweeps, a
// meeting far from its limit gets nothing, and once the worker's clock
// (the sweep's "now") is two minutes on, the meetings of one-minute rooms
// are ended: LiveKit disconnects their participants, and its room_finished
// applies each room's end action (open; close) with one meeting_ended.
// The meeting start is LiveKit's room creation time, which a test cannot
// set in the past, so the worker's clock moves instead.
func TestSweepEnforcesMeetingDurationLimits(t *testing.T) {
	t.Parallel()
	b := setup(t, workertest.SetupOpts{})
	srv := b.LiveKitWithWebhooks(t)
	var shift atomic.Int64
	b.Start(t, workertest.WorkerOpts{Clock: func() time.Time { return time.Now().Add(time.Duration(shift.Load())) }})

	const (
		over      = "over-aaaaaaaaaaaaaaa"  // 1 minute
		overClose = "overc-aaaaaaaaaaaaaaa" // 1 minute, end action close
		warn      = "warn-aaaaaaaaaaaaaaa"  // 3 minutes
		far       = "far-aaaaaaaaaaaaaaa"   // 60 minutes
		free      = "free-aaaaaaaaaaaaaaa"  // no limit
	)
	b.insertRoom(t, over, nil, limited(1, ""))
	b.insertRoom(t, overClose, nil, limited(1, events.EndActionClose))
	b.insertRoom(t, warn, nil, limited(3, ""))
	b.insertRoom(t, far, nil, limited(60, ""))
	b.insertRoom(t, free, nil, nil)
	people := map[string]*lktest.Participant{}
	for _, room := range []string{over, overClose, warn, far, free} {
		people[room] = lktest.Join(t, srv, room, "alice")
		b.waitRoom(t, room, "room_started makes it active", isActive)
	}

	res := b.sweep(t, "sweep-1")
	require.Equal(t, events.SweepResult{MeetingsWarned: 3}, res)
	for room, minutes := range map[string]int{over: 1, overClose: 1, warn: 3} {
		people[room].WaitData(t, rooms.TopicMeetingEndingSoon, 20*time.Second)
		w := warnings(t, people[room])
		require.Len(t, w, 1, room)
		require.Equal(t, room, w[0].RoomID)
		require.Equal(t, minutes, w[0].RemainingMinutes, room)
		require.InDelta(t, time.Now().UnixMilli(), w[0].Timestamp, float64(time.Minute.Milliseconds()))
		_, sid, ok, err := b.Rooms.Meetings.MeetingStart(ctxT(t, 5*time.Second), room)
		require.NoError(t, err)
		require.True(t, ok)
		require.Equal(t, sid, b.storedRoom(t, room).WarnedMeeting, "the warned meeting is remembered")
	}

	require.Equal(t, events.SweepResult{}, b.sweep(t, "sweep-2"), "each meeting is warned once")

	shift.Store(int64(2 * time.Minute))
	require.Equal(t, events.SweepResult{MeetingsEnded: 2}, b.sweep(t, "sweep-3"))
	people[over].WaitDisconnected(t, 20*time.Second)
	people[overClose].WaitDisconnected(t, 20*time.Second)
	b.waitRoom(t, over, "room_finished opens it", func(r *store.Room) bool { return r.Status == events.StatusOpen })
	b.waitRoom(t, overClose, "room_finished closes it", func(r *store.Room) bool { return r.Status == events.StatusClosed })
	require.Eventually(t, func() bool {
		return len(b.eventsOfRoom(t, events.EventMeetingEnded, over)) == 1 &&
			len(b.eventsOfRoom(t, events.EventMeetingEnded, overClose)) == 1 &&
			len(b.eventsOfRoom(t, events.EventClosed, overClose)) == 1
	}, 20*time.Second, 50*time.Millisecond)

	for _, room := range []string{warn, far, free} {
		select {
		case <-people[room].Disconnected():
			t.Fatalf("%s: a meeting within its limit must go on", room)
		default:
		}
		require.Equal(t, events.StatusActiveMeeting, b.storedRoom(t, room).Status, room)
	}
	require.Len(t, warnings(t, people[warn]), 1, "warned once")
	require.Empty(t, warnings(t, people[far]), "far from its limit")
	require.Empty(t, warnings(t, people[free]), "no limit")
	require.Empty(t, b.storedRoom(t, far).WarnedMeeting)
	require.Empty(t, b.storedRoom(t, free).WarnedMeeting)
}

// A warning whose signal fails is not remembered, so the next sweep warns;
// once sent, no later sweep warns that meeting again.
func TestSweepWarningRetriedAfterAFailedSignal(t *testing.T) {
	t.Parallel()
	b := setup(t, workertest.SetupOpts{})
	const room = "warned-aaaaaaaaaaaaaaa"
	meet := &signalMeetings{active: map[string]bool{room: true}, sendErr: errors.New("LiveKit refused the data"), started: time.Now()}
	b.Rooms.Meetings = meet
	b.insertRoom(t, room, nil, func(r *store.Room) { activeRoom(r); limited(3, "")(r) })
	b.Start(t, workertest.WorkerOpts{})

	require.Equal(t, events.SweepResult{}, b.sweep(t, "sweep-1"))
	require.Empty(t, b.storedRoom(t, room).WarnedMeeting, "a failed warning is taken back")

	meet.set(func(m *signalMeetings) { m.sendErr = nil })
	require.Equal(t, events.SweepResult{MeetingsWarned: 1}, b.sweep(t, "sweep-2"))
	require.Equal(t, "RM_"+room, b.storedRoom(t, room).WarnedMeeting)
	require.Len(t, meet.sentTo(room), 1)
	require.Equal(t, events.SweepResult{}, b.sweep(t, "sweep-3"))
	sent := meet.sentTo(room)
	require.Len(t, sent, 1)
	require.Equal(t, rooms.TopicMeetingEndingSoon, sent[0].topic)
	var w endingSoon
	require.NoError(t, json.Unmarshal(sent[0].payload, &w))
	require.Equal(t, room, w.RoomID)
	require.Equal(t, 3, w.RemainingMinutes)
}

// A sweep that crashes after its effects is redelivered: the warning it
// recorded is sent again (signals are at least once), it still counts as
// this sweep's, and a later sweep does not warn that meeting again. A
// crash before the claim loses nothing: the redelivery warns.
func TestSweepWarningAcrossACrash(t *testing.T) {
	t.Parallel()
	for _, step := range []string{"claimed", "applied", "completed"} {
		t.Run(step, func(t *testing.T) {
			t.Parallel()
			b := setup(t, workertest.SetupOpts{Topology: func(top *natsapi.Topology) { top.AckWait = time.Second }})
			const room = "crash-aaaaaaaaaaaaaaa"
			meet := &signalMeetings{active: map[string]bool{room: true}, started: time.Now()}
			b.Rooms.Meetings = meet
			b.insertRoom(t, room, nil, func(r *store.Room) { activeRoom(r); limited(2, "")(r) })
			var crashed atomic.Bool
			b.Start(t, workertest.WorkerOpts{Fault: func(s, id string) bool {
				return s == step && id == "sweep-1" && crashed.CompareAndSwap(false, true)
			}})
			require.Equal(t, events.SweepResult{MeetingsWarned: 1}, b.sweep(t, "sweep-1"))
			require.True(t, crashed.Load())
			require.Equal(t, "RM_"+room, b.storedRoom(t, room).WarnedMeeting)
			n := len(meet.sentTo(room))
			require.GreaterOrEqual(t, n, 1)
			require.LessOrEqual(t, n, 2)
			require.Equal(t, events.SweepResult{}, b.sweep(t, "sweep-2"))
			require.Len(t, meet.sentTo(room), n, "a later sweep does not warn again")
		})
	}
}

// With more active rooms than one sweep checks (MaxDurationChecks 2, pages
// of 1), successive sweeps start at different names and wrap around: every
// meeting is warned, each once.
func TestSweepDurationChecksWrapAround(t *testing.T) {
	t.Parallel()
	b := setup(t, workertest.SetupOpts{})
	meet := &signalMeetings{allLive: true, started: time.Now()}
	b.Rooms.Meetings = meet
	var ids []string
	for _, name := range []string{"alpha", "Bravo", "charlie", "delta", "Echo", "zulu", "0zero"} {
		id := name + "-aaaaaaaaaaaaaaa"
		ids = append(ids, id)
		b.insertRoom(t, id, nil, func(r *store.Room) { r.RoomName = name; activeRoom(r); limited(3, "")(r) })
	}
	b.insertRoom(t, "open-aaaaaaaaaaaaaaa", nil, limited(3, "")) // no meeting: never checked
	b.Start(t, workertest.WorkerOpts{Registry: func(reg *handler.Registry) {
		rooms.SetSweepConfig(reg, b.Rooms, rooms.SweepConfig{MaxDurationChecks: 2, PageSize: 1})
	}})

	warned := 0
	for i := 0; i < 60 && warned < len(ids); i++ {
		res := b.sweep(t, fmt.Sprintf("sweep-%d", i))
		require.LessOrEqual(t, res.MeetingsWarned, 2)
		warned += res.MeetingsWarned
	}
	require.Equal(t, len(ids), warned, "every meeting is warned within 60 sweeps")
	for _, id := range ids {
		require.Len(t, meet.sentTo(id), 1, id)
		require.Equal(t, "RM_"+id, b.storedRoom(t, id).WarnedMeeting)
	}
	require.Empty(t, meet.sentTo("open-aaaaaaaaaaaaaaa"))
}
