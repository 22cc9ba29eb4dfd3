package sqlite

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/roomkeeper/roomkeeper/store"
	"github.com/roomkeeper/roomkeeper/store/storetest"
)

// TestQueryPlans checks that the sweep's queries go through their partial
// indexes in the order they return rows, so they never read every room,
// nor every expired or marked one.
func TestQueryPlans(t *testing.T) {
	s, err := Open(t.Context(), Config{Path: filepath.Join(t.TempDir(), DefaultFileName)})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })

	for name, tc := range map[string]struct {
		query string
		args  []any
		index string
	}{
		"expired":      {qExpiredRooms, []any{int64(1), int64(math.MinInt64), "", 10}, "rooms_expiry"},
		"expired-next": {qExpiredRooms, []any{int64(1), int64(0), "Room", 10}, "rooms_expiry"},
		"marked":       {qMarkedRooms, []any{"", 10}, "rooms_marked"},
	} {
		t.Run(name, func(t *testing.T) {
			joined := queryPlan(t, s, tc.query, tc.args...)
			t.Log(joined)
			require.Contains(t, joined, "USING INDEX "+tc.index, joined)
			require.NotRegexp(t, `SCAN rooms$`, joined, "full scan of rooms")
			// A page costs about limit rows only if the index gives the
			// order: a sort reads every matching row first.
			require.NotContains(t, joined, "TEMP B-TREE", "sorts every matching row")
		})
	}
}

// The last entry of a room's history, read at each completion, is one
// seek of command_history's primary key: no scan, no sort.
func TestHistoryLastQueryPlan(t *testing.T) {
	s, err := Open(t.Context(), Config{Path: filepath.Join(t.TempDir(), DefaultFileName)})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	joined := queryPlan(t, s, qHistoryLast, "r-1")
	require.Contains(t, joined, "SEARCH "+tableHistory+" USING PRIMARY KEY (room_id=?)", joined)
	require.NotContains(t, joined, "TEMP B-TREE", joined)
}

// TestWritePanicHandsOver: a write that panics fails its batch and passes
// the panic on, and the writes after it still run (the lead is handed over
// and the transaction rolled back).
func TestWritePanicHandsOver(t *testing.T) {
	s, err := Open(t.Context(), Config{Path: filepath.Join(t.TempDir(), DefaultFileName)})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })

	require.Panics(t, func() {
		_ = s.write(t.Context(), "boom", func(ctx context.Context, bind binder) error {
			_, err := bind(ctx, s.wDeleteRoom).ExecContext(ctx, "nothing")
			require.NoError(t, err)
			panic("boom")
		})
	})
	done := make(chan error, 1)
	go func() { done <- s.InsertRoom(context.Background(), storetest.NewRoom("After-aaaaaaaaaaaaaaa")) }()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("a write after the panic hangs")
	}
	n, err := s.CountRooms(t.Context())
	require.NoError(t, err)
	require.EqualValues(t, 1, n)
}

// TestFindRoomsPlans checks that every shape of FindRooms' statement walks
// the index of its sort in the order it returns rows (no sort of the
// matches, no scan of the table), from the cursor on, checking its filters
// on the index alone (covering), and reads only the page's rooms by ID; a
// name equality goes through rooms_name.
func TestFindRoomsPlans(t *testing.T) {
	s, err := Open(t.Context(), Config{Path: filepath.Join(t.TempDir(), DefaultFileName)})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })

	for _, sort := range []string{store.SortCreationDate, store.SortRoomName, store.SortAutoDeletionDate} {
		for _, desc := range []bool{false, true} {
			for _, after := range []bool{false, true} {
				for _, filter := range []string{"none", "status", "match", "equal"} {
					f := findShape{sort: sort, desc: desc, after: after, status: filter == "status",
						nameMatch: filter == "match", nameEq: filter == "equal"}
					name := fmt.Sprintf("%s-desc=%v-after=%v-%s", sort, desc, after, filter)
					t.Run(name, func(t *testing.T) {
						var args []any
						if after {
							args = append(args, "x", "x", "id")
						}
						if f.status || f.nameMatch || f.nameEq {
							args = append(args, "x")
						}
						args = append(args, 10)
						joined := queryPlan(t, s, findQuery(f), args...)
						t.Log(joined)
						if f.nameEq {
							require.Regexp(t, `USING (COVERING )?INDEX rooms_name \(room_name=\?`, joined)
							if sort == store.SortRoomName {
								require.NotContains(t, joined, "TEMP B-TREE", "sorts every matching row")
							}
							return
						}
						require.Contains(t, joined, "USING COVERING INDEX "+sortKeys[sort].index, joined)
						require.Contains(t, joined, "SEARCH rooms USING PRIMARY KEY (id=?)", "reads the page's rooms by ID")
						require.NotRegexp(t, `SCAN rooms$`, joined, "full scan of rooms")
						require.NotContains(t, joined, "TEMP B-TREE", "sorts every matching row")
						if after {
							require.Contains(t, joined, "SEARCH rooms USING COVERING INDEX", "starts at the cursor")
						}
					})
				}
			}
		}
	}
}

func queryPlan(t *testing.T, s *Store, query string, args ...any) string {
	t.Helper()
	rows, err := s.reader.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+query, args...)
	require.NoError(t, err)
	defer func() { _ = rows.Close() }()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		require.NoError(t, rows.Scan(&id, &parent, &unused, &detail))
		plan = append(plan, detail)
	}
	require.NoError(t, rows.Err())
	return strings.Join(plan, "\n")
}
