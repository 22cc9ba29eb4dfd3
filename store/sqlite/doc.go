// Package sqlite is the embedded default [store.Store]: SQLite in WAL mode
// through the pure-Go driver modernc.org/sqlite (no cgo), at
// DATA_DIR/roomkeeper.db.
//
// # Tables
//
// The records live in real tables with typed columns, named like the MongoDB
// collections: rooms, commands (the ledger) and archived_rooms. Preferences
// are columns of their own; the lists and JSON documents (a room's applied
// command IDs, a command's plan and result) are JSON text; a command's
// outbox is a compact binary list of messages in which the result message's
// body refers to the result column (records written by earlier versions
// keep a JSON outbox, still read). Indexes:
//
//   - rooms_expiry on rooms(auto_deletion_date), partial (rooms with a date
//     and not marked for deletion), used by [Store.ExpiredRooms]: rooms is
//     WITHOUT ROWID, so the index's entries end with the primary key and are
//     in (auto_deletion_date, id) order, the order ExpiredRooms returns; a
//     page is one range read of the index from its keyset, with no sort;
//   - rooms_marked on rooms(id), partial (rooms marked for deletion or with
//     an active meeting), used by [Store.MarkedRooms];
//   - commands_prune on commands(status, updated_at), used by
//     [Store.PruneCommands]: one DELETE of the rows (by rowid) that a
//     covered, bounded range scan of the index picks.
//
// [Open] creates the schema idempotently (CREATE ... IF NOT EXISTS) inside a
// BEGIN IMMEDIATE transaction and records its version in PRAGMA
// user_version; it refuses a file written by a newer schema
// ([ErrSchemaTooNew]). An older file is migrated in place by the same
// statements (version 1 lacks only commands_prune, whose creation reads the
// whole ledger once).
//
// # Concurrency
//
// Every operation is one SQL statement, so each is atomic on its own and no
// operation holds a transaction open across round trips (the exception: a
// completion with room writes runs its statements in one transaction, so
// the writes happen if and only if that call completes the record): inserts use
// INSERT ... ON CONFLICT DO NOTHING (no row inserted means a duplicate),
// room updates are UPDATE ... WHERE id = ? AND version = ?, and the ledger's
// "first one wins" rules (plan, completion) are CASE expressions in a single
// UPDATE ... RETURNING.
//
// Within a process, writes go through one connection (SQLite admits one
// writer at a time; queuing writers in Go is much cheaper than letting them
// sleep in SQLite's busy handler) and reads through a pool of read-only
// connections, which WAL lets run beside the writer. Writes that arrive
// while another is running are grouped into one BEGIN IMMEDIATE transaction
// (group commit): each keeps its own statement and outcome, and a call
// returns only once its write is committed, but the batch shares one commit
// and its WAL writes and lock round trips. The callers lead in turn: the
// first in the queue runs the batch of those behind it, then hands over, so
// no writer goroutine has to be scheduled between a write and its commit.
// Should a statement of a batch fail, the batch is rolled back and its
// writes run again one by one. Several processes may
// open the same file (a roomkeeper worker beside a serve with the same
// DATA_DIR): they take turns at the write lock, waiting up to
// [Config.BusyTimeout]. synchronous=NORMAL makes a commit durable across a
// process crash; a power loss may roll back the last commits, never corrupt
// the file.
//
// # Errors
//
// Errors wrap the sentinels of package store: [store.ErrDuplicate],
// [store.ErrNotFound], [store.ErrConflict], and [store.ErrUnavailable] for a
// closed store, a file that cannot be opened, and a write lock not obtained
// within the busy timeout.
package sqlite
