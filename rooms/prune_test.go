package rooms_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	logtest "github.com/sirupsen/logrus/hooks/test"
	"github.com/stretchr/testify/require"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/handler"
	"github.com/roomkeeper/roomkeeper/internal/workertest"
	"github.com/roomkeeper/roomkeeper/rooms"
	"github.com/roomkeeper/roomkeeper/store"
	"github.com/roomkeeper/roomkeeper/store/sqlite"
)

// A sweep prunes the done ledger records older than LedgerRetention, keeps
// the recent ones, and reports the same result as ever.
func TestSweepPrunesOldLedgerRecords(t *testing.T) {
	t.Parallel()
	const retention = 2 * time.Second
	b := setup(t, workertest.SetupOpts{})
	b.Start(t, workertest.WorkerOpts{Registry: func(reg *handler.Registry) {
		rooms.SetSweepConfig(reg, b.Rooms, rooms.SweepConfig{LedgerRetention: retention})
	}})

	b.Send(t, "p-old", events.CreateRoom{RoomName: ptr("old")})
	require.True(t, b.Result(t, "p-old").OK)
	time.Sleep(retention + 200*time.Millisecond)
	b.Send(t, "p-new", events.CreateRoom{RoomName: ptr("new")})
	require.True(t, b.Result(t, "p-new").OK)

	require.Equal(t, events.SweepResult{}, b.sweep(t, "sweep-p1"))
	require.False(t, b.LedgerHas(t, "p-old"), "done longer ago than the retention")
	require.True(t, b.LedgerHas(t, "p-new"), "done within the retention")
	require.True(t, b.LedgerHas(t, "sweep-p1"), "the sweep's own record stays")
	require.EqualValues(t, 2, b.CountRooms(t), "pruning the ledger touches no room")
}

// With the default retention (7 days), records older than that go, at
// most MaxPrune per sweep; the next sweep takes the rest.
func TestSweepPruneBoundAndDefaultRetention(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), sqlite.DefaultFileName)
	st, err := sqlite.Open(context.Background(), sqlite.Config{Path: path})
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	b := setup(t, workertest.SetupOpts{Store: st})
	b.Start(t, workertest.WorkerOpts{Registry: func(reg *handler.Registry) {
		rooms.SetSweepConfig(reg, b.Rooms, rooms.SweepConfig{MaxPrune: 3})
	}})

	var ids []string
	for i := range 5 {
		id := fmt.Sprintf("aged-%d", i)
		b.Send(t, id, events.CreateRoom{RoomName: ptr(id)})
		require.True(t, b.Result(t, id).OK)
		ids = append(ids, id)
	}
	b.Send(t, "week-old", events.CreateRoom{RoomName: ptr("week-old")})
	require.True(t, b.Result(t, "week-old").OK)

	// Age the records in the file (CompleteCommand stamps the present).
	raw, err := sql.Open("sqlite", path+"?_busy_timeout=10000")
	require.NoError(t, err)
	defer func() { _ = raw.Close() }()
	age := func(id string, d time.Duration) {
		_, err := raw.ExecContext(t.Context(), `UPDATE commands SET updated_at = ? WHERE id = ?`, time.Now().Add(-d).UnixMilli(), id)
		require.NoError(t, err)
	}
	for _, id := range ids {
		age(id, rooms.DefaultLedgerRetention+time.Hour)
	}
	age("week-old", rooms.DefaultLedgerRetention-time.Hour)

	require.Equal(t, events.SweepResult{}, b.sweep(t, "sweep-q1"))
	left := 0
	for _, id := range ids {
		if b.LedgerHas(t, id) {
			left++
		}
	}
	require.Equal(t, 2, left, "one sweep prunes at most MaxPrune records")
	require.Equal(t, events.SweepResult{}, b.sweep(t, "sweep-q2"))
	for _, id := range ids {
		require.False(t, b.LedgerHas(t, id), id)
	}
	require.True(t, b.LedgerHas(t, "week-old"), "younger than the default retention")
	require.True(t, b.LedgerHas(t, "sweep-q1"))
}

// failingPrune is a store whose PruneCommands fails.
type failingPrune struct {
	store.Store
}

var errPrune = errors.New("prune refused")

func (failingPrune) PruneCommands(context.Context, time.Time, int) (int64, error) {
	return 0, fmt.Errorf("%w: %w", store.ErrUnavailable, errPrune)
}

// A pruning failure is logged; the sweep still succeeds with its result.
func TestSweepPruneFailureDoesNotFailTheSweep(t *testing.T) {
	t.Parallel()
	st, err := sqlite.Open(context.Background(), sqlite.Config{Path: filepath.Join(t.TempDir(), sqlite.DefaultFileName)})
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	b := setup(t, workertest.SetupOpts{Store: failingPrune{st}})
	hook := logtest.NewLocal(b.Log)
	b.Start(t, workertest.WorkerOpts{})

	b.insertRoom(t, "Expired-aaaaaaaaaaaaaaa", past(), nil)
	require.Equal(t, events.SweepResult{Expired: 1, DeleteCommands: 1}, b.sweep(t, "sweep-f1"))
	b.settle(t)
	require.False(t, b.Exists(t, "Expired-aaaaaaaaaaaaaaa"))
	found := false
	for _, e := range hook.AllEntries() {
		if strings.Contains(e.Message, "pruning the command ledger failed") {
			found = true
			require.ErrorIs(t, e.Data["error"].(error), errPrune)
		}
	}
	require.True(t, found, "the failure is logged")
}
