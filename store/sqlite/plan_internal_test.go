package sqlite

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestQueryPlans checks that the sweep's queries go through their partial
// indexes and never read every room.
func TestQueryPlans(t *testing.T) {
	s, err := Open(t.Context(), Config{Path: filepath.Join(t.TempDir(), DefaultFileName)})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })

	for name, tc := range map[string]struct {
		query string
		args  []any
		index string
	}{
		"expired": {qExpiredRooms, []any{int64(1), "", 10}, "rooms_expiry"},
		"marked":  {qMarkedRooms, []any{"", 10}, "rooms_marked"},
	} {
		t.Run(name, func(t *testing.T) {
			rows, err := s.reader.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+tc.query, tc.args...)
			require.NoError(t, err)
			defer rows.Close()
			var plan []string
			for rows.Next() {
				var id, parent, unused int
				var detail string
				require.NoError(t, rows.Scan(&id, &parent, &unused, &detail))
				plan = append(plan, detail)
			}
			require.NoError(t, rows.Err())
			joined := strings.Join(plan, "\n")
			t.Log(joined)
			require.Contains(t, joined, "USING INDEX "+tc.index, joined)
			require.NotRegexp(t, `SCAN rooms$`, joined, "full scan of rooms")
		})
	}
}
