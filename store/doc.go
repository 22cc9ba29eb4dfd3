// Package store defines roomkeeper's persistence: rooms, the command ledger
// and archived room metadata, behind the [Store] interface that both
// implementations satisfy (store/sqlite, the embedded default, and
// store/mongo, the production store) and that store/storetest checks.
//
// Every write but a completion is a single-record atomic operation: inserts
// by ID report [ErrDuplicate], deletes by ID report [ErrNotFound], and
// updates of a room are compare-and-set on its Version and carry the ID of
// the command that made them, so a re-run of the same command can see its
// own write. A completion (Store.CompleteCommand) finishes a ledger record
// and applies the command's room writes only if it is the one that
// finishes the record: in one transaction where the database has them,
// else in the MongoDB store's guarded sequence.
//
// A room record carries the version of its shape (Room.SchemaVersion,
// [RoomSchemaVersion] today). Both stores write every room in the current
// shape and read every room in it: [UpgradeRoom] derives the fields of the
// current model from a record of an older one (the preferences, publisher
// link and deletion mark of the model before OpenVidu Meet's config,
// roles and access), on read and in each store's one-off migration.
// [Store.FindRooms] filters, sorts and pages rooms for rooms.api.list
// ([RoomQuery], [RoomCursor]).
package store
