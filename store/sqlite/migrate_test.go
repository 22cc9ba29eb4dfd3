package sqlite_test

import (
	"database/sql"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/roomkeeper/roomkeeper/events"
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

	// Version 5: the records of the old file are in no history; a
	// completion in the migrated file is in its rooms'.
	_, err = s.CompleteCommand(ctx, "pending-old", store.Completion{Status: store.StatusDone, Result: json.RawMessage(`{}`), Rooms: []string{"r-1"}, Cause: "sweep-1"})
	require.NoError(t, err)
	hist, err := s.RoomHistory(ctx, store.HistoryQuery{RoomID: "r-1", Limit: 10})
	require.NoError(t, err)
	require.Len(t, hist, 1)
	require.Equal(t, "pending-old", hist[0].ID)
	require.Equal(t, "sweep-1", hist[0].Cause)

	raw, err = sql.Open("sqlite", path)
	require.NoError(t, err)
	defer func() { _ = raw.Close() }()
	var version int
	require.NoError(t, raw.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version))
	require.Equal(t, 5, version)
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

	// A history page walks the room's range of command_history's key and
	// reads each record by its ID: no scan, no sort.
	rows, err = raw.QueryContext(ctx, `EXPLAIN QUERY PLAN `+sqlite.QRoomHistory, "r-1", 0, "", 10)
	require.NoError(t, err)
	plan = nil
	for rows.Next() {
		var id, parent, unused int
		var detail string
		require.NoError(t, rows.Scan(&id, &parent, &unused, &detail))
		plan = append(plan, detail)
	}
	require.NoError(t, rows.Err())
	require.Len(t, plan, 2, "%q", plan)
	require.Contains(t, plan[0], "SEARCH h USING PRIMARY KEY (room_id=?")
	require.Contains(t, plan[1], "SEARCH c USING INDEX sqlite_autoindex_commands_1 (id=?)")
}

// schemaV3 is the schema of user_version 3, the last before the room model
// of issue 15: version 1 with commands.published and commands_prune.
func schemaV3() []string {
	stmts := slices.Clone(schemaV1[:len(schemaV1)-1])
	stmts[3] = strings.Replace(stmts[3], "updated_at INTEGER NOT NULL\n",
		"updated_at INTEGER NOT NULL,\n\t\tpublished  INTEGER NOT NULL DEFAULT 0\n", 1)
	return append(stmts,
		`CREATE INDEX commands_prune ON commands (status, updated_at)`,
		`PRAGMA user_version = 3`)
}

// TestMigrateV3Rooms: rooms written by version 3 (raw rows, as it wrote
// them) are upgraded in place by the migration to version 4: read back in
// the current record shape through every read, found by their new status,
// and stored so (the rows themselves hold the new shape).
func TestMigrateV3Rooms(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), sqlite.DefaultFileName)
	raw, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	for _, stmt := range schemaV3() {
		_, err := raw.ExecContext(ctx, stmt)
		require.NoError(t, err, stmt)
	}
	olds := storetest.OldRooms()
	for _, r := range olds {
		p := r.Preferences
		var date any
		if r.AutoDeletionDate != nil {
			date = *r.AutoDeletionDate
		}
		_, err := raw.ExecContext(ctx, `INSERT INTO rooms (id, room_name, creation_date, auto_deletion_date,
			marked_for_deletion, chat_enabled, recording_enabled, recording_access, vbg_enabled,
			moderator_room_url, publisher_room_url, moderator_secret, publisher_secret, meeting, version, applied)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			r.RoomID, r.RoomName, r.CreationDate, date, r.MarkedForDeletion,
			p.ChatPreferences.Enabled, p.RecordingPreferences.Enabled, p.RecordingPreferences.AllowAccessTo,
			p.VirtualBackgroundPreferences.Enabled, r.ModeratorRoomURL, r.PublisherRoomURL,
			r.ModeratorSecret, r.PublisherSecret, r.Meeting, r.Version, `["`+r.Applied[0]+`"]`)
		require.NoError(t, err)
	}
	require.NoError(t, raw.Close())

	s := openAt(t, path)
	upgraded := map[string]*store.Room{}
	for _, old := range olds {
		got, err := s.GetRoom(ctx, old.RoomID)
		require.NoError(t, err)
		storetest.RequireUpgraded(t, old, got)
		upgraded[old.RoomID] = got
	}
	found, err := s.FindRooms(ctx, store.RoomQuery{Status: events.StatusActiveMeeting, Sort: store.SortRoomName, Limit: 10})
	require.NoError(t, err)
	require.Equal(t, []string{olds[0].RoomID, olds[2].RoomID}, []string{found[0].RoomID, found[1].RoomID})
	require.Len(t, found, 2)
	// Sorted by autoDeletionDate, the rooms without one come last.
	found, err = s.FindRooms(ctx, store.RoomQuery{Sort: store.SortAutoDeletionDate, Limit: 10})
	require.NoError(t, err)
	require.Equal(t, []string{olds[0].RoomID, olds[2].RoomID, olds[1].RoomID, olds[3].RoomID},
		[]string{found[0].RoomID, found[1].RoomID, found[2].RoomID, found[3].RoomID})
	require.NoError(t, s.Close())

	// The rows hold the new shape: what was read is what is stored.
	raw, err = sql.Open("sqlite", path)
	require.NoError(t, err)
	defer func() { _ = raw.Close() }()
	var version, old int
	require.NoError(t, raw.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version))
	require.Equal(t, 5, version)
	require.NoError(t, raw.QueryRowContext(ctx, "SELECT count(*) FROM rooms WHERE schema_version < 1 OR status = ''").Scan(&old))
	require.Zero(t, old)
	var secret, access string
	require.NoError(t, raw.QueryRowContext(ctx, "SELECT recording_secret, access FROM rooms WHERE id = ?", olds[0].RoomID).Scan(&secret, &access))
	require.Equal(t, upgraded[olds[0].RoomID].RecordingSecret, secret)
	require.Contains(t, access, "/recordings?secret="+secret)

	s = openAt(t, path)
	for _, old := range olds {
		got, err := s.GetRoom(ctx, old.RoomID)
		require.NoError(t, err)
		storetest.RequireRoomEqual(t, upgraded[old.RoomID], got, "reopened")
	}
}
