package storetest

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/roomkeeper/roomkeeper/store"
)

// This file holds the cases of Store.RoomHistory: a room's finished ledger
// records in completion order, paged, pruned with the ledger.

// finishFor claims and completes command id about rooms, caused by cause.
func finishFor(t *testing.T, s store.Store, id, typ, cause string, rooms ...string) *store.Command {
	t.Helper()
	_, err := s.ClaimCommand(t.Context(), &store.Command{ID: id, Type: typ})
	require.NoError(t, err)
	res := json.RawMessage(fmt.Sprintf(`{"commandId":%q,"ok":true}`, id))
	c, err := s.CompleteCommand(t.Context(), id, store.Completion{
		Status: store.StatusDone, Result: res, Rooms: rooms, Cause: cause,
		Outbox: []store.OutMsg{{Subject: "rooms.results." + id, MsgID: "result:" + id, Data: res}},
	})
	require.NoError(t, err)
	require.Equal(t, rooms, c.Rooms, "the completion returns its rooms")
	require.Equal(t, cause, c.Cause)
	// Completion times at least a millisecond apart, so that the order is
	// that of the calls.
	time.Sleep(2 * time.Millisecond)
	return c
}

// historyIDs reads room's whole history in pages of limit and returns the
// command IDs in order, and the records.
func historyIDs(t *testing.T, s store.Store, room string, limit int) ([]string, []store.Command) {
	t.Helper()
	var (
		ids   []string
		all   []store.Command
		after *store.HistoryCursor
	)
	for pages := 0; ; pages++ {
		require.Less(t, pages, 100, "the history does not end")
		page, err := s.RoomHistory(t.Context(), store.HistoryQuery{RoomID: room, After: after, Limit: limit})
		require.NoError(t, err)
		require.LessOrEqual(t, len(page), limit)
		for _, c := range page {
			ids = append(ids, c.ID)
			all = append(all, c)
		}
		if len(page) < limit {
			return ids, all
		}
		cur := page[len(page)-1].HistoryCursor()
		after = &cur
	}
}

// testRoomHistory: a room's history lists the finished commands about it,
// and only those, in completion order, with their rooms and cause; every
// page size gives the same list; pending records are not in it.
func testRoomHistory(t *testing.T, s store.Store) {
	ctx := t.Context()
	const room, other = "Hist-aaaaaaaaaaaaaaa", "Hist-bbbbbbbbbbbbbbb"
	finishFor(t, s, "hist-create", "rooms.cmd.create", "", room)
	finishFor(t, s, "hist-other", "rooms.cmd.create", "", other)
	finishFor(t, s, "hist-update", "rooms.cmd.update_config", "", room)
	finishFor(t, s, "hist-bulk", "rooms.cmd.delete", "", other, room)
	finishFor(t, s, "hist-none", "rooms.cmd.sweep", "")
	finishFor(t, s, "expire-hist", "rooms.cmd.delete", "sweep-hist", room)
	_, err := s.ClaimCommand(ctx, &store.Command{ID: "hist-pending", Type: "rooms.cmd.update_config"})
	require.NoError(t, err)

	want := []string{"hist-create", "hist-update", "hist-bulk", "expire-hist"}
	for _, limit := range []int{1, 2, 3, 4, 10} {
		ids, recs := historyIDs(t, s, room, limit)
		require.Equal(t, want, ids, "page size %d", limit)
		require.Equal(t, []string{other, room}, recs[2].Rooms)
		require.Equal(t, "sweep-hist", recs[3].Cause)
		require.Equal(t, "rooms.cmd.delete", recs[3].Type)
		require.Equal(t, store.StatusDone, recs[3].Status)
		require.JSONEq(t, `{"commandId":"expire-hist","ok":true}`, string(recs[3].Result))
		for i := 1; i < len(recs); i++ {
			require.False(t, recs[i].UpdatedAt.Before(recs[i-1].UpdatedAt), "completion order")
		}
	}
	ids, _ := historyIDs(t, s, other, 10)
	require.Equal(t, []string{"hist-other", "hist-bulk"}, ids)
	ids, _ = historyIDs(t, s, "Hist-ccccccccccccccc", 10)
	require.Empty(t, ids, "a room no command was about has an empty history")

	got, err := s.GetCommand(ctx, "expire-hist")
	require.NoError(t, err)
	require.Equal(t, []string{room}, got.Rooms, "the record keeps its rooms")
	require.Equal(t, "sweep-hist", got.Cause)

	// A second completion of a finished record adds nothing.
	_, err = s.CompleteCommand(ctx, "hist-create", store.Completion{Status: store.StatusDone, Result: json.RawMessage(`{}`), Rooms: []string{other}})
	require.NoError(t, err)
	ids, _ = historyIDs(t, s, other, 10)
	require.Equal(t, []string{"hist-other", "hist-bulk"}, ids)

	_, err = s.RoomHistory(ctx, store.HistoryQuery{RoomID: room, Limit: 0})
	require.ErrorIs(t, err, store.ErrInvalid)
}

// testRoomHistoryPruned: a pruned record leaves the histories with the
// ledger.
func testRoomHistoryPruned(t *testing.T, s store.Store) {
	ctx := t.Context()
	const room = "Prun-aaaaaaaaaaaaaaa"
	finishFor(t, s, "prune-h-0", "rooms.cmd.create", "", room)
	finishFor(t, s, "prune-h-1", "rooms.cmd.update_config", "", room)
	time.Sleep(20 * time.Millisecond)
	last := finishFor(t, s, "prune-h-2", "rooms.cmd.delete", "", room)
	n, err := s.PruneCommands(ctx, last.UpdatedAt, 100)
	require.NoError(t, err)
	require.EqualValues(t, 2, n)
	ids, _ := historyIDs(t, s, room, 10)
	require.Equal(t, []string{"prune-h-2"}, ids)
}
