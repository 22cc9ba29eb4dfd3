// Package mongo is roomkeeper's production [store.Store]: MongoDB (a replica
// set in production) through the official driver,
// go.mongodb.org/mongo-driver/v2.
//
// # Data
//
// One database (Config.Database, default "roomkeeper") holds three
// collections:
//
//   - rooms: one [store.Room] per document, _id = roomId;
//   - commands: the command ledger, one [store.Command] per document, _id =
//     the command ID;
//   - archived_rooms: [store.ArchivedRoom], _id = roomId.
//
// The JSON blobs of the ledger (Command.Plan, Command.Result, OutMsg.Data)
// are stored as BSON binary (subtype 0), so any JSON comes back byte for
// byte. A ledger record's status is pending, done or dead, or, only on the
// way from pending to done or dead in the guarded sequence (see
// Completions), "completing", with the completion in flight in its field
// "completing"; callers of the store never see that status.
//
// # Indexes
//
// [Open] creates the three collections (a transaction on MongoDB before 4.4
// cannot create one) and these indexes idempotently (creating an index that
// already exists with the same keys and name is a no-op, so any number of
// processes may open the store at once):
//
//   - rooms_expiry {autoDeletionDate: 1, _id: 1, markedForDeletion: 1}:
//     ExpiredRooms returns rooms in this order, (autoDeletionDate, _id), so
//     each of its finds reads one range of the index in order, evaluates
//     markedForDeletion on the index keys, fetches only the rooms it returns
//     and stops at its limit: a page costs about a page, however many rooms
//     are expired. Its queries name the index with a hint, so they never
//     fall back to walking every room. An older rooms_expiry on other
//     fields ({autoDeletionDate, markedForDeletion, _id}, whose order needed
//     a sort of every expired room) is dropped and created anew at Open;
//   - rooms_marked {markedForDeletion: 1, _id: 1} and rooms_meeting
//     {meeting: 1, _id: 1}: each branch of MarkedRooms' $or is an equality
//     plus an _id range on one of them, already in _id order;
//   - rooms_created {creationDate: 1, _id: 1, status: 1, roomName: 1},
//     rooms_name {roomName: 1, _id: 1, status: 1} and rooms_deletion
//     {autoDeletionDate: 1, _id: 1, status: 1, roomName: 1}, one per sort of
//     FindRooms: each of its finds is one range of the sort's index read in
//     order (either direction, named with a hint), whose filters (status, a
//     name equality or $regex) MongoDB checks on the index keys, so only
//     the page's rooms are fetched. A page is at most three finds (the rest
//     of the cursor's value past its _id, the values beyond, and for the
//     deletion date the rooms without one, which sort after every dated
//     room: their own range, {autoDeletionDate: null} in _id order);
//   - commands_prune {status: 1, updatedAt: 1, _id: 1} on commands:
//     PruneCommands reads the IDs of the oldest done records from the index
//     alone (a covered query, named with a hint), without fetching the
//     records, which can be hundreds of KB each;
//   - commands_history {rooms: 1, updatedAt: 1, _id: 1} on commands
//     (multikey): RoomHistory reads one room's records in completion order,
//     an equality on rooms and an (updatedAt, _id) range, so a page costs
//     about a page. rooms and cause are set when a record finishes; a
//     pruned record leaves the histories with its document.
//
// # Record shape
//
// A room document's fields are store.Room's (the nested config, roles,
// access and autoDeletionPolicy under their JSON names; config.recording.
// encoding, a JSON value, as BSON binary), with a schemaVersion. A room
// given in an older shape is written upgraded ([store.UpgradeRoom]); one
// read in an older shape (no schemaVersion: written before issue 15) is
// upgraded on read; and [Open] rewrites every room of an older shape in
// the current one (a find of them, with no index to use, then a replace of
// each filtered on {_id, version, old shape}), so that FindRooms' filters
// on the new fields (status) see them. Rooms an older version writes while
// this one runs read upgraded, and are rewritten at the next Open.
//
// # Atomicity
//
// Every write but CompleteCommand's is one single-document atomic
// operation:
//
//   - InsertRoom, ClaimCommand: insertOne; a duplicate key is
//     [store.ErrDuplicate] (ClaimCommand then reads and returns the existing
//     record);
//   - UpdateRoom: replaceOne filtered on {_id, version}, so it is a
//     compare-and-set; when nothing matched, a read tells
//     [store.ErrConflict] from [store.ErrNotFound];
//   - SetCommandPlan: updateOne filtered on {_id, status: pending, plan
//     absent}, then a read returns the plan that won;
//   - DeleteRoom: deleteOne; nothing deleted is [store.ErrNotFound];
//   - PruneCommands: a find of up to limit IDs, then deleteMany of those
//     IDs filtered again on {status: done or dead, updatedAt < before};
//     each document is deleted atomically, the batch as a whole is not (a
//     crash in between leaves part of it for the next call);
//   - PutArchivedRoom: replaceOne with upsert.
//
// The store writes with write concern "majority" and reads with read
// concern "majority" (so nothing it acknowledged or read can be rolled back
// by a failover), unless the URI sets its own (w, journal, wtimeoutMS;
// readConcernLevel). FerretDB accepts both and, being one node, ignores
// them.
//
// # Completions
//
// CompleteCommand finishes a pending ledger record (done or dead, result,
// outbox) and applies the command's room writes (room inserts, room
// deletes, archive puts) if and only if it is the call that finishes the
// record: a second delivery, a late repeat or a failed call applies none of
// its writes, so a deleted room is never brought back and an archive never
// goes stale. How depends on the deployment, which [Open] asks (hello):
//
//   - With multi-document transactions (a replica set: hello has setName;
//     a sharded cluster: msg "isdbgrid"), one transaction holds the
//     findAndModify of {_id, status: pending} to the final status, and the
//     writes; when the record is not pending, the transaction writes
//     nothing. The driver's Session.WithTransaction retries it on
//     TransientTransactionError and UnknownTransactionCommitResult. A room
//     insert is an upsert with $setOnInsert, since a duplicate key would
//     abort the transaction.
//   - Without them (a standalone mongod, FerretDB v1, or
//     Config.NoTransactions), the guarded sequence below.
//
// The transaction path is not exercised by the tests of this repository
// (their server, FerretDB v1, has no transactions); set TEST_MONGO_URI to
// a replica set to run the suite against it.
//
// # The guarded sequence
//
//  1. Settle the rooms: a find of the records completing on any of the
//     rooms the writes touch (status "completing", through the status
//     prefix of commands_prune). Each one whose lease has ended is taken
//     over and finished (below); while one's lease runs, the call waits
//     for it (polling, 5 ms doubling to 200 ms), and fails with
//     [store.ErrUnavailable] if its own time (OpTimeout) runs out first, so
//     a worker retries later.
//  2. Claim: findAndModify of {_id, status: pending} to status
//     "completing" with the whole completion in the field "completing"
//     (status, result, outbox, the writes, the rooms they touch), a random
//     owner token and a lease end (now + CompletionLease). Only one caller
//     can win. A loser reads the record: finished, it returns it (its own
//     writes are never applied); completing, it waits for it, or takes it
//     over once the lease has ended; absent, [store.ErrNotFound].
//  3. Apply the stored writes in order, each idempotently: a room insert is
//     an upsert with $setOnInsert, a delete of a missing room and a repeated
//     archive put change nothing.
//  4. Finish: updateOne of {_id, status: completing, token} to the final
//     status, result and outbox, unsetting "completing".
//
// A completer that dies (or fails) between 2 and 4 leaves the record
// completing. It is rolled forward, never back: once its lease has ended,
// the next caller that meets it, a redelivery's CompleteCommand, a
// GetCommand or ClaimCommand of it, or a completion touching one of its
// rooms, takes it over (findAndModify of {_id, status: completing, token}
// to a new token and lease: only one wins) and applies the stored writes,
// then finishes it with the stored result. Until then readers report the
// record as pending (with no result), never as finished with its writes
// missing. A completion touching a room thus always waits until every
// earlier completion on that room is finished, so an earlier room insert
// cannot be re-applied after a later delete: the delete of a room a crashed
// create had inserted finishes the create first.
//
// The guarantee rests on one assumption: a completer's writes end before
// its lease does. Every call runs under OpTimeout, which the driver also
// sends to the server as maxTimeMS, and CompletionLease must exceed it
// (default: OpTimeout + 5 s, the margin for clocks of two processes that
// differ, since each judges a lease by its own clock).
//
// The cost (BenchmarkCompleteCommand): a completion with writes sends one
// command more than applying its writes and then completing would (3 plus
// one per write: the settling find, the claim, the finish), one without
// writes 2; the claim is a findAndModify. On MongoDB the settling find
// reads only the index entries of records in flight; FerretDB scans the
// ledger for it (on FerretDB a create's completion took 27.5 ms instead of
// 16.1, 161 ms instead of 62 with 1,000 records in the ledger). A
// completion cut off by a crash or an outage holds its command, and its
// rooms, for one lease (20 s by default) before a redelivery or a reader
// can finish it.
//
// # FerretDB v1
//
// The store uses nothing that FerretDB v1 lacks (its tests run against an
// in-process FerretDB) other than the transactions it detects: no change
// streams, no TTL or partial indexes. FerretDB v1 (the test server) checks
// the filter of an update in one step and rewrites the document by _id in
// another, so its conditional updates are not atomic: two concurrent
// compare-and-sets of one record can both succeed. Inserts (unique _id)
// and deletes (a real count) are atomic there. When the server is
// FerretDB, Open turns on Config.SerialUpdates, which serialises the
// conditional updates of a record within the process (UpdateRoom,
// SetCommandPlan, and the claim, takeover and finish of a completion);
// processes sharing one FerretDB can still lose updates, and two of them
// could both claim one completion. MongoDB needs none of this. FerretDB
// ignores hints and never uses a secondary index, so the settling find of
// a completion scans the ledger there.
//
// # Errors
//
// Errors wrap the sentinels of package store. Network errors, timeouts
// (including a context deadline hit while the driver waits for a server),
// server selection failures, a connection pool cleared because another
// operation met a network error, and the server's "not primary" /
// "shutting down" family of errors are reported as [store.ErrUnavailable] (the driver's
// error is wrapped too), so a worker naks the message and retries later.
package mongo
