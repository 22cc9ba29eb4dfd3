package store

import (
	"context"
	"encoding/json"
	"time"
)

// Write is a room write a command leaves to its completion (see
// Store.CompleteCommand), made with InsertRoom, DeleteRoom or PutArchived.
// Each is idempotent: an insert of a room whose ID exists, or a delete of
// a room already gone, changes nothing and is no error. The zero Write
// does nothing.
type Write struct {
	op       WriteOp
	roomID   string
	room     *Room
	archived *ArchivedRoom
}

// WriteOp is what a Write does.
type WriteOp uint8

// The operations of a Write.
const (
	WriteNone WriteOp = iota
	WriteInsertRoom
	WriteDeleteRoom
	WritePutArchived
)

// InsertRoom is the write that inserts room r.
func InsertRoom(r *Room) Write { return Write{op: WriteInsertRoom, roomID: r.RoomID, room: r} }

// DeleteRoom is the write that deletes the room with ID id.
func DeleteRoom(id string) Write { return Write{op: WriteDeleteRoom, roomID: id} }

// PutArchived is the write that stores (replaces) a room's archived
// metadata.
func PutArchived(a *ArchivedRoom) Write {
	return Write{op: WritePutArchived, roomID: a.RoomID, archived: a}
}

// Op is what the write does.
func (w Write) Op() WriteOp { return w.op }

// RoomID is the ID of the room the write is about.
func (w Write) RoomID() string { return w.roomID }

// Room is the room an InsertRoom inserts (nil for other writes).
func (w Write) Room() *Room { return w.room }

// Archived is what a PutArchived stores (nil for other writes).
func (w Write) Archived() *ArchivedRoom { return w.archived }

// Name match modes of RoomQuery (upstream TextMatchMode).
const (
	MatchExact   = "exact"
	MatchPrefix  = "prefix"
	MatchPartial = "partial"
	MatchRegex   = "regex"
)

// Sort fields of RoomQuery (upstream MeetRoomSortField).
const (
	SortCreationDate     = "creationDate"
	SortRoomName         = "roomName"
	SortAutoDeletionDate = "autoDeletionDate"
)

// RoomQuery selects and orders rooms (Store.FindRooms, rooms.api.list).
type RoomQuery struct {
	// Name, when set, filters on roomName with NameMatch (MatchExact when
	// empty), case-insensitively when NameCaseInsensitive.
	Name                string
	NameMatch           string
	NameCaseInsensitive bool
	// Status, when set, keeps rooms of that status.
	Status string
	// Sort is the field to order by (SortCreationDate when empty), then
	// the room ID; Desc reverses both.
	Sort string
	Desc bool
	// After, when set, starts just after this position.
	After *RoomCursor
	// Limit bounds the page (at least 1).
	Limit int
}

// RoomCursor is a room's position in a RoomQuery's order: its sort value
// and its ID. A room without an autoDeletionDate sorts as if its date were
// HasValue false, after every dated room in ascending order.
type RoomCursor struct {
	// Int is the value of a date sort; Str of a name sort.
	Int      int64
	Str      string
	HasValue bool
	RoomID   string
}

// Completion is how a command ends (Store.CompleteCommand).
type Completion struct {
	// Status is StatusDone, or StatusDead when the outbox holds a dead
	// letter and the message is given up (termed).
	Status string
	// Result is the command's result (JSON).
	Result json.RawMessage
	// Outbox holds the messages to publish: result, events, fan-out
	// commands, dead letter.
	Outbox []OutMsg
	// Writes are the command's room writes, applied with the completion.
	Writes []Write
}

// Store is what roomkeeper keeps. Implementations are safe for concurrent
// use by many goroutines and many processes; errors wrap the sentinels of
// this package, and an unreachable database is reported as ErrUnavailable.
type Store interface {
	// InsertRoom inserts a new room; ErrDuplicate when its ID exists.
	InsertRoom(ctx context.Context, r *Room) error
	// GetRoom reads a room; ErrNotFound when there is none.
	GetRoom(ctx context.Context, id string) (*Room, error)
	// UpdateRoom replaces the room whose ID and Version match r.RoomID and
	// expectedVersion with r, storing r.Version = expectedVersion+1 (set on r
	// too). ErrConflict when the version differs, ErrNotFound when the room
	// is gone.
	UpdateRoom(ctx context.Context, r *Room, expectedVersion int64) error
	// DeleteRoom deletes a room; ErrNotFound when there is none.
	DeleteRoom(ctx context.Context, id string) error
	// ListRooms returns up to limit rooms with an ID greater than after, in
	// ascending ID order (keyset pagination).
	ListRooms(ctx context.Context, after string, limit int) ([]Room, error)
	// ExpiredRooms returns up to limit rooms with an autoDeletionDate at or
	// before now (epoch ms), in ascending (autoDeletionDate, ID) order,
	// starting just after the key after (keyset pagination: pass the
	// ExpiryKey of the last room of a page to get the next; the zero key
	// starts at the first). Rooms already marked for deletion are left out.
	// It walks an index in that order, so a page costs about limit rooms
	// however many rooms there are, expired or not.
	ExpiredRooms(ctx context.Context, now int64, after ExpiryKey, limit int) ([]Room, error)
	// MarkedRooms returns up to limit rooms marked for deletion, or whose
	// meeting status is active, with an ID greater than after, in
	// ascending ID order (for reconciliation with LiveKit).
	MarkedRooms(ctx context.Context, after string, limit int) ([]Room, error)
	// FindRooms returns up to q.Limit rooms matching q, in q's order,
	// starting just after q.After (keyset pagination, stable under every
	// sort and under concurrent deletes: pass the Cursor of the last room
	// of a page to get the next).
	FindRooms(ctx context.Context, q RoomQuery) ([]Room, error)
	// CountRooms counts all rooms.
	CountRooms(ctx context.Context) (int64, error)

	// ClaimCommand inserts c as a pending ledger record (whatever c.Status
	// says; zero CreatedAt and UpdatedAt become now) and returns the stored
	// record. When a record with that ID exists, it returns the existing
	// record and ErrDuplicate.
	ClaimCommand(ctx context.Context, c *Command) (*Command, error)
	// GetCommand reads a ledger record; ErrNotFound when there is none.
	GetCommand(ctx context.Context, id string) (*Command, error)
	// SetCommandPlan stores plan on the pending record id unless it already
	// has one, and returns the plan the record holds afterwards (the first
	// one stored wins). ErrNotFound when there is no record id.
	SetCommandPlan(ctx context.Context, id string, plan json.RawMessage) (json.RawMessage, error)
	// CompleteCommand finishes pending record id with c (status done or
	// dead, result, outbox) and applies c.Writes, the command's own room
	// writes, if and only if this call is the one that finishes the record:
	// in the same transaction where the store has them (SQLite; MongoDB on
	// a replica set), else in a guarded sequence with the same guarantee
	// (see the MongoDB store). It is idempotent: a record already finished
	// keeps its first status, result and outbox, is returned, and c.Writes
	// are not applied. ErrNotFound when there is no record id.
	CompleteCommand(ctx context.Context, id string, c Completion) (*Command, error)
	// MarkPublished records that the outbox of finished record id has been
	// stored by JetStream (every message acknowledged), so a redelivery or
	// a repeat of the command past the streams' duplicates window knows
	// not to publish it again. Marking a record twice, or one that is gone,
	// is no error.
	MarkPublished(ctx context.Context, id string) error
	// PruneCommands deletes up to limit ledger records that are finished (done or dead)
	// and whose UpdatedAt is strictly before before, oldest first, and
	// returns how many it deleted (0 when limit <= 0). A pending record is
	// never deleted, however old. It reads the candidates through an index
	// on status and UpdatedAt, so a call costs about limit records, not the
	// whole ledger; callers prune a large backlog in bounded calls.
	//
	// Pruning ends exactly-once for the pruned IDs: a command redelivered
	// or sent again with a pruned ID finds no record, is claimed afresh and
	// applied again. Keep before well behind the longest time a command ID
	// can come back (redeliveries, the streams' duplicates windows, clients
	// repeating a command).
	PruneCommands(ctx context.Context, before time.Time, limit int) (int64, error)

	// PutArchivedRoom inserts or replaces the archived metadata of a room.
	PutArchivedRoom(ctx context.Context, a *ArchivedRoom) error
	// GetArchivedRoom reads archived metadata; ErrNotFound when there is none.
	GetArchivedRoom(ctx context.Context, id string) (*ArchivedRoom, error)

	// Ping checks that the database is reachable.
	Ping(ctx context.Context) error
	// Close releases the store's resources.
	Close() error

	// Recording metadata (store/recordings.go).
	RecordingStore
	// The ledger by status (store/ledger.go).
	LedgerReader
}
