package sqlite

import (
	"context"
	"database/sql"
	"fmt"

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
const schemaVersion = 3

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
		applied             TEXT    NOT NULL DEFAULT '[]' -- JSON array of command IDs
	) WITHOUT ROWID`,
	// ExpiredRooms: rooms with a date, not yet marked.
	`CREATE INDEX IF NOT EXISTS rooms_expiry ON rooms (auto_deletion_date)
		WHERE auto_deletion_date IS NOT NULL AND marked_for_deletion = 0`,
	// MarkedRooms: the few rooms to reconcile with LiveKit, in ID order.
	`CREATE INDEX IF NOT EXISTS rooms_marked ON rooms (id) WHERE ` + markedCond,
	`CREATE TABLE IF NOT EXISTS commands (
		id         TEXT    NOT NULL PRIMARY KEY,
		type       TEXT    NOT NULL,
		status     TEXT    NOT NULL,
		plan       TEXT,                               -- JSON, NULL until planned
		result     TEXT,                               -- JSON, NULL until done
		outbox     TEXT,                               -- messages, see outbox.go (JSON in old rows)
		created_at INTEGER NOT NULL,                   -- epoch ms
		updated_at INTEGER NOT NULL,                   -- epoch ms
		published  INTEGER NOT NULL DEFAULT 0          -- outbox stored by JetStream (version 3)
	)`,
	// PruneCommands: the done records in updated_at order (version 2).
	`CREATE INDEX IF NOT EXISTS ` + indexPrune + ` ON commands (status, updated_at)`,
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
	// From 0 (a new file) or any older version: see schemaVersion.
	for _, stmt := range schema {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("create schema: %w", err)
		}
	}
	if v > 0 && v < 3 {
		// The one change CREATE ... IF NOT EXISTS cannot make.
		if _, err := tx.ExecContext(ctx, `ALTER TABLE commands ADD COLUMN published INTEGER NOT NULL DEFAULT 0`); err != nil {
			return fmt.Errorf("add commands.published: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf(`PRAGMA user_version = %d`, schemaVersion)); err != nil {
		return err
	}
	return tx.Commit()
}
