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
// byte.
//
// # Indexes
//
// [Open] creates these indexes idempotently (creating an index that already
// exists with the same keys and name is a no-op, so any number of processes
// may open the store at once):
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
//   - commands_prune {status: 1, updatedAt: 1, _id: 1} on commands:
//     PruneCommands reads the IDs of the oldest done records from the index
//     alone (a covered query, named with a hint), without fetching the
//     records, which can be hundreds of KB each.
//
// # Atomicity
//
// The store uses only what FerretDB v1 also supports (its tests run against
// an in-process FerretDB): no multi-document transactions, no change
// streams, no TTL or partial indexes. Every write is one single-document
// atomic operation:
//
//   - InsertRoom, ClaimCommand: insertOne; a duplicate key is
//     [store.ErrDuplicate] (ClaimCommand then reads and returns the existing
//     record);
//   - UpdateRoom: replaceOne filtered on {_id, version}, so it is a
//     compare-and-set; when nothing matched, a read tells
//     [store.ErrConflict] from [store.ErrNotFound];
//   - SetCommandPlan: updateOne filtered on {_id, status: pending, plan
//     absent}, then a read returns the plan that won;
//   - CompleteCommand: updateOne filtered on {_id, status: pending}, then a
//     read returns the first result stored;
//   - DeleteRoom: deleteOne; nothing deleted is [store.ErrNotFound];
//   - PruneCommands: a find of up to limit IDs, then deleteMany of those
//     IDs filtered again on {status: done, updatedAt < before}; each
//     document is deleted atomically, the batch as a whole is not (a crash
//     in between leaves part of it for the next call);
//   - PutArchivedRoom: replaceOne with upsert.
//
// # FerretDB v1
//
// FerretDB v1 (the test server) checks the filter of an update in one step
// and rewrites the document by _id in another, so its conditional updates
// are not atomic: two concurrent compare-and-sets of one record can both
// succeed. Inserts (unique _id) and deletes (a real count) are atomic
// there. When the server is FerretDB, Open turns on Config.SerialUpdates,
// which serialises the conditional updates of a record within the process;
// processes sharing one FerretDB can still lose updates. MongoDB needs none
// of this. FerretDB ignores hints and never uses a secondary index.
//
// # Errors
//
// Errors wrap the sentinels of package store. Network errors, timeouts
// (including a context deadline hit while the driver waits for a server),
// server selection failures and the server's "not primary" / "shutting
// down" family of errors are reported as [store.ErrUnavailable] (the driver's
// error is wrapped too), so a worker naks the message and retries later.
package mongo
