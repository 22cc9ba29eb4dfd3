package sqlite_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/roomkeeper/roomkeeper/store"
	"github.com/roomkeeper/roomkeeper/store/sqlite"
	"github.com/roomkeeper/roomkeeper/store/storetest"
)

func openTemp(t testing.TB) *sqlite.Store {
	t.Helper()
	return openAt(t, filepath.Join(t.TempDir(), sqlite.DefaultFileName))
}

func openAt(t testing.TB, path string) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(t.Context(), sqlite.Config{Path: path})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, storetest.Harness{
		Features: storetest.Features{
			AtomicCompletion:    true, // one transaction
			ConcurrentProcesses: true, // processes take turns at the file's write lock
		},
		Open: func(t *testing.T) store.Store { return openTemp(t) },
		OpenShared: func(t *testing.T, s store.Store) store.Store {
			return openAt(t, s.(*sqlite.Store).Path())
		},
	})
}

// TestTwoStoresShareFile: two Stores on one file, as two processes on one
// machine, race on the same command IDs and insert rooms side by side.
func TestTwoStoresShareFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), sqlite.DefaultFileName)
	stores := []*sqlite.Store{openAt(t, path), openAt(t, path)}
	ctx := t.Context()
	const (
		workers = 8
		perWork = 25
	)

	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		errs    []error
		winners = map[string]int{}
	)
	for w := range workers {
		s := stores[w%2]
		wg.Go(func() {
			for i := range perWork {
				// Workers w and w+1 (on different stores) claim the same IDs.
				id := fmt.Sprintf("cmd-%d-%d", w/2, i)
				_, err := s.ClaimCommand(ctx, &store.Command{ID: id, Type: "rooms.cmd.create", Plan: json.RawMessage(fmt.Sprintf(`{"w":%d}`, w))})
				mu.Lock()
				switch {
				case err == nil:
					winners[id]++
				case !errors.Is(err, store.ErrDuplicate):
					errs = append(errs, fmt.Errorf("claim %s: %w", id, err))
				}
				mu.Unlock()
				if err := s.InsertRoom(ctx, storetest.NewRoom(fmt.Sprintf("room-%d-%d", w, i))); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	require.Empty(t, errs)
	require.Len(t, winners, workers/2*perWork)
	for id, n := range winners {
		require.Equal(t, 1, n, "command %s claimed %d times", id, n)
	}

	for i, s := range stores {
		n, err := s.CountRooms(ctx)
		require.NoError(t, err)
		require.EqualValues(t, workers*perWork, n, "store %d", i)
		// Each store reads the other's writes.
		for w := range workers {
			_, err := s.GetRoom(ctx, fmt.Sprintf("room-%d-%d", w, perWork-1))
			require.NoError(t, err, "store %d", i)
		}
		c, err := s.GetCommand(ctx, "cmd-0-0")
		require.NoError(t, err)
		require.Equal(t, store.StatusPending, c.Status)
	}

	// A completion by one is seen, and kept, by the other.
	_, err := stores[0].CompleteCommand(ctx, "cmd-1-1", store.Completion{Status: store.StatusDone, Result: json.RawMessage(`{"ok":true}`)})
	require.NoError(t, err)
	c, err := stores[1].CompleteCommand(ctx, "cmd-1-1", store.Completion{Status: store.StatusDone, Result: json.RawMessage(`{"ok":false}`)})
	require.NoError(t, err)
	require.JSONEq(t, `{"ok":true}`, string(c.Result))
}

// TestReopen: data survives Close and a new Open; the file is in WAL mode
// with the schema version recorded.
func TestReopen(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "sub", "dir", sqlite.DefaultFileName)
	s, err := sqlite.Open(ctx, sqlite.Config{Path: path})
	require.NoError(t, err)
	room := storetest.NewRoom("Persist-abcdefghijklmno")
	require.NoError(t, s.InsertRoom(ctx, room))
	_, err = s.ClaimCommand(ctx, &store.Command{ID: "c1", Type: "rooms.cmd.create", Plan: json.RawMessage(`{"a":1}`)})
	require.NoError(t, err)
	_, err = s.CompleteCommand(ctx, "c1", store.Completion{Status: store.StatusDone, Result: json.RawMessage(`{"ok":true}`), Outbox: []store.OutMsg{{Subject: "s", MsgID: "m", Data: json.RawMessage(`{}`)}}})
	require.NoError(t, err)
	archived := &store.ArchivedRoom{RoomID: "Persist-abcdefghijklmno", RoomName: "P", ModeratorSecret: "x"}
	require.NoError(t, s.PutArchivedRoom(ctx, archived))
	require.NoError(t, s.Close())
	require.NoError(t, s.Close(), "a second Close is harmless")

	// A closed store is unavailable.
	_, err = s.GetRoom(ctx, room.RoomID)
	require.ErrorIs(t, err, store.ErrUnavailable)
	require.ErrorIs(t, s.InsertRoom(ctx, storetest.NewRoom("x")), store.ErrUnavailable)
	require.ErrorIs(t, s.Ping(ctx), store.ErrUnavailable)

	raw, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	var mode string
	var version int
	require.NoError(t, raw.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode))
	require.NoError(t, raw.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version))
	require.NoError(t, raw.Close())
	require.Equal(t, "wal", mode)
	require.Equal(t, 5, version)

	s = openAt(t, path)
	got, err := s.GetRoom(ctx, room.RoomID)
	require.NoError(t, err)
	storetest.RequireRoomEqual(t, room, got)
	c, err := s.GetCommand(ctx, "c1")
	require.NoError(t, err)
	require.Equal(t, store.StatusDone, c.Status)
	require.JSONEq(t, `{"ok":true}`, string(c.Result))
	require.JSONEq(t, `{"a":1}`, string(c.Plan))
	require.Len(t, c.Outbox, 1)
	a, err := s.GetArchivedRoom(ctx, archived.RoomID)
	require.NoError(t, err)
	require.Equal(t, archived, a)
}

func TestSchemaTooNew(t *testing.T) {
	path := filepath.Join(t.TempDir(), sqlite.DefaultFileName)
	raw, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	_, err = raw.ExecContext(t.Context(), "PRAGMA user_version = 99")
	require.NoError(t, err)
	require.NoError(t, raw.Close())

	_, err = sqlite.Open(t.Context(), sqlite.Config{Path: path})
	require.ErrorIs(t, err, sqlite.ErrSchemaTooNew)
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	for name, cfg := range map[string]sqlite.Config{
		"no path":      {},
		"memory":       {Path: ":memory:"},
		"uri":          {Path: "file:x.db?mode=memory"},
		"busy timeout": {Path: filepath.Join(dir, "a.db"), BusyTimeout: -time.Second},
		"conns":        {Path: filepath.Join(dir, "a.db"), MaxOpenConns: -1},
		"checkpoint":   {Path: filepath.Join(dir, "a.db"), CheckpointInterval: -time.Millisecond},
		"checkpoint 2": {Path: filepath.Join(dir, "a.db"), CheckpointInterval: time.Hour},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := sqlite.Open(t.Context(), cfg)
			require.ErrorIs(t, err, sqlite.ErrInvalidConfig)
		})
	}

	// A path whose directory is a file cannot be opened.
	file := filepath.Join(dir, "file")
	require.NoError(t, os.WriteFile(file, nil, 0o600))
	_, err := sqlite.Open(t.Context(), sqlite.Config{Path: filepath.Join(file, "x.db")})
	require.ErrorIs(t, err, store.ErrUnavailable)
	// So does a path that is a directory.
	_, err = sqlite.Open(t.Context(), sqlite.Config{Path: dir})
	require.ErrorIs(t, err, store.ErrUnavailable)
}

// TestWriteLockTimeout: a write that cannot get the lock from another
// process within BusyTimeout fails as unavailable.
func TestWriteLockTimeout(t *testing.T) {
	path := filepath.Join(t.TempDir(), sqlite.DefaultFileName)
	s, err := sqlite.Open(t.Context(), sqlite.Config{Path: path, BusyTimeout: 50 * time.Millisecond})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })

	other, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	t.Cleanup(func() { _ = other.Close() })
	conn, err := other.Conn(t.Context())
	require.NoError(t, err)
	_, err = conn.ExecContext(t.Context(), "BEGIN IMMEDIATE")
	require.NoError(t, err)

	err = s.InsertRoom(t.Context(), storetest.NewRoom("Locked"))
	require.ErrorIs(t, err, store.ErrUnavailable)
	// Reads go on beside the other process's write transaction (WAL).
	_, err = s.CountRooms(t.Context())
	require.NoError(t, err)

	_, err = conn.ExecContext(t.Context(), "ROLLBACK")
	require.NoError(t, err)
	require.NoError(t, conn.Close())
	require.NoError(t, s.InsertRoom(t.Context(), storetest.NewRoom("Locked")))
}

// TestBatchedWritesKeepTheirOwnOutcome: writes grouped into one transaction
// keep their own outcomes: a canceled write has no effect, a duplicate fails
// alone, the others commit.
func TestBatchedWritesKeepTheirOwnOutcome(t *testing.T) {
	s := openTemp(t)
	canceled, cancel := context.WithCancel(t.Context())
	cancel()
	require.NoError(t, s.InsertRoom(t.Context(), storetest.NewRoom("dup")))

	const workers, per = 8, 20
	var wg sync.WaitGroup
	errs := make([][]error, workers)
	for w := range workers {
		wg.Go(func() {
			ctx := t.Context()
			if w%2 == 1 {
				ctx = canceled
			}
			for i := range per {
				id := fmt.Sprintf("w%d-%d", w, i)
				if i == per/2 {
					id = "dup"
				}
				errs[w] = append(errs[w], s.InsertRoom(ctx, storetest.NewRoom(id)))
			}
		})
	}
	wg.Wait()
	for w := range workers {
		for i, err := range errs[w] {
			switch {
			case w%2 == 1:
				require.ErrorIs(t, err, context.Canceled, "w%d-%d", w, i)
			case i == per/2:
				require.ErrorIs(t, err, store.ErrDuplicate)
			default:
				require.NoError(t, err)
			}
		}
	}
	n, err := s.CountRooms(t.Context())
	require.NoError(t, err)
	require.EqualValues(t, 1+workers/2*(per-1), n)
}

// TestCompletionWritesAtomic: on SQLite the writes of a completion happen
// if and only if that call completes the record: a completion that finds
// the record already done (another worker won) applies none.
func TestCompletionWritesAtomic(t *testing.T) {
	ctx := t.Context()
	s := openTemp(t)
	_, err := s.ClaimCommand(ctx, &store.Command{ID: "race-1", Type: "rooms.cmd.create"})
	require.NoError(t, err)
	winner := storetest.NewRoom("Winner-aaaaaaaaaaaaaaa")
	_, err = s.CompleteCommand(ctx, "race-1", store.Completion{Status: store.StatusDone, Result: json.RawMessage(`{"ok":true}`), Writes: []store.Write{store.InsertRoom(winner)}})
	require.NoError(t, err)

	loser := storetest.NewRoom("Loser-aaaaaaaaaaaaaaa")
	done, err := s.CompleteCommand(ctx, "race-1", store.Completion{Status: store.StatusDone, Result: json.RawMessage(`{"ok":false}`), Writes: []store.Write{store.InsertRoom(loser), store.DeleteRoom(winner.RoomID)}})
	require.NoError(t, err)
	require.JSONEq(t, `{"ok":true}`, string(done.Result), "the first completion's result stays")
	_, err = s.GetRoom(ctx, loser.RoomID)
	require.ErrorIs(t, err, store.ErrNotFound, "the losing completion inserted its room")
	_, err = s.GetRoom(ctx, winner.RoomID)
	require.NoError(t, err, "the losing completion deleted a room")
}

// TestBackgroundCheckpoint: writes reach the database file itself (not
// only the WAL) without any checkpoint by the writer, which would wait for
// 20,000 pages.
func TestBackgroundCheckpoint(t *testing.T) {
	path := filepath.Join(t.TempDir(), sqlite.DefaultFileName)
	s, err := sqlite.Open(t.Context(), sqlite.Config{Path: path, CheckpointInterval: 5 * time.Millisecond})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	before, err := os.Stat(path)
	require.NoError(t, err)
	for i := range 200 {
		require.NoError(t, s.InsertRoom(t.Context(), storetest.NewRoom(fmt.Sprintf("Ckpt%03d-aaaaaaaaaaaaaaa", i))))
	}
	require.Eventually(t, func() bool {
		fi, err := os.Stat(path)
		return err == nil && fi.Size() > before.Size()
	}, 5*time.Second, 10*time.Millisecond, "the rooms were not checkpointed into %s", path)
}

// A room's history is in completion order also for records completed in
// the same millisecond: here one after the other as fast as the store
// goes, with IDs that sort the other way.
func TestRoomHistoryInCompletionOrder(t *testing.T) {
	t.Parallel()
	s := openTemp(t)
	var want []string
	for i := 199; i >= 100; i-- {
		id := fmt.Sprintf("c-%d", i)
		_, err := s.ClaimCommand(t.Context(), &store.Command{ID: id, Type: "rooms.cmd.update_config"})
		require.NoError(t, err)
		_, err = s.CompleteCommand(t.Context(), id, store.Completion{
			Status: store.StatusDone, Result: json.RawMessage(`{"ok":true}`), Rooms: []string{"r-1", "r-2"},
		})
		require.NoError(t, err)
		want = append(want, id)
	}
	for _, room := range []string{"r-1", "r-2"} {
		var got []string
		var after *store.HistoryCursor
		for {
			page, err := s.RoomHistory(t.Context(), store.HistoryQuery{RoomID: room, After: after, Limit: 30})
			require.NoError(t, err)
			for _, c := range page {
				got = append(got, c.ID)
			}
			if len(page) < 30 {
				break
			}
			cur := page[len(page)-1].HistoryCursor()
			after = &cur
		}
		require.Equal(t, want, got, room)
	}
}
