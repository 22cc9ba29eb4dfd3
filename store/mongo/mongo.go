package mongo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/mongo/readconcern"
	"go.mongodb.org/mongo-driver/v2/mongo/readpref"
	"go.mongodb.org/mongo-driver/v2/mongo/writeconcern"

	"github.com/roomkeeper/roomkeeper/store"
)

// Collection names (part of the external contract).
const (
	CollRooms         = "rooms"
	CollCommands      = "commands"
	CollArchivedRooms = "archived_rooms"
)

// Index names on rooms.
const (
	IndexExpiry  = "rooms_expiry"
	IndexMarked  = "rooms_marked"
	IndexMeeting = "rooms_meeting"
)

// IndexPrune is the index on commands of PruneCommands.
const IndexPrune = "commands_prune"

// IndexHistory is the index on commands of RoomHistory.
const IndexHistory = "commands_history"

// index is a secondary index the store creates at Open.
type index struct {
	name string
	keys bson.D
}

// roomIndexes are the secondary indexes of rooms; see the package doc.
var roomIndexes = []index{
	// In the order of ExpiredRooms, markedForDeletion last so that the
	// filter on it is checked on the index keys, before any fetch.
	{IndexExpiry, bson.D{{Key: "autoDeletionDate", Value: 1}, {Key: "_id", Value: 1}, {Key: "markedForDeletion", Value: 1}}},
	{IndexMarked, bson.D{{Key: "markedForDeletion", Value: 1}, {Key: "_id", Value: 1}}},
	{IndexMeeting, bson.D{{Key: "meeting", Value: 1}, {Key: "_id", Value: 1}}},
	// FindRooms, one per sort: in (sort field, _id) order, then the fields
	// it filters on, so that its filters are checked on the index keys and
	// only the rooms of the page are fetched.
	{IndexCreated, bson.D{{Key: "creationDate", Value: 1}, {Key: "_id", Value: 1}, {Key: "status", Value: 1}, {Key: "roomName", Value: 1}}},
	{IndexName, bson.D{{Key: "roomName", Value: 1}, {Key: "_id", Value: 1}, {Key: "status", Value: 1}}},
	{IndexDeletion, bson.D{{Key: "autoDeletionDate", Value: 1}, {Key: "_id", Value: 1}, {Key: "status", Value: 1}, {Key: "roomName", Value: 1}}},
}

// commandIndexes are the secondary indexes of commands.
var commandIndexes = []index{
	// _id last, so that the find of PruneCommands is covered.
	{IndexPrune, bson.D{{Key: "status", Value: 1}, {Key: "updatedAt", Value: 1}, {Key: "_id", Value: 1}}},
	// RoomHistory: a room's records in completion order (multikey on
	// rooms, set when a record finishes).
	{IndexHistory, bson.D{{Key: "rooms", Value: 1}, {Key: "updatedAt", Value: 1}, {Key: "_id", Value: 1}}},
}

// Store is the MongoDB store. It is safe for concurrent use.
type Store struct {
	cfg      Config
	client   *mongo.Client
	db       *mongo.Database
	rooms    *mongo.Collection
	commands *mongo.Collection
	archived *mongo.Collection
	serial   bool // conditional updates take a stripe of serialLocks
	txn      bool // CompleteCommand uses a multi-document transaction
}

var _ store.Store = (*Store)(nil)

// Open connects to cfg.URI, checks that the server answers and creates the
// indexes (idempotently). An unreachable server is reported as
// store.ErrUnavailable after at most cfg.ServerSelectionTimeout (or ctx's
// end, if sooner).
func Open(ctx context.Context, cfg Config) (*Store, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	opts := options.Client().
		ApplyURI(cfg.URI).
		SetAppName(cfg.AppName).
		SetConnectTimeout(cfg.ConnectTimeout).
		SetServerSelectionTimeout(cfg.ServerSelectionTimeout).
		// The room's wire types (events.Preferences) carry JSON tags only:
		// their stored field names are their JSON names.
		SetBSONOptions(&options.BSONOptions{UseJSONStructTags: true})
	if cfg.MaxPoolSize > 0 {
		opts.SetMaxPoolSize(cfg.MaxPoolSize)
	}
	// Majority by default, so that nothing the store acknowledged or read
	// can be rolled back by a failover; the URI may say otherwise.
	if opts.WriteConcern == nil {
		opts.SetWriteConcern(writeconcern.Majority())
	}
	if opts.ReadConcern == nil {
		opts.SetReadConcern(readconcern.Majority())
	}
	if cfg.monitor != nil {
		opts.SetMonitor(cfg.monitor)
	}
	client, err := mongo.Connect(opts)
	if err != nil {
		// Connect does no I/O: this is a bad URI or option.
		return nil, fmt.Errorf("mongo: connect: %w", err)
	}
	db := client.Database(cfg.Database)
	s := &Store{
		cfg:      cfg,
		client:   client,
		db:       db,
		rooms:    db.Collection(CollRooms),
		commands: db.Collection(CollCommands),
		archived: db.Collection(CollArchivedRooms),
	}
	s.serial = cfg.SerialUpdates
	if err := s.init(ctx); err != nil {
		_ = s.Close()
		return nil, err
	}
	if _, err := s.upgradeRooms(ctx); err != nil {
		_ = s.Close()
		return nil, err
	}
	return s, nil
}

// isFerretDB reports whether the server is FerretDB (whose buildInfo has a
// ferretdbVersion); false when buildInfo fails.
func (s *Store) isFerretDB(ctx context.Context) bool {
	var info bson.Raw
	err := s.client.Database("admin").RunCommand(ctx, bson.D{{Key: "buildInfo", Value: 1}}).Decode(&info)
	if err != nil {
		return false
	}
	_, err = info.LookupErr("ferretdbVersion")
	return err == nil
}

// SerialUpdates reports whether this store serialises its conditional
// updates in process (see Config.SerialUpdates).
func (s *Store) SerialUpdates() bool { return s.serial }

// Transactions reports whether CompleteCommand uses multi-document
// transactions (the deployment has them and Config.NoTransactions is off);
// false means the guarded sequence (see the package doc).
func (s *Store) Transactions() bool { return s.txn }

// hasTransactions reports whether a server whose hello answer is hello
// supports multi-document transactions: a replica set member (setName) or
// a mongos (msg "isdbgrid"), with sessions (logicalSessionTimeoutMinutes).
// A standalone mongod and FerretDB v1 have none.
func hasTransactions(hello bson.Raw) bool {
	if _, err := hello.LookupErr("logicalSessionTimeoutMinutes"); err != nil {
		return false
	}
	if name, ok := hello.Lookup("setName").StringValueOK(); ok && name != "" {
		return true
	}
	msg, ok := hello.Lookup("msg").StringValueOK()
	return ok && msg == "isdbgrid"
}

// detectTransactions asks the server (hello) whether it has transactions.
func (s *Store) detectTransactions(ctx context.Context) (bool, error) {
	var hello bson.Raw
	if err := s.client.Database("admin").RunCommand(ctx, bson.D{{Key: "hello", Value: 1}}).Decode(&hello); err != nil {
		return false, wrapErr("hello", err)
	}
	return hasTransactions(hello), nil
}

// init pings the server, learns what it supports and creates the indexes
// that are missing.
func (s *Store) init(ctx context.Context) error {
	if err := s.Ping(ctx); err != nil {
		return err
	}
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	if s.isFerretDB(ctx) {
		s.serial = true
	}
	if !s.cfg.NoTransactions {
		txn, err := s.detectTransactions(ctx)
		if err != nil {
			return err
		}
		s.txn = txn
	}
	if err := createMissingIndexes(ctx, s.rooms, roomIndexes); err != nil {
		return err
	}
	if err := createMissingIndexes(ctx, s.commands, commandIndexes); err != nil {
		return err
	}
	return s.createMissingCollections(ctx)
}

// codeNamespaceExists is the server's error for creating a collection that
// exists.
const codeNamespaceExists = 48

// createMissingCollections creates the collections that do not exist yet
// (those without indexes: archived_rooms): a transaction on MongoDB
// before 4.4 cannot create one by its first write.
func (s *Store) createMissingCollections(ctx context.Context) error {
	names, err := s.db.ListCollectionNames(ctx, bson.D{})
	if err != nil {
		return wrapErr("list collections", err)
	}
	for _, name := range []string{CollRooms, CollCommands, CollArchivedRooms} {
		if slices.Contains(names, name) {
			continue
		}
		err := s.db.CreateCollection(ctx, name)
		var se mongo.ServerError
		if errors.As(err, &se) && se.HasErrorCode(codeNamespaceExists) {
			err = nil // created by another process meanwhile
		}
		if err != nil {
			return wrapErr("create collection "+name, err)
		}
	}
	return nil
}

// createMissingIndexes creates those of indexes that coll lacks (by name).
// It looks first, so that the usual start (indexes in place) writes
// nothing: createIndexes of existing indexes is a no-op on MongoDB, but
// FerretDB v1 can fail on concurrent ones. An index of that name on other
// fields (an older version's rooms_expiry) is dropped and created again.
func createMissingIndexes(ctx context.Context, coll *mongo.Collection, indexes []index) error {
	cur, err := coll.Indexes().List(ctx)
	if err != nil {
		return wrapErr("list indexes of "+coll.Name(), err)
	}
	var specs []struct {
		Name string `bson:"name"`
		Key  bson.D `bson:"key"`
	}
	if err := cur.All(ctx, &specs); err != nil {
		return wrapErr("list indexes of "+coll.Name(), err)
	}
	have := map[string]bson.D{}
	for _, spec := range specs {
		have[spec.Name] = spec.Key
	}
	var missing []mongo.IndexModel
	for _, ix := range indexes {
		keys, ok := have[ix.name]
		if ok && !sameFields(keys, ix.keys) {
			// Another process may have dropped it already.
			if err := coll.Indexes().DropOne(ctx, ix.name); err != nil && !isIndexNotFound(err) {
				return wrapErr("drop outdated index "+ix.name+" of "+coll.Name(), err)
			}
			ok = false
		}
		if !ok {
			missing = append(missing, mongo.IndexModel{Keys: ix.keys, Options: options.Index().SetName(ix.name)})
		}
	}
	if len(missing) == 0 {
		return nil
	}
	if _, err := coll.Indexes().CreateMany(ctx, missing); err != nil {
		return wrapErr("create indexes on "+coll.Name(), err)
	}
	return nil
}

// sameFields reports whether index keys a and b name the same fields in
// the same order (every index of the store is ascending).
func sameFields(a, b bson.D) bool {
	return slices.EqualFunc(a, b, func(x, y bson.E) bool { return x.Key == y.Key })
}

// serialLocks are the in-process locks of Config.SerialUpdates, shared by
// every store of the process: one of 64 mutexes per record, picked by a hash
// of its database, collection and ID.
var serialLocks [64]sync.Mutex

// lock locks the stripe of record id in coll and returns its unlock; it
// does nothing unless the store serialises its updates.
func (s *Store) lock(coll, id string) func() {
	if !s.serial {
		return func() {}
	}
	h := fnv.New32a()
	for _, part := range []string{s.cfg.Database, coll, id} {
		_, _ = h.Write([]byte(part))
		_, _ = h.Write([]byte{0})
	}
	m := &serialLocks[h.Sum32()%uint32(len(serialLocks))]
	m.Lock()
	return m.Unlock
}

// Database returns the store's database (for diagnostics and tests).
func (s *Store) Database() *mongo.Database { return s.db }

// opContext bounds one operation by cfg.OpTimeout.
func (s *Store) opContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.cfg.OpTimeout)
}

// now is the time stored in the ledger: UTC, at BSON's millisecond
// precision, so what a call returns equals what a later read returns.
func now() time.Time { return time.Now().UTC().Truncate(time.Millisecond) }

func byID(id string) bson.D { return bson.D{{Key: "_id", Value: id}} }

// InsertRoom implements store.Store.
func (s *Store) InsertRoom(ctx context.Context, r *store.Room) error {
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	_, err := s.rooms.InsertOne(ctx, current(r))
	return wrapErr(fmt.Sprintf("insert room %q", r.RoomID), err)
}

// current is r in the current record shape: r itself, or an upgraded copy
// of a room given in an older one (store.UpgradeRoom), so that every room
// this version writes has the fields FindRooms filters on.
func current(r *store.Room) *store.Room {
	if r.SchemaVersion >= store.RoomSchemaVersion {
		return r
	}
	c := *r
	store.UpgradeRoom(&c)
	return &c
}

// GetRoom implements store.Store.
func (s *Store) GetRoom(ctx context.Context, id string) (*store.Room, error) {
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	var r store.Room
	if err := s.rooms.FindOne(ctx, byID(id)).Decode(&r); err != nil {
		return nil, wrapErr(fmt.Sprintf("get room %q", id), err)
	}
	store.UpgradeRoom(&r)
	return &r, nil
}

// UpdateRoom implements store.Store: a replaceOne filtered on _id and
// version.
func (s *Store) UpdateRoom(ctx context.Context, r *store.Room, expectedVersion int64) error {
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	op := fmt.Sprintf("update room %q at version %d", r.RoomID, expectedVersion)
	defer s.lock(CollRooms, r.RoomID)()
	next := *current(r)
	next.Version = expectedVersion + 1
	filter := bson.D{{Key: "_id", Value: r.RoomID}, {Key: "version", Value: expectedVersion}}
	res, err := s.rooms.ReplaceOne(ctx, filter, &next)
	if err != nil {
		return wrapErr(op, err)
	}
	if res.MatchedCount == 0 {
		// Gone, or changed since it was read: a read tells which.
		err := s.rooms.FindOne(ctx, byID(r.RoomID), options.FindOne().SetProjection(byIDAsc)).Err()
		if err != nil {
			return wrapErr(op, err) // ErrNotFound when gone
		}
		return fmt.Errorf("mongo: %s: %w", op, store.ErrConflict)
	}
	r.Version = next.Version
	return nil
}

// DeleteRoom implements store.Store.
func (s *Store) DeleteRoom(ctx context.Context, id string) error {
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	op := fmt.Sprintf("delete room %q", id)
	res, err := s.rooms.DeleteOne(ctx, byID(id))
	if err != nil {
		return wrapErr(op, err)
	}
	if res.DeletedCount == 0 {
		return fmt.Errorf("mongo: %s: %w", op, store.ErrNotFound)
	}
	return nil
}

// findRooms runs a find on rooms sorted by _id, limited to limit.
func (s *Store) findRooms(ctx context.Context, op string, filter bson.D, limit int, hint string) ([]store.Room, error) {
	return s.findRoomsSorted(ctx, op, filter, byIDAsc, limit, hint)
}

// findRoomsSorted runs a find on rooms sorted by sort, limited to limit.
func (s *Store) findRoomsSorted(ctx context.Context, op string, filter, sort bson.D, limit int, hint string) ([]store.Room, error) {
	rooms := []store.Room{}
	if limit <= 0 {
		return rooms, nil
	}
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	opts := options.Find().SetSort(sort).SetLimit(int64(limit))
	if hint != "" {
		opts.SetHint(hint)
	}
	cur, err := s.rooms.Find(ctx, filter, opts)
	if err != nil {
		return nil, wrapErr(op, err)
	}
	if err := cur.All(ctx, &rooms); err != nil {
		return nil, wrapErr(op, err)
	}
	for i := range rooms {
		store.UpgradeRoom(&rooms[i])
	}
	return rooms, nil
}

var byIDAsc = bson.D{{Key: "_id", Value: 1}}

// afterID is the keyset condition _id > after (none for after == "").
func afterID(after string) bson.E {
	return bson.E{Key: "_id", Value: bson.D{{Key: "$gt", Value: after}}}
}

// ListRooms implements store.Store.
func (s *Store) ListRooms(ctx context.Context, after string, limit int) ([]store.Room, error) {
	filter := bson.D{}
	if after != "" {
		filter = append(filter, afterID(after))
	}
	return s.findRooms(ctx, "list rooms", filter, limit, "")
}

// byExpiry is the order of ExpiredRooms, that of rooms_expiry.
var byExpiry = bson.D{{Key: "autoDeletionDate", Value: 1}, {Key: "_id", Value: 1}}

// ExpiredRooms implements store.Store through the rooms_expiry index (named
// with a hint; FerretDB ignores hints). MongoDB has no row-value comparison
// for the keyset (autoDeletionDate, _id) > after, and an $or of its two
// halves would leave the planner free to scan every expired room and sort
// them; so a page is at most two finds, each one index range read in the
// index's order and stopped at its limit: the rest of after's date past
// after's ID, then the later dates up to now.
func (s *Store) ExpiredRooms(ctx context.Context, now int64, after store.ExpiryKey, limit int) ([]store.Room, error) {
	const op = "expired rooms"
	notMarked := bson.E{Key: "markedForDeletion", Value: bson.D{{Key: "$ne", Value: true}}}
	if after.RoomID == "" {
		filter := bson.D{{Key: "autoDeletionDate", Value: bson.D{{Key: "$lte", Value: now}}}, notMarked}
		return s.findRoomsSorted(ctx, op, filter, byExpiry, limit, IndexExpiry)
	}
	if after.Date > now {
		return []store.Room{}, nil
	}
	same := bson.D{{Key: "autoDeletionDate", Value: after.Date}, afterID(after.RoomID), notMarked}
	rooms, err := s.findRoomsSorted(ctx, op, same, byExpiry, limit, IndexExpiry)
	if err != nil || len(rooms) >= limit || after.Date == now {
		return rooms, err
	}
	later := bson.D{{Key: "autoDeletionDate", Value: bson.D{{Key: "$gt", Value: after.Date}, {Key: "$lte", Value: now}}}, notMarked}
	more, err := s.findRoomsSorted(ctx, op, later, byExpiry, limit-len(rooms), IndexExpiry)
	if err != nil {
		return nil, err
	}
	return append(rooms, more...), nil
}

// MarkedRooms implements store.Store: an $or whose branches each use one
// index (rooms_marked, rooms_meeting) in _id order.
func (s *Store) MarkedRooms(ctx context.Context, after string, limit int) ([]store.Room, error) {
	marked := bson.D{{Key: "markedForDeletion", Value: true}}
	active := bson.D{{Key: "meeting", Value: store.MeetingActive}}
	if after != "" {
		marked = append(marked, afterID(after))
		active = append(active, afterID(after))
	}
	filter := bson.D{{Key: "$or", Value: bson.A{marked, active}}}
	return s.findRooms(ctx, "marked rooms", filter, limit, "")
}

// CountRooms implements store.Store.
func (s *Store) CountRooms(ctx context.Context) (int64, error) {
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	n, err := s.rooms.CountDocuments(ctx, bson.D{})
	if err != nil {
		return 0, wrapErr("count rooms", err)
	}
	return n, nil
}

// ClaimCommand implements store.Store: insertOne of a pending record, and on
// a duplicate key a read of the existing one (a completing record is
// finished, or reported pending, as by GetCommand).
func (s *Store) ClaimCommand(ctx context.Context, c *store.Command) (*store.Command, error) {
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	op := fmt.Sprintf("claim command %q", c.ID)
	rec := *c
	rec.Status = store.StatusPending
	t := now()
	if rec.CreatedAt.IsZero() {
		rec.CreatedAt = t
	} else {
		rec.CreatedAt = rec.CreatedAt.UTC().Truncate(time.Millisecond)
	}
	if rec.UpdatedAt.IsZero() {
		rec.UpdatedAt = rec.CreatedAt
	} else {
		rec.UpdatedAt = rec.UpdatedAt.UTC().Truncate(time.Millisecond)
	}
	_, err := s.commands.InsertOne(ctx, &rec)
	if err == nil {
		return &rec, nil
	}
	err = wrapErr(op, err)
	if !errors.Is(err, store.ErrDuplicate) {
		return nil, err
	}
	existing, gerr := s.getCommand(ctx, c.ID)
	if gerr != nil {
		return nil, gerr
	}
	return existing, err
}

// GetCommand implements store.Store. A record left completing by a
// completer whose lease has ended is finished first, with its stored
// writes; one whose completer is still at work is reported pending.
func (s *Store) GetCommand(ctx context.Context, id string) (*store.Command, error) {
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	return s.getCommand(ctx, id)
}

// getCommand reads record id as callers see it (see resolve).
func (s *Store) getCommand(ctx context.Context, id string) (*store.Command, error) {
	rec, err := s.getRecord(ctx, id)
	if err != nil {
		return nil, err
	}
	return s.resolve(ctx, rec)
}

// getRecord reads record id as stored.
func (s *Store) getRecord(ctx context.Context, id string) (*record, error) {
	var rec record
	if err := s.commands.FindOne(ctx, byID(id)).Decode(&rec); err != nil {
		return nil, wrapErr(fmt.Sprintf("get command %q", id), err)
	}
	return &rec, nil
}

// SetCommandPlan implements store.Store: updateOne of the pending record
// without a plan, then a read of the plan that won.
func (s *Store) SetCommandPlan(ctx context.Context, id string, plan json.RawMessage) (json.RawMessage, error) {
	op := fmt.Sprintf("set plan of command %q", id)
	if len(plan) == 0 {
		return nil, fmt.Errorf("mongo: %s: empty plan", op)
	}
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	defer s.lock(CollCommands, id)()
	filter := bson.D{
		{Key: "_id", Value: id},
		{Key: "status", Value: store.StatusPending},
		{Key: "plan", Value: bson.D{{Key: "$exists", Value: false}}},
	}
	update := bson.D{{Key: "$set", Value: bson.D{
		{Key: "plan", Value: plan},
		{Key: "updatedAt", Value: now()},
	}}}
	if _, err := s.commands.UpdateOne(ctx, filter, update); err != nil {
		return nil, wrapErr(op, err)
	}
	rec, err := s.getRecord(ctx, id)
	if err != nil {
		return nil, err
	}
	return rec.Plan, nil
}

// MarkPublished implements store.Store.
func (s *Store) MarkPublished(ctx context.Context, id string) error {
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	_, err := s.commands.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "published", Value: true}}}})
	return wrapErr(fmt.Sprintf("mark published %q", id), err)
}

// PruneCommands implements store.Store: a find of the IDs of up to limit
// done records older than before, through the commands_prune index (named
// with a hint; FerretDB ignores hints), oldest first, then one deleteMany of
// those IDs that repeats the conditions, so a record that changed in
// between (pruned by another process and claimed again) is left alone.
func (s *Store) PruneCommands(ctx context.Context, before time.Time, limit int) (int64, error) {
	const op = "prune commands"
	if limit <= 0 {
		return 0, nil
	}
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	cutoff := ceilMilli(before)
	filter := bson.D{
		{Key: "status", Value: bson.D{{Key: "$in", Value: bson.A{store.StatusDone, store.StatusDead}}}},
		{Key: "updatedAt", Value: bson.D{{Key: "$lt", Value: cutoff}}},
	}
	opts := options.Find().
		SetProjection(byIDAsc).
		SetSort(bson.D{{Key: "updatedAt", Value: 1}}).
		SetLimit(int64(limit)).
		SetHint(IndexPrune)
	cur, err := s.commands.Find(ctx, filter, opts)
	if err != nil {
		return 0, wrapErr(op, err)
	}
	var docs []struct {
		ID string `bson:"_id"`
	}
	if err := cur.All(ctx, &docs); err != nil {
		return 0, wrapErr(op, err)
	}
	if len(docs) == 0 {
		return 0, nil
	}
	ids := make(bson.A, len(docs))
	for i, d := range docs {
		ids[i] = d.ID
	}
	del := append(bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}}, filter...)
	res, err := s.commands.DeleteMany(ctx, del)
	if err != nil {
		return 0, wrapErr(op, err)
	}
	return res.DeletedCount, nil
}

// ceilMilli is t rounded up to BSON's millisecond: updatedAt < ceilMilli(t)
// holds exactly for the stored times before t.
func ceilMilli(t time.Time) time.Time {
	ms := time.UnixMilli(t.UnixMilli()).UTC() // rounded down
	if ms.Before(t) {
		ms = ms.Add(time.Millisecond)
	}
	return ms
}

// PutArchivedRoom implements store.Store: replaceOne with upsert.
func (s *Store) PutArchivedRoom(ctx context.Context, a *store.ArchivedRoom) error {
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	_, err := s.archived.ReplaceOne(ctx, byID(a.RoomID), a, options.Replace().SetUpsert(true))
	return wrapErr(fmt.Sprintf("put archived room %q", a.RoomID), err)
}

// GetArchivedRoom implements store.Store.
func (s *Store) GetArchivedRoom(ctx context.Context, id string) (*store.ArchivedRoom, error) {
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	var a store.ArchivedRoom
	if err := s.archived.FindOne(ctx, byID(id)).Decode(&a); err != nil {
		return nil, wrapErr(fmt.Sprintf("get archived room %q", id), err)
	}
	return &a, nil
}

// Ping implements store.Store: a ping of the primary.
func (s *Store) Ping(ctx context.Context) error {
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	return wrapErr("ping", s.client.Ping(ctx, readpref.Primary()))
}

// Close implements store.Store: it closes the connections, waiting at most
// 10 s for operations in flight.
func (s *Store) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := s.client.Disconnect(ctx)
	if errors.Is(err, mongo.ErrClientDisconnected) {
		return nil
	}
	return wrapErr("close", err)
}

// upgradeBatch is how many rooms upgradeRooms reads at a time.
const upgradeBatch = 500

// oldShape selects the rooms of an older record shape: without a
// schemaVersion (written before issue 15), or with a lower one.
func oldShape() bson.D {
	return bson.D{{Key: "$or", Value: bson.A{
		bson.D{{Key: "schemaVersion", Value: bson.D{{Key: "$exists", Value: false}}}},
		bson.D{{Key: "schemaVersion", Value: bson.D{{Key: "$lt", Value: store.RoomSchemaVersion}}}},
	}}}
}

// upgradeRooms rewrites every room of an older record shape in the current
// one (store.UpgradeRoom), at Open, and returns how many it rewrote. Reads
// upgrade such rooms anyway; rewriting them is what lets FindRooms filter
// them on the new fields (status). Each room is replaced only if it is
// still the one read (_id, version, old shape), keeping its version: the
// room says the same. The upgrade is a pure function, so processes opening
// the store at once write the same rooms. The find has no index to use: it
// reads the collection once per Open (in batches of upgradeBatch in _id
// order), which costs little next to the rooms' indexes, and is what lets
// rooms written by an older version while this one was down be upgraded.
// Rooms an older version writes while this one runs are upgraded on read
// and at the next Open; until then a status filter misses them.
func (s *Store) upgradeRooms(ctx context.Context) (int, error) {
	const op = "upgrade rooms"
	n := 0
	after := ""
	for {
		filter := oldShape()
		if after != "" {
			filter = bson.D{{Key: "$and", Value: bson.A{filter, bson.D{afterID(after)}}}}
		}
		rooms, err := s.findOld(ctx, filter)
		if err != nil {
			return n, wrapErr(op, err)
		}
		for i := range rooms {
			r := &rooms[i]
			done, err := s.replaceOld(ctx, r)
			if err != nil {
				return n, wrapErr(fmt.Sprintf("%s: room %q", op, r.RoomID), err)
			}
			if done {
				n++
			}
		}
		if len(rooms) < upgradeBatch {
			return n, nil
		}
		after = rooms[len(rooms)-1].RoomID
	}
}

// findOld reads a batch of rooms as stored (not upgraded).
func (s *Store) findOld(ctx context.Context, filter bson.D) ([]store.Room, error) {
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	cur, err := s.rooms.Find(ctx, filter, options.Find().SetSort(byIDAsc).SetLimit(upgradeBatch))
	if err != nil {
		return nil, err
	}
	var rooms []store.Room
	if err := cur.All(ctx, &rooms); err != nil {
		return nil, err
	}
	return rooms, nil
}

// replaceOld replaces room r, as read in an older shape, with its upgrade,
// unless it changed since it was read (then it reports false).
func (s *Store) replaceOld(ctx context.Context, r *store.Room) (bool, error) {
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	defer s.lock(CollRooms, r.RoomID)()
	filter := bson.D{{Key: "$and", Value: bson.A{
		bson.D{{Key: "_id", Value: r.RoomID}, {Key: "version", Value: r.Version}},
		oldShape(),
	}}}
	store.UpgradeRoom(r)
	res, err := s.rooms.ReplaceOne(ctx, filter, r)
	if err != nil {
		return false, err
	}
	return res.MatchedCount == 1, nil
}
