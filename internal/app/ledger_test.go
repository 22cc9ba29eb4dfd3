package app_test

import (
	"context"
	"database/sql"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/internal/app"
	"github.com/roomkeeper/roomkeeper/internal/config"
	"github.com/roomkeeper/roomkeeper/rooms"
)

// LEDGER_RETENTION and LEDGER_PRUNE_MAX reach the sweep's pruner: with a
// retention of 25h, records done 2 days ago go (the default, 7 days, would
// keep them) and one done 24h ago stays; with at most 2 per sweep, the
// three old ones take two sweeps.
func TestLedgerSettingsReachThePruner(t *testing.T) {
	require.Equal(t, rooms.DefaultLedgerRetention, config.Default().LedgerRetention, "one default")

	cfg := testConfig(t)
	cfg.LedgerRetention = 25 * time.Hour
	cfg.LedgerPruneMax = 2
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.Start(ctx, cfg, app.Roles{Worker: true, Embedded: true}, cfg.Logger())
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	c, js := appClient(t, a)

	var ids []string
	for i := range 4 {
		id := cmdID(fmt.Sprintf("ledger-%d", i))
		name := id
		_, err := c.CreateRoom(ctxT(t, 30*time.Second), id, events.CreateRoom{RoomName: &name})
		require.NoError(t, err)
		ids = append(ids, id)
	}
	raw, err := sql.Open("sqlite", cfg.SQLitePath()+"?_busy_timeout=10000")
	require.NoError(t, err)
	defer func() { _ = raw.Close() }()
	age := func(id string, d time.Duration) {
		res, err := raw.ExecContext(t.Context(), `UPDATE commands SET updated_at = ? WHERE id = ?`, time.Now().Add(-d).UnixMilli(), id)
		require.NoError(t, err)
		n, err := res.RowsAffected()
		require.NoError(t, err)
		require.EqualValues(t, 1, n, id)
	}
	for _, id := range ids[:3] {
		age(id, 48*time.Hour)
	}
	age(ids[3], 24*time.Hour)
	kept := func() (n int) {
		for _, id := range ids {
			var one int
			err := raw.QueryRowContext(t.Context(), `SELECT 1 FROM commands WHERE id = ?`, id).Scan(&one)
			if err == nil {
				n++
			}
		}
		return n
	}

	sweep := func(id string) {
		m := nats.NewMsg(events.SubjectSweep)
		m.Data = []byte(`{}`)
		m.Header.Set(events.HeaderOrigin, events.OriginScheduler)
		_, err := js.PublishMsg(ctxT(t, 10*time.Second), m, jetstream.WithMsgID(id))
		require.NoError(t, err)
		res, err := c.Result(ctxT(t, 30*time.Second), id)
		require.NoError(t, err)
		require.True(t, res.OK, "%+v", res.Error)
	}
	sweep("sweep-1")
	require.Equal(t, 2, kept(), "LEDGER_PRUNE_MAX=2 records pruned by one sweep")
	sweep("sweep-2")
	require.Equal(t, 1, kept(), "the rest by the next sweep; the one within LEDGER_RETENTION stays")
	var one int
	require.NoError(t, raw.QueryRowContext(t.Context(), `SELECT 1 FROM commands WHERE id = ?`, ids[3]).Scan(&one))
}
