package sqlite_test

import (
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/roomkeeper/roomkeeper/store"
	"github.com/roomkeeper/roomkeeper/store/sqlite"
	"github.com/roomkeeper/roomkeeper/store/storetest"
)

// schemaV1 is the schema of user_version 1, as roomkeeper wrote it before
// the commands_prune index (version 2).
var schemaV1 = []string{
	`CREATE TABLE rooms (
		id                  TEXT    NOT NULL PRIMARY KEY,
		room_name           TEXT    NOT NULL,
		creation_date       INTEGER NOT NULL,
		auto_deletion_date  INTEGER,
		marked_for_deletion INTEGER NOT NULL DEFAULT 0,
		chat_enabled        INTEGER NOT NULL,
		recording_enabled   INTEGER NOT NULL,
		recording_access    TEXT    NOT NULL DEFAULT '',
		vbg_enabled         INTEGER NOT NULL,
		moderator_room_url  TEXT    NOT NULL,
		publisher_room_url  TEXT    NOT NULL,
		moderator_secret    TEXT    NOT NULL,
		publisher_secret    TEXT    NOT NULL,
		meeting             TEXT    NOT NULL DEFAULT '',
		version             INTEGER NOT NULL,
		applied             TEXT    NOT NULL DEFAULT '[]'
	) WITHOUT ROWID`,
	`CREATE INDEX rooms_expiry ON rooms (auto_deletion_date)
		WHERE auto_deletion_date IS NOT NULL AND marked_for_deletion = 0`,
	`CREATE INDEX rooms_marked ON rooms (id) WHERE (marked_for_deletion <> 0 OR meeting = 'active')`,
	`CREATE TABLE commands (
		id         TEXT    NOT NULL PRIMARY KEY,
		type       TEXT    NOT NULL,
		status     TEXT    NOT NULL,
		plan       TEXT,
		result     TEXT,
		outbox     TEXT,
		created_at INTEGER NOT NULL,
		updated_at INTEGER NOT NULL
	)`,
	`CREATE TABLE archived_rooms (
		id                 TEXT    NOT NULL PRIMARY KEY,
		room_name          TEXT    NOT NULL,
		chat_enabled       INTEGER NOT NULL,
		recording_enabled  INTEGER NOT NULL,
		recording_access   TEXT    NOT NULL DEFAULT '',
		vbg_enabled        INTEGER NOT NULL,
		moderator_room_url TEXT    NOT NULL,
		publisher_room_url TEXT    NOT NULL,
		moderator_secret   TEXT    NOT NULL,
		publisher_secret   TEXT    NOT NULL
	)`,
	`PRAGMA user_version = 1`,
}

// TestMigrateV1: a file of schema version 1, with a ledger, opens; it gets
// the commands_prune index, the published column, the columns of version
// 4 and version 4 in place, keeps its records, and PruneCommands and
// MarkPublished work on them.
func TestMigrateV1(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), sqlite.DefaultFileName)
	raw, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	for _, stmt := range schemaV1 {
		_, err := raw.ExecContext(ctx, stmt)
		require.NoError(t, err, stmt)
	}
	old := time.Now().Add(-30 * 24 * time.Hour).UnixMilli()
	for _, c := range []struct{ id, status string }{{"done-old", store.StatusDone}, {"pending-old", store.StatusPending}} {
		_, err := raw.ExecContext(ctx, `INSERT INTO commands (id, type, status, result, outbox, created_at, updated_at)
			VALUES (?, 'rooms.cmd.create', ?, '{"ok":true}', '[{"subject":"s","msgId":"m","data":{}}]', ?, ?)`,
			c.id, c.status, old, old)
		require.NoError(t, err)
	}
	require.NoError(t, raw.Close())

	s := openAt(t, path)
	room := storetest.NewRoom("After-abcdefghijklmno")
	require.NoError(t, s.InsertRoom(ctx, room), "the migrated file takes writes")
	c, err := s.GetCommand(ctx, "done-old")
	require.NoError(t, err)
	require.Equal(t, store.StatusDone, c.Status)
	require.Len(t, c.Outbox, 1)
	require.False(t, c.Published, "an old record is not known to be published")
	require.NoError(t, s.MarkPublished(ctx, "pending-old"))
	c, err = s.GetCommand(ctx, "pending-old")
	require.NoError(t, err)
	require.True(t, c.Published)

	n, err := s.PruneCommands(ctx, time.Now().Add(-24*time.Hour), 10)
	require.NoError(t, err)
	require.EqualValues(t, 1, n)
	_, err = s.GetCommand(ctx, "done-old")
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = s.GetCommand(ctx, "pending-old")
	require.NoError(t, err)

	raw, err = sql.Open("sqlite", path)
	require.NoError(t, err)
	defer func() { _ = raw.Close() }()
	var version int
	require.NoError(t, raw.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version))
	require.Equal(t, 4, version)
	var index string
	require.NoError(t, raw.QueryRowContext(ctx,
		`SELECT sql FROM sqlite_schema WHERE type = 'index' AND name = 'commands_prune'`).Scan(&index))
	require.Contains(t, index, "(status, updated_at)")

	// The prune reads only the index.
	rows, err := raw.QueryContext(ctx, `EXPLAIN QUERY PLAN SELECT rowid FROM commands
		WHERE status = 'done' AND updated_at < 0 ORDER BY updated_at LIMIT 10`)
	require.NoError(t, err)
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		require.NoError(t, rows.Scan(&id, &parent, &unused, &detail))
		plan = append(plan, detail)
	}
	require.NoError(t, rows.Err())
	require.Equal(t, []string{"SEARCH commands USING COVERING INDEX commands_prune (status=? AND updated_at<?)"}, plan)
}
