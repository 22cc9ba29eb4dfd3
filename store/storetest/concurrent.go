package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/roomkeeper/roomkeeper/store"
)

// This file holds the cases of completions seen by others at the same time:
// competing completions of one record, readers during completions, and
// stores of several processes on the same data.

// completeConcurrently: Concurrency completions of one new record id at
// once, spread over stores, each inserting a room of its own (prefix and
// its number): exactly one wins, every caller gets its result, and only
// its room is there.
func completeConcurrently(t *testing.T, stores []store.Store, id, prefix string) {
	ctx := t.Context()
	_, err := stores[0].ClaimCommand(ctx, &store.Command{ID: id, Type: "rooms.cmd.create"})
	require.NoError(t, err)
	roomID := func(i int) string { return fmt.Sprintf("%s%02d-hhhhhhhhhhhhh", prefix, i) }
	results := make([]*store.Command, Concurrency)
	errs := make([]error, Concurrency)
	var wg sync.WaitGroup
	for i := range Concurrency {
		s := stores[i%len(stores)]
		wg.Go(func() {
			results[i], errs[i] = s.CompleteCommand(ctx, id, store.Completion{
				Status: store.StatusDone,
				Result: json.RawMessage(fmt.Sprintf(`{"room":%q}`, roomID(i))),
				Writes: []store.Write{store.InsertRoom(NewRoom(roomID(i)))},
			})
		})
	}
	wg.Wait()
	for i := range Concurrency {
		require.NoError(t, errs[i], "completer %d", i)
		require.JSONEq(t, string(results[0].Result), string(results[i].Result), "every completer gets the one result")
	}
	var winner struct{ Room string }
	require.NoError(t, json.Unmarshal(results[0].Result, &winner))
	for i := range Concurrency {
		_, err := stores[len(stores)-1].GetRoom(ctx, roomID(i))
		if roomID(i) == winner.Room {
			require.NoError(t, err, "the winner's room is there")
		} else {
			require.ErrorIs(t, err, store.ErrNotFound, "a loser's room %s was inserted", roomID(i))
		}
	}
}

func testCompleteCommandConcurrent(t *testing.T, s store.Store) {
	completeConcurrently(t, []store.Store{s}, "race-complete", "Race")
}

// completionWrites are the writes of completion i of the visibility
// subtests: a room inserted, one deleted, an archive put.
type completionWrites struct {
	cmd, inserted, deleted string
}

// watchCompletions completes n records one after another, each with room
// writes, while a reader repeatedly reads the record being completed and
// its writes, in the order order gives ("record" first, or "writes"
// first), and calls check with what it saw. It returns the first violation
// check reported ("" for none).
func watchCompletions(t *testing.T, s store.Store, prefix string, n int, recordFirst bool,
	check func(finished, inserted, deleted bool) string) string {
	t.Helper()
	ctx := t.Context()
	ws := make([]completionWrites, n)
	for i := range ws {
		ws[i] = completionWrites{
			cmd:      fmt.Sprintf("%s-cmd-%02d", prefix, i),
			inserted: fmt.Sprintf("%sIns%02d-iiiiiiiiii", prefix, i),
			deleted:  fmt.Sprintf("%sDel%02d-iiiiiiiiii", prefix, i),
		}
		require.NoError(t, s.InsertRoom(ctx, NewRoom(ws[i].deleted)))
		_, err := s.ClaimCommand(ctx, &store.Command{ID: ws[i].cmd, Type: "rooms.cmd.create"})
		require.NoError(t, err)
	}

	var (
		current  atomic.Int64 // the completion in flight; -1 before the first
		stop     = make(chan struct{})
		readerWG sync.WaitGroup
		mu       sync.Mutex
		first    string
		readErr  error
	)
	current.Store(-1)
	exists := func(id string) (bool, error) {
		_, err := s.GetRoom(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return false, nil
		}
		return err == nil, err
	}
	readerWG.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			i := current.Load()
			if i < 0 {
				continue
			}
			w := ws[i]
			var (
				finished, inserted, gone bool
				err, err2, err3          error
			)
			readRecord := func() {
				var c *store.Command
				c, err = s.GetCommand(ctx, w.cmd)
				finished = err == nil && c.Finished()
			}
			if recordFirst {
				readRecord()
			}
			inserted, err2 = exists(w.inserted)
			var still bool
			still, err3 = exists(w.deleted)
			gone = !still
			if !recordFirst {
				readRecord()
			}
			if err = errors.Join(err, err2, err3); err != nil {
				mu.Lock()
				readErr = err
				mu.Unlock()
				return
			}
			if v := check(finished, inserted, gone); v != "" {
				mu.Lock()
				if first == "" {
					first = fmt.Sprintf("completion %d: %s", i, v)
				}
				mu.Unlock()
			}
		}
	})
	for i, w := range ws {
		current.Store(int64(i))
		_, err := s.CompleteCommand(ctx, w.cmd, store.Completion{
			Status: store.StatusDone,
			Result: json.RawMessage(`{"ok":true}`),
			Writes: []store.Write{
				store.InsertRoom(NewRoom(w.inserted)),
				store.DeleteRoom(w.deleted),
				store.PutArchived(&store.ArchivedRoom{RoomID: w.inserted, RoomName: "archived"}),
			},
		})
		require.NoError(t, err)
	}
	close(stop)
	readerWG.Wait()
	require.NoError(t, readErr)

	// In the end every completion is whole.
	for _, w := range ws {
		c, err := s.GetCommand(ctx, w.cmd)
		require.NoError(t, err)
		require.Equal(t, store.StatusDone, c.Status)
		_, err = s.GetRoom(ctx, w.inserted)
		require.NoError(t, err)
		roomGone(t, s, w.deleted)
	}
	return first
}

// testCompletionNeverDoneWithoutWrites: a reader that finds a record
// finished finds all of its completion's writes applied, whatever the
// store (the guarded sequence too: it finishes the record last).
func testCompletionNeverDoneWithoutWrites(t *testing.T, s store.Store) {
	v := watchCompletions(t, s, "Whole", 12, true, func(finished, inserted, deleted bool) string {
		if finished && (!inserted || !deleted) {
			return fmt.Sprintf("record finished, but inserted=%v deleted=%v", inserted, deleted)
		}
		return ""
	})
	require.Empty(t, v, "a reader saw a finished record without its writes")
}

// testCompletionAtomic (AtomicCompletion): a reader that finds any of a
// completion's writes finds its record finished, and one that finds the
// record pending finds none of its writes.
func testCompletionAtomic(t *testing.T, s store.Store) {
	v := watchCompletions(t, s, "Atomic", 12, false, func(finished, inserted, deleted bool) string {
		if !finished && (inserted || deleted) {
			return fmt.Sprintf("record pending, but inserted=%v deleted=%v", inserted, deleted)
		}
		return ""
	})
	require.Empty(t, v, "a reader saw a completion's writes before its record was finished")
}

// The ConcurrentProcesses subtests: the concurrent cases run over s and a
// second store on the same data, as another process would open it.

func testProcessesUpdateRoom(t *testing.T, h Harness, s store.Store) {
	updateConcurrently(t, []store.Store{s, h.OpenShared(t, s)}, "Processes-update-aaaaaa")
}

func testProcessesClaimCommand(t *testing.T, h Harness, s store.Store) {
	claimConcurrently(t, []store.Store{s, h.OpenShared(t, s)}, "processes-claim")
}

func testProcessesSetCommandPlan(t *testing.T, h Harness, s store.Store) {
	planConcurrently(t, []store.Store{s, h.OpenShared(t, s)}, "processes-plan")
}

func testProcessesCompleteCommand(t *testing.T, h Harness, s store.Store) {
	completeConcurrently(t, []store.Store{s, h.OpenShared(t, s)}, "processes-complete", "Proc")
}
