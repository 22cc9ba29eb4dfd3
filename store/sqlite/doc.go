// Package sqlite is the embedded default [store.Store]: SQLite in WAL mode
// through the pure-Go driver modernc.org/sqlite (no cgo), at
// DATA_DIR/roomkeeper.db.
//
// # Tables
//
// The records live in real tables with typed columns, named like the MongoDB
// collections: rooms, commands (the ledger) and archived_rooms. Preferences,
// a room's status, owner, meeting end action, secrets and schema version
// are columns of their own; the lists and JSON documents (a room's applied
// command IDs, its config, roles, access and auto-deletion policy, a
// command's plan and result) are JSON text; a command's
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
//     covered, bounded range scan of the index picks;
//   - the table command_history (room_id, at, command_id), WITHOUT ROWID,
//     its primary key in that order: one row per room a finished command
//     was about (commands.rooms), written in the completion's transaction,
//     used by [Store.RoomHistory]: a page is one range read of the key from
//     its keyset, each record then read by ID. A trigger on commands
//     deletes a record's rows with it (through command_history_command on
//     command_id), so a prune takes the history with the ledger; a
//     completion seeks each of its rooms' last entry first and dates
//     itself after it, so that the key's order is the completion order;
//   - rooms_created (creation_date, id, status, room_name), rooms_name
//     (room_name, id, status) and rooms_deletion (auto_deletion_key, id,
//     status, room_name), one per sort of [Store.FindRooms]: each is in
//     (sort value, id) order and holds the columns FindRooms filters on,
//     so a page walks it from the cursor (a range seek, either direction),
//     checks the filters on its entries alone (covering), stops after the
//     page's limit and only then reads the page's rooms by ID. The rooms
//     are never sorted, and the rooms the filters reject are never read.
//     auto_deletion_key is auto_deletion_date with store.NullDate for a
//     room without one, so those sort after every dated room (a column,
//     since SQLite walks an index on an expression hundreds of times more
//     slowly).
//
// # Name filters
//
// FindRooms' name filters other than a case-sensitive equality are one
// regular expression ([store.RoomQuery.NamePattern]: the text quoted for
// exact, prefix and partial, the pattern for regex, (?i) when
// case-insensitive), evaluated by a REGEXP function backed by Go's regexp
// that [Open] registers with the driver, in the statement that walks the
// index. Filtering in Go over an index walk instead would ship every
// rejected row to Go and query again until a page is full; in SQL the
// rejected entries never leave SQLite and a page is one statement. Go's
// regexp runs in time linear in the name (no catastrophic backtracking);
// patterns are bounded ([store.MaxNamePattern]) and compiled before the
// query, an invalid one being [store.ErrInvalid]; compiled patterns are
// cached. One expression for every mode makes exact, prefix and partial
// fold case as a regex with (?i) does (Unicode simple folding).
//
// # Record shape
//
// Every room row has a schema_version (store.Room.SchemaVersion). A room
// given in an older shape is written upgraded ([store.UpgradeRoom]), and
// one read in an older shape is upgraded on read. Schema version 4 (the
// room model of issue 15) adds the new columns to a file of an older
// version and rewrites every room in the current shape, in the migration's
// transaction, in batches of 500 by ID.
//
// [Open] creates the schema idempotently (CREATE ... IF NOT EXISTS) inside a
// BEGIN IMMEDIATE transaction and records its version in PRAGMA
// user_version; it refuses a file written by a newer schema
// ([ErrSchemaTooNew]). An older file is migrated in place by the same
// statements, after the columns CREATE ... IF NOT EXISTS cannot add
// (commands.published for versions 1 and 2, the room columns of version 4,
// commands.rooms and commands.cause of version 5) are added with ALTER
// TABLE; version 1 lacks commands_prune, whose creation
// reads the whole ledger once, and version 3 and older get their rooms
// rewritten (see Record shape).
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
