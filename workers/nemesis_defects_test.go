package workers_test

// Defects the nemesis (internal/nemesis) found in the workers, each shown
// at the smallest level; skipped until fixed (reported to the lead on
// issue 13).

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/store"
	"github.com/roomkeeper/roomkeeper/store/sqlite"
)

// A command whose outbox JetStream stored but whose ledger record could
// not say so (a crash after the publish, or the store away for
// MarkPublished) publishes its events a second time when a delivery comes
// after the streams' duplicates window. Found by the nemesis (seed
// 20261201, STREAM_DUPLICATES_WINDOW=1m: n352952-update_preferences-000169,
// its worker killed right after publishing, redelivered through a 200 s
// store lock and replayed 3 min 38 s later); a redelivery can come any
// time later, not only AckWait plus a nak delay after the first publish.
func TestPublishedNotRecordedPastDuplicatesWindowPublishesEventsOnce(t *testing.T) {
	t.Skip("known defect, reported to the lead (issue 13): the replay of an outbox not recorded as published doubles its events past the duplicates window")
	t.Parallel()
	b := setup(t, setupOpts{topology: func(top *events.Topology) {
		top.Duplicates = 500 * time.Millisecond
		top.AckWait = 2 * time.Second
	}})
	var crashed atomic.Bool
	b.start(t, workerOpts{fault: func(step, id string) bool {
		return step == "published" && id == "c1" && crashed.CompareAndSwap(false, true)
	}})
	b.send(t, "c1", events.CreateRoom{RoomName: ptr("once")})
	roomOf(t, b.result(t, "c1"))
	require.Eventually(t, crashed.Load, 5*time.Second, 10*time.Millisecond, "crashed after publishing")
	require.Eventually(t, func() bool { return b.streamState(t, events.StreamCommands).Msgs == 0 }, 10*time.Second, 20*time.Millisecond)
	time.Sleep(200 * time.Millisecond)
	require.Len(t, b.streamMsgs(t, events.StreamEvents, "rooms.events.created"), 1, "one created event")
}

// markFailStore is the real store whose MarkPublished fails, as when the
// store goes away between the publish and the record of it.
type markFailStore struct{ store.Store }

func (markFailStore) MarkPublished(context.Context, string) error {
	return fmt.Errorf("mark published: %w", store.ErrUnavailable)
}

// The same without a crash: the store is away when the worker records the
// outbox as published (it acks anyway), and the producer repeats the
// command past the duplicates window (nemesis seed 20261201: commands
// finished just before a 200 s store lock, repeated later).
func TestMarkPublishedFailedThenRepeatPastWindowPublishesEventsOnce(t *testing.T) {
	t.Skip("known defect, reported to the lead (issue 13): the replay of an outbox not recorded as published doubles its events past the duplicates window")
	t.Parallel()
	inner, err := sqlite.Open(context.Background(), sqlite.Config{Path: filepath.Join(t.TempDir(), "roomkeeper.db")})
	require.NoError(t, err)
	t.Cleanup(func() { _ = inner.Close() })
	b := setup(t, setupOpts{store: markFailStore{inner}, topology: func(top *events.Topology) { top.Duplicates = 500 * time.Millisecond }})
	b.start(t, workerOpts{})
	b.send(t, "c1", events.CreateRoom{RoomName: ptr("once")})
	roomOf(t, b.result(t, "c1"))
	time.Sleep(time.Second) // past the window: the repeat is stored
	b.send(t, "c1", events.CreateRoom{RoomName: ptr("once")})
	require.Eventually(t, func() bool { return b.streamState(t, events.StreamCommands).Msgs == 0 }, 10*time.Second, 20*time.Millisecond)
	time.Sleep(200 * time.Millisecond)
	require.Len(t, b.streamMsgs(t, events.StreamEvents, "rooms.events.created"), 1, "one created event")
}

// A graceful delete marks a room with a meeting, then its worker crashes
// before the completion; the meeting ends meanwhile and its room_finished
// deletes the marked room; the redelivery of the delete finds the room
// gone, answers ok with it in markedForDeletion, and publishes no
// marked_for_deletion event (delete.go: "deleted meanwhile ... nothing to
// mark", though this command marked it). Found by the nemesis on FerretDB
// (seed 20261202, n352953-delete-000031, with FerretDB killed under it).
func TestDeleteMarkedThenFinishedBeforeRedeliveryPublishesItsMarkedEvent(t *testing.T) {
	t.Skip("known defect, reported to the lead (issue 13): an ok result lists a marked room without its marked_for_deletion event")
	t.Parallel()
	b := setup(t, setupOpts{topology: func(top *events.Topology) { top.AckWait = 2 * time.Second }})
	lk := newLKRooms()
	b.rooms.Meetings = lk
	const room = "Meeting-aaaaaaaaaaaaaaa"
	b.insertRoom(t, room, nil, func(r *store.Room) { r.Meeting = store.MeetingActive })
	lk.set(room, true, true)
	var crashed atomic.Bool
	b.start(t, workerOpts{fault: func(step, id string) bool {
		return step == "applied" && id == "d1" && crashed.CompareAndSwap(false, true)
	}})
	b.send(t, "d1", events.DeleteRooms{RoomIDs: []string{room}})
	require.Eventually(t, crashed.Load, 10*time.Second, 10*time.Millisecond)

	// The meeting ends before the redelivery: LiveKit closes the room and
	// its room_finished deletes the marked room.
	lk.set(room, false, false)
	b.webhook(t, "EV_finished1", "room_finished", room)
	require.Eventually(t, func() bool { return !b.exists(t, room) }, 10*time.Second, 10*time.Millisecond)

	var dr events.DeleteResult
	require.NoError(t, json.Unmarshal(b.result(t, "d1").Data, &dr))
	require.Equal(t, []string{room}, dr.MarkedForDeletion)
	require.Eventually(t, func() bool { return b.streamState(t, events.StreamCommands).Msgs == 0 }, 10*time.Second, 20*time.Millisecond)
	require.Equal(t, []string{events.EventID("d1", events.EventMarkedForDeletion, room)},
		b.eventIDs(t, events.EventSubject(events.EventMarkedForDeletion)), "the ok result's marked room has its event")
}
