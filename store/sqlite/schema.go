package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/roomkeeper/roomkeeper/store"
)

// schemaVersion is stored in PRAGMA user_version. Raise it with every change
// of the statements below and migrate from the older versions in migrate.
//
//   - 1: rooms, rooms_expiry, rooms_marked, commands, archived_rooms;
//   - 2: commands_prune (PruneCommands). A version 1 file gets it in place:
//     every statement of schema is idempotent, so running them all on a
//     version 1 file creates exactly what it lacks.
//   - 3: commands.published (MarkPublished), added in place by migrate.
//   - 4: the room model of OpenVidu Meet (issue 15): the columns of
//     roomV4Cols, added in place by migrate, which then upgrades every room
//     to the current record shape (store.UpgradeRoom); the indexes of
//     FindRooms' sorts (rooms_created, rooms_name, rooms_deletion).
//   - 5: rooms.end_trace (store.Room.EndTrace), roomV5Cols, added in place
//     by migrate; and a room's history (RoomHistory): commands.rooms and commands.cause,
//     added in place by migrate; the table command_history, one row per
//     room a finished command was about, with its index by command and the
//     trigger that removes a record's rows when the record is deleted
//     (PruneCommands). Records finished before version 5 are in no
//     history.
const schemaVersion = 5

// schema creates every table and index; each statement is idempotent.
var schema = []string{
	`CREATE TABLE IF NOT EXISTS rooms (
		id                  TEXT    NOT NULL PRIMARY KEY,
		room_name           TEXT    NOT NULL,
		creation_date       INTEGER NOT NULL,          -- epoch ms
		auto_deletion_date  INTEGER,                   -- epoch ms, NULL: never
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
		applied             TEXT    NOT NULL DEFAULT '[]', -- JSON array of command IDs
		` + strings.Join(roomV4Cols, ",\n\t\t") + `,
		` + strings.Join(roomV5Cols, ",\n\t\t") + `
	) WITHOUT ROWID`,
	// ExpiredRooms: rooms with a date, not yet marked.
	`CREATE INDEX IF NOT EXISTS rooms_expiry ON rooms (auto_deletion_date)
		WHERE auto_deletion_date IS NOT NULL AND marked_for_deletion = 0`,
	// MarkedRooms: the few rooms to reconcile with LiveKit, in ID order.
	`CREATE INDEX IF NOT EXISTS rooms_marked ON rooms (id) WHERE ` + markedCond,
	// FindRooms, one per sort (version 4). Each is in (sort value, id)
	// order, FindRooms' order, and holds the columns FindRooms filters on
	// (status, room_name), so a walk checks its filters on the index
	// entries and reads from the table only the rooms it returns.
	// rooms_deletion is on the column that sorts a room without a date
	// after every dated one.
	`CREATE INDEX IF NOT EXISTS rooms_created ON rooms (creation_date, id, status, room_name)`,
	`CREATE INDEX IF NOT EXISTS rooms_name ON rooms (room_name, id, status)`,
	`CREATE INDEX IF NOT EXISTS rooms_deletion ON rooms (` + deletionKey + `, id, status, room_name)`,
	`CREATE TABLE IF NOT EXISTS commands (
		id         TEXT    NOT NULL PRIMARY KEY,
		type       TEXT    NOT NULL,
		status     TEXT    NOT NULL,
		plan       TEXT,                               -- JSON, NULL until planned
		result     TEXT,                               -- JSON, NULL until done
		outbox     TEXT,                               -- messages, see outbox.go (JSON in old rows)
		created_at INTEGER NOT NULL,                   -- epoch ms
		updated_at INTEGER NOT NULL,                   -- epoch ms
		published  INTEGER NOT NULL DEFAULT 0,         -- outbox stored by JetStream (version 3)
		` + strings.Join(commandV5Cols, ",\n\t\t") + `
	)`,
	// PruneCommands: the done records in updated_at order (version 2).
	`CREATE INDEX IF NOT EXISTS ` + indexPrune + ` ON commands (status, updated_at)`,
	// RoomHistory (version 5): a room's finished commands in completion
	// order (at: the record's updated_at), written with the completion.
	`CREATE TABLE IF NOT EXISTS ` + tableHistory + ` (
		room_id    TEXT    NOT NULL,
		at         INTEGER NOT NULL,                   -- epoch ms, the completion
		command_id TEXT    NOT NULL,
		PRIMARY KEY (room_id, at, command_id)
	) WITHOUT ROWID`,
	`CREATE INDEX IF NOT EXISTS command_history_command ON ` + tableHistory + ` (command_id)`,
	// A pruned record leaves every history with it, in its transaction.
	`CREATE TRIGGER IF NOT EXISTS command_history_prune AFTER DELETE ON commands BEGIN
		DELETE FROM ` + tableHistory + ` WHERE command_id = old.id;
	END`,
	`CREATE TABLE IF NOT EXISTS archived_rooms (
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
}

// roomV4Cols are the columns of rooms added by version 4: the room model
// of issue 15. The nested parts (config, roles, access, the deletion
// policy) are JSON text; the rest are columns of their own. Each has a
// default, so ALTER TABLE can add it to a file of an older version.
var roomV4Cols = []string{
	`schema_version       INTEGER NOT NULL DEFAULT 0`, // store.Room.SchemaVersion
	`owner                TEXT    NOT NULL DEFAULT ''`,
	`auto_deletion_policy TEXT`, // JSON, NULL: none
	`config               TEXT    NOT NULL DEFAULT '{}'`,
	`roles                TEXT    NOT NULL DEFAULT '{}'`,
	`access               TEXT    NOT NULL DEFAULT '{}'`,
	`status               TEXT    NOT NULL DEFAULT ''`,
	`roles_updated_at     INTEGER NOT NULL DEFAULT 0`, // epoch ms
	`meeting_end_action   TEXT    NOT NULL DEFAULT ''`,
	`speaker_secret       TEXT    NOT NULL DEFAULT ''`,
	`recording_secret     TEXT    NOT NULL DEFAULT ''`,
	`warned_meeting       TEXT    NOT NULL DEFAULT ''`, // store.Room.WarnedMeeting
	// auto_deletion_date as FindRooms sorts it: store.NullDate for a room
	// without one, so it sorts after every dated room. A column of its own
	// rather than an index on coalesce(auto_deletion_date, ...): SQLite
	// walked such an index ordered by the expression some 300 times more
	// slowly (100,000 rooms: 2.6 s, against 7 ms for rooms_created).
	fmt.Sprintf(`auto_deletion_key    INTEGER NOT NULL DEFAULT %d`, store.NullDate),
}

// roomV5Cols are the columns of rooms added by version 5.
var roomV5Cols = []string{
	`end_trace            TEXT    NOT NULL DEFAULT ''`, // store.Room.EndTrace
}

// commandV5Cols are the columns of commands added by version 5: the rooms
// a finished command was about (JSON array, NULL: none) and the command
// that caused it (a sweep's fan-out).
var commandV5Cols = []string{
	`rooms TEXT`,
	`cause TEXT NOT NULL DEFAULT ''`,
}

// tableHistory is the table of RoomHistory.
const tableHistory = "command_history"

// deletionKey is the column of a room's autoDeletionDate as FindRooms
// sorts it (see roomV4Cols).
const deletionKey = "auto_deletion_key"

// indexPrune is the index of PruneCommands, named by its query.
const indexPrune = "commands_prune"

// markedCond selects the rooms of MarkedRooms. The partial index rooms_marked
// and the query use this same text, which is what lets SQLite match them.
const markedCond = `(marked_for_deletion <> 0 OR meeting = '` + store.MeetingActive + `')`

// migrate brings the schema of the file to schemaVersion, in one BEGIN
// IMMEDIATE transaction so that processes opening the file at the same time
// take turns.
func migrate(ctx context.Context, db *sql.DB) error {
	tx, err := db.BeginTx(ctx, nil) // BEGIN IMMEDIATE (_txlock)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()

	var v int
	if err := tx.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&v); err != nil {
		return err
	}
	if v > schemaVersion {
		return fmt.Errorf("%w: file has version %d, this program knows %d", ErrSchemaTooNew, v, schemaVersion)
	}
	if v == schemaVersion {
		return nil
	}
	// From 0 (a new file) or any older version: see schemaVersion. The
	// changes CREATE ... IF NOT EXISTS cannot make come first, so that the
	// indexes of the new columns find them.
	if v > 0 && v < 3 {
		if _, err := tx.ExecContext(ctx, `ALTER TABLE commands ADD COLUMN published INTEGER NOT NULL DEFAULT 0`); err != nil {
			return fmt.Errorf("add commands.published: %w", err)
		}
	}
	if v > 0 && v < 4 {
		for _, col := range roomV4Cols {
			if _, err := tx.ExecContext(ctx, `ALTER TABLE rooms ADD COLUMN `+col); err != nil {
				return fmt.Errorf("add rooms column %s: %w", strings.Fields(col)[0], err)
			}
		}
	}
	if v > 0 && v < 5 {
		for _, col := range roomV5Cols {
			if _, err := tx.ExecContext(ctx, `ALTER TABLE rooms ADD COLUMN `+col); err != nil {
				return fmt.Errorf("add rooms column %s: %w", strings.Fields(col)[0], err)
			}
		}
		for _, col := range commandV5Cols {
			if _, err := tx.ExecContext(ctx, `ALTER TABLE commands ADD COLUMN `+col); err != nil {
				return fmt.Errorf("add commands column %s: %w", strings.Fields(col)[0], err)
			}
		}
	}
	for _, stmt := range schema {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("create schema: %w", err)
		}
	}
	if v > 0 && v < 4 {
		if err := upgradeRooms(ctx, tx); err != nil {
			return fmt.Errorf("upgrade rooms: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf(`PRAGMA user_version = %d`, schemaVersion)); err != nil {
		return err
	}
	return tx.Commit()
}

// upgradeBatch is how many rooms upgradeRooms reads at a time.
const upgradeBatch = 500

// upgradeRooms rewrites, within the migration's transaction, every room of
// an older record shape in the current one (store.UpgradeRoom, which
// scanRoom applies), keeping its version: the room says the same, in the
// new fields too. It reads the rooms in batches in ID order, so a file of
// many rooms is upgraded in bounded memory.
func upgradeRooms(ctx context.Context, tx *sql.Tx) error {
	sel, err := tx.PrepareContext(ctx, `SELECT `+roomCols+` FROM rooms
		WHERE schema_version < ? AND id > ? ORDER BY id LIMIT ?`)
	if err != nil {
		return err
	}
	defer func() { _ = sel.Close() }()
	upd, err := tx.PrepareContext(ctx, `UPDATE rooms SET `+roomSet+` WHERE id = ?`)
	if err != nil {
		return err
	}
	defer func() { _ = upd.Close() }()
	after := ""
	for {
		rooms, err := scanRooms(ctx, sel, store.RoomSchemaVersion, after, upgradeBatch)
		if err != nil {
			return err
		}
		for i := range rooms {
			r := &rooms[i]
			args, err := roomArgs(r, r.Version)
			if err != nil {
				return err
			}
			if _, err := upd.ExecContext(ctx, append(args[1:], r.RoomID)...); err != nil {
				return fmt.Errorf("room %s: %w", r.RoomID, err)
			}
		}
		if len(rooms) < upgradeBatch {
			return nil
		}
		after = rooms[len(rooms)-1].RoomID
	}
}
