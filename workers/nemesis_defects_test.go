package workers_test

// Defects the nemesis (internal/nemesis) found in the workers, each shown
// at the smallest level; skipped until fixed (reported to the lead on
// issue 13).

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/internal/workertest"
	"github.com/roomkeeper/roomkeeper/natsapi"
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
	t.Parallel()
	b := setup(t, workertest.SetupOpts{Topology: func(top *natsapi.Topology) {
		top.Duplicates = 500 * time.Millisecond
		top.AckWait = 2 * time.Second
	}})
	var crashed atomic.Bool
	b.Start(t, workertest.WorkerOpts{Fault: func(step, id string) bool {
		return step == "published" && id == "c1" && crashed.CompareAndSwap(false, true)
	}})
	b.Send(t, "c1", events.CreateRoom{RoomName: ptr("once")})
	roomOf(t, b.Result(t, "c1"))
	require.Eventually(t, crashed.Load, 5*time.Second, 10*time.Millisecond, "crashed after publishing")
	require.Eventually(t, func() bool { return b.streamState(t, events.StreamCommands).Msgs == 0 }, 10*time.Second, 20*time.Millisecond)
	time.Sleep(200 * time.Millisecond)
	require.Len(t, b.StreamMsgs(t, events.StreamEvents, "rooms.events.created"), 1, "one created event")
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
	t.Parallel()
	inner, err := sqlite.Open(context.Background(), sqlite.Config{Path: filepath.Join(t.TempDir(), "roomkeeper.db")})
	require.NoError(t, err)
	t.Cleanup(func() { _ = inner.Close() })
	b := setup(t, workertest.SetupOpts{Store: markFailStore{inner}, Topology: func(top *natsapi.Topology) { top.Duplicates = 500 * time.Millisecond }})
	b.Start(t, workertest.WorkerOpts{})
	b.Send(t, "c1", events.CreateRoom{RoomName: ptr("once")})
	roomOf(t, b.Result(t, "c1"))
	time.Sleep(time.Second) // past the window: the repeat is stored
	b.Send(t, "c1", events.CreateRoom{RoomName: ptr("once")})
	require.Eventually(t, func() bool { return b.streamState(t, events.StreamCommands).Msgs == 0 }, 10*time.Second, 20*time.Millisecond)
	time.Sleep(200 * time.Millisecond)
	require.Len(t, b.StreamMsgs(t, events.StreamEvents, "rooms.events.created"), 1, "one created event")
}
