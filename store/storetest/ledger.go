package storetest

import (
	"cmp"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/roomkeeper/roomkeeper/store"
)

// findCommandsAll reads every record of status through FindCommands pages
// of size limit, calling between (when set) after each page, and returns
// the IDs in the order read.
func findCommandsAll(t *testing.T, s store.Store, status string, limit int, between func(page int)) []string {
	t.Helper()
	var ids []string
	q := store.CommandQuery{Status: status, Limit: limit}
	for page := 0; ; page++ {
		got, err := s.FindCommands(t.Context(), q)
		require.NoError(t, err)
		require.LessOrEqual(t, len(got), limit)
		for _, c := range got {
			require.Equal(t, status, c.Status)
			ids = append(ids, c.ID)
		}
		if len(got) < limit {
			return ids
		}
		cur := got[len(got)-1].Cursor()
		q.After = &cur
		if between != nil {
			between(page)
		}
		require.Less(t, page, 100, "paging does not end")
	}
}

// ledgerOrder is the IDs of recs in FindCommands' order: UpdatedAt, then
// ID, descending.
func ledgerOrder(recs []*store.Command) []string {
	recs = slices.Clone(recs)
	slices.SortFunc(recs, func(a, b *store.Command) int {
		if c := b.UpdatedAt.Compare(a.UpdatedAt); c != 0 {
			return c
		}
		return cmp.Compare(b.ID, a.ID)
	})
	ids := make([]string, len(recs))
	for i, r := range recs {
		ids[i] = r.ID
	}
	return ids
}

// testFindCommands: each status lists its own records, newest first, ties
// by ID; a page holds the result, neither plan nor outbox; a bad query is
// ErrInvalid.
func testFindCommands(t *testing.T, s store.Store) {
	ctx := t.Context()
	empty, err := s.FindCommands(ctx, store.CommandQuery{Status: store.StatusDone, Limit: 10})
	require.NoError(t, err)
	require.Empty(t, empty)

	base := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	// Pending records with chosen times, two of them tied.
	var pending []*store.Command
	for i, at := range []time.Duration{0, time.Second, time.Second, 3 * time.Second} {
		c, err := s.ClaimCommand(ctx, &store.Command{
			ID: "pend-" + string(rune('a'+i)), Type: "rooms.cmd.create",
			Plan:      json.RawMessage(`{"plan":1}`),
			CreatedAt: base.Add(at), UpdatedAt: base.Add(at),
		})
		require.NoError(t, err)
		pending = append(pending, c)
	}
	var done, dead []*store.Command
	for i, status := range []string{store.StatusDone, store.StatusDead, store.StatusDone, store.StatusDone, store.StatusDead} {
		id := status + "-" + string(rune('a'+i))
		_, err := s.ClaimCommand(ctx, &store.Command{ID: id, Type: "rooms.cmd.delete"})
		require.NoError(t, err)
		res := json.RawMessage(`{"commandId":"` + id + `","ok":true}`)
		c, err := s.CompleteCommand(ctx, id, store.Completion{
			Status: status, Result: res,
			Outbox: []store.OutMsg{{Subject: "rooms.results." + id, MsgID: id, Data: res}},
		})
		require.NoError(t, err)
		if status == store.StatusDone {
			done = append(done, c)
		} else {
			dead = append(dead, c)
		}
	}
	for status, recs := range map[string][]*store.Command{
		store.StatusPending: pending, store.StatusDone: done, store.StatusDead: dead,
	} {
		got, err := s.FindCommands(ctx, store.CommandQuery{Status: status, Limit: 100})
		require.NoError(t, err)
		gotIDs := make([]string, len(got))
		for i, c := range got {
			gotIDs[i] = c.ID
			require.Empty(t, c.Outbox, "a listed record has no outbox")
			require.Empty(t, c.Plan, "a listed record has no plan")
			stored, err := s.GetCommand(ctx, c.ID)
			require.NoError(t, err)
			require.Equal(t, stored.Type, c.Type)
			require.Equal(t, stored.Status, c.Status)
			require.WithinDuration(t, stored.CreatedAt, c.CreatedAt, timeTolerance)
			require.WithinDuration(t, stored.UpdatedAt, c.UpdatedAt, timeTolerance)
			if status == store.StatusPending {
				require.Empty(t, c.Result)
			} else {
				require.JSONEq(t, string(stored.Result), string(c.Result))
			}
		}
		require.Equal(t, ledgerOrder(recs), gotIDs, "status %s", status)
	}
	// The tie between pend-b and pend-c goes by ID, descending.
	got, err := s.FindCommands(ctx, store.CommandQuery{Status: store.StatusPending, Limit: 2})
	require.NoError(t, err)
	require.Equal(t, []string{"pend-d", "pend-c"}, []string{got[0].ID, got[1].ID})
	cur := got[1].Cursor()
	got, err = s.FindCommands(ctx, store.CommandQuery{Status: store.StatusPending, Limit: 2, After: &cur})
	require.NoError(t, err)
	require.Equal(t, []string{"pend-b", "pend-a"}, []string{got[0].ID, got[1].ID})

	for _, q := range []store.CommandQuery{
		{Status: "failed", Limit: 1},
		{Status: "", Limit: 1},
		{Status: store.StatusDone, Limit: 0},
	} {
		_, err := s.FindCommands(ctx, q)
		require.ErrorIs(t, err, store.ErrInvalid, "%+v", q)
	}
}

// testFindCommandsPaging: pages of every size read each record of a status
// once, in order, also while records are claimed and completed between
// pages: a record that stays pending throughout is read exactly once.
func testFindCommandsPaging(t *testing.T, s store.Store) {
	ctx := t.Context()
	base := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	var recs []*store.Command
	for i := range 13 {
		// Pairs of records share a time: the ties cross page boundaries.
		at := base.Add(time.Duration(i/2) * time.Second)
		c, err := s.ClaimCommand(ctx, &store.Command{
			ID: "page-" + string(rune('a'+i)), Type: "rooms.cmd.create", CreatedAt: at, UpdatedAt: at,
		})
		require.NoError(t, err)
		recs = append(recs, c)
	}
	want := ledgerOrder(recs)
	for _, limit := range []int{1, 2, 3, 5, 13, 20} {
		require.Equal(t, want, findCommandsAll(t, s, store.StatusPending, limit, nil), "limit %d", limit)
	}

	// Between pages: the newest record is completed (it leaves the pending
	// listing behind the cursor), a new one is claimed (newer than the
	// cursor, so not read), and one not read yet is completed (gone
	// before its page).
	gone := want[len(want)-1]
	got := findCommandsAll(t, s, store.StatusPending, 3, func(page int) {
		if page != 0 {
			return
		}
		_, err := s.CompleteCommand(ctx, want[0], store.Completion{Status: store.StatusDone, Result: json.RawMessage(`{}`)})
		require.NoError(t, err)
		_, err = s.CompleteCommand(ctx, gone, store.Completion{Status: store.StatusDone, Result: json.RawMessage(`{}`)})
		require.NoError(t, err)
		_, err = s.ClaimCommand(ctx, &store.Command{ID: "page-new", Type: "rooms.cmd.create"})
		require.NoError(t, err)
	})
	require.Equal(t, want[:len(want)-1], got, "each record pending throughout is read once, in order")
	done := findCommandsAll(t, s, store.StatusDone, 1, nil)
	require.ElementsMatch(t, []string{want[0], gone}, done)
}
