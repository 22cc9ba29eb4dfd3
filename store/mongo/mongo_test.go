package mongo_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/bson"
	driver "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/roomkeeper/roomkeeper/internal/testenv/ferret"
	"github.com/roomkeeper/roomkeeper/store"
	"github.com/roomkeeper/roomkeeper/store/mongo"
	"github.com/roomkeeper/roomkeeper/store/storetest"
)

// openStore opens a store on a database of its own on uri, dropped and
// closed at the end of the test.
func openStore(t testing.TB, uri string, cfg mongo.Config) *mongo.Store {
	t.Helper()
	cfg.URI = uri
	if cfg.Database == "" {
		cfg.Database = ferret.DatabaseName(t)
	}
	s, err := mongo.Open(t.Context(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Database().Drop(ctx)
		require.NoError(t, s.Close())
	})
	return s
}

// TestConformance runs the suite on the store as Open configures it for
// the server: on FerretDB (SerialUpdates, the guarded sequence) or, with
// TEST_MONGO_URI, on MongoDB (transactions on a replica set). The features
// follow from what the store found at Open.
func TestConformance(t *testing.T) {
	runConformance(t, ferret.MongoURI(t), mongo.Config{})
}

// TestConformanceGuarded runs the suite on the guarded sequence where the
// server has transactions (a replica set in TEST_MONGO_URI); on FerretDB,
// TestConformance already runs it.
func TestConformanceGuarded(t *testing.T) {
	uri := ferret.MongoURI(t)
	if probe := openStore(t, uri, mongo.Config{}); !probe.Transactions() {
		t.Skip("the server has no transactions: TestConformance runs the guarded sequence")
	}
	runConformance(t, uri, mongo.Config{NoTransactions: true})
}

func runConformance(t *testing.T, uri string, cfg mongo.Config) {
	probe := openStore(t, uri, cfg)
	storetest.Run(t, storetest.Harness{
		Features: storetest.Features{
			// One transaction holds the record and the writes; the guarded
			// sequence applies the writes before it finishes the record.
			AtomicCompletion: probe.Transactions(),
			// Serialised updates (FerretDB) are safe only within a process.
			ConcurrentProcesses: !probe.SerialUpdates(),
		},
		Open: func(t *testing.T) store.Store { return openStore(t, uri, cfg) },
		OpenShared: func(t *testing.T, s store.Store) store.Store {
			shared := cfg
			shared.Database = s.(*mongo.Store).Database().Name()
			return openStore(t, uri, shared)
		},
	})
}

func TestIndexes(t *testing.T) {
	uri := ferret.MongoURI(t)
	cfg := mongo.Config{Database: ferret.DatabaseName(t)}
	s := openStore(t, uri, cfg)

	// Opening again, also from several processes at once, is harmless.
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range errs {
		wg.Go(func() {
			c := cfg
			c.URI = uri
			s2, err := mongo.Open(t.Context(), c)
			if err == nil {
				err = s2.Close()
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}

	// Every collection exists from the start (a transaction on MongoDB
	// before 4.4 cannot create one).
	names, err := s.Database().ListCollectionNames(t.Context(), bson.D{})
	require.NoError(t, err)
	require.ElementsMatch(t, []string{mongo.CollRooms, mongo.CollCommands, mongo.CollArchivedRooms}, names)

	keys := indexFields(t, s.Database().Collection(mongo.CollRooms))
	require.Equal(t, []string{"autoDeletionDate", "_id", "markedForDeletion"}, keys[mongo.IndexExpiry],
		"the sweep's index is in the order of ExpiredRooms")
	require.Equal(t, []string{"markedForDeletion", "_id"}, keys[mongo.IndexMarked])
	require.Equal(t, []string{"meeting", "_id"}, keys[mongo.IndexMeeting])
	require.Equal(t, []string{"creationDate", "_id", "status", "roomName"}, keys[mongo.IndexCreated], "FindRooms by creationDate")
	require.Equal(t, []string{"roomName", "_id", "status"}, keys[mongo.IndexName], "FindRooms by roomName")
	require.Equal(t, []string{"autoDeletionDate", "_id", "status", "roomName"}, keys[mongo.IndexDeletion], "FindRooms by autoDeletionDate")
	require.Len(t, keys, 7, "rooms has _id and the six indexes: %v", keys)

	keys = indexFields(t, s.Database().Collection(mongo.CollCommands))
	require.Equal(t, []string{"status", "updatedAt", "_id"}, keys[mongo.IndexPrune])
	require.Equal(t, []string{"rooms", "updatedAt", "_id"}, keys[mongo.IndexHistory], "RoomHistory in completion order")
	require.Len(t, keys, 3, "commands has _id, commands_prune and commands_history: %v", keys)
}

// TestPruneCommandsUsesIndex checks with explain that the prune's find is a
// covered scan of commands_prune. Real MongoDB only (TEST_MONGO_URI).
func TestPruneCommandsUsesIndex(t *testing.T) {
	uri := os.Getenv(ferret.EnvMongoURI)
	if uri == "" {
		t.Skip("needs a real MongoDB in " + ferret.EnvMongoURI)
	}
	s := openStore(t, uri, mongo.Config{})
	for _, id := range []string{"a", "b", "c"} {
		_, err := s.ClaimCommand(t.Context(), &store.Command{ID: id, Type: "rooms.cmd.create"})
		require.NoError(t, err)
		_, err = s.CompleteCommand(t.Context(), id, store.Completion{Status: store.StatusDone, Result: json.RawMessage(`{}`)})
		require.NoError(t, err)
	}
	var out bson.Raw
	err := s.Database().RunCommand(t.Context(), bson.D{
		{Key: "explain", Value: bson.D{
			{Key: "find", Value: mongo.CollCommands},
			{Key: "filter", Value: bson.D{
				{Key: "status", Value: store.StatusDone},
				{Key: "updatedAt", Value: bson.D{{Key: "$lt", Value: time.Now().Add(time.Hour)}}},
			}},
			{Key: "projection", Value: bson.D{{Key: "_id", Value: 1}}},
			{Key: "sort", Value: bson.D{{Key: "updatedAt", Value: 1}}},
			{Key: "limit", Value: 10},
			{Key: "hint", Value: mongo.IndexPrune},
		}},
		{Key: "verbosity", Value: "queryPlanner"},
	}).Decode(&out)
	require.NoError(t, err)
	plan := out.Lookup("queryPlanner", "winningPlan").String()
	require.Contains(t, plan, "IXSCAN")
	require.Contains(t, plan, mongo.IndexPrune)
	require.NotContains(t, plan, "FETCH", "the find reads the index only")
	require.NotContains(t, plan, "SORT\"", "the index gives the order")

	n, err := s.PruneCommands(t.Context(), time.Now().Add(time.Hour), 2)
	require.NoError(t, err)
	require.EqualValues(t, 2, n)
}

// TestRoomHistoryUsesIndex checks with explain that a page of a room's
// history is one range of commands_history in its order, without a sort.
// Real MongoDB only (TEST_MONGO_URI).
func TestRoomHistoryUsesIndex(t *testing.T) {
	uri := os.Getenv(ferret.EnvMongoURI)
	if uri == "" {
		t.Skip("needs a real MongoDB in " + ferret.EnvMongoURI)
	}
	s := openStore(t, uri, mongo.Config{})
	for _, id := range []string{"a", "b", "c"} {
		_, err := s.ClaimCommand(t.Context(), &store.Command{ID: id, Type: "rooms.cmd.create"})
		require.NoError(t, err)
		_, err = s.CompleteCommand(t.Context(), id, store.Completion{Status: store.StatusDone, Result: json.RawMessage(`{}`), Rooms: []string{"r1", "r2"}})
		require.NoError(t, err)
	}
	var out bson.Raw
	err := s.Database().RunCommand(t.Context(), bson.D{
		{Key: "explain", Value: bson.D{
			{Key: "find", Value: mongo.CollCommands},
			{Key: "filter", Value: bson.D{
				{Key: "rooms", Value: "r1"},
				{Key: "status", Value: bson.D{{Key: "$in", Value: bson.A{store.StatusDone, store.StatusDead}}}},
				{Key: "updatedAt", Value: bson.D{{Key: "$gt", Value: time.Now().Add(-time.Hour)}}},
			}},
			{Key: "sort", Value: bson.D{{Key: "updatedAt", Value: 1}, {Key: "_id", Value: 1}}},
			{Key: "limit", Value: 2},
			{Key: "hint", Value: mongo.IndexHistory},
		}},
		{Key: "verbosity", Value: "queryPlanner"},
	}).Decode(&out)
	require.NoError(t, err)
	plan := out.Lookup("queryPlanner", "winningPlan").String()
	require.Contains(t, plan, "IXSCAN")
	require.Contains(t, plan, mongo.IndexHistory)
	require.NotContains(t, plan, "SORT\"", "the index gives the order")

	page, err := s.RoomHistory(t.Context(), store.HistoryQuery{RoomID: "r2", Limit: 2})
	require.NoError(t, err)
	require.Len(t, page, 2)
}

// TestSerialUpdatesOnFerretDB: a store on FerretDB serialises its
// conditional updates by itself (FerretDB v1's are not atomic); one on
// MongoDB does not unless asked.
func TestSerialUpdatesOnFerretDB(t *testing.T) {
	onMongo := os.Getenv(ferret.EnvMongoURI) != ""
	s := openStore(t, ferret.MongoURI(t), mongo.Config{})
	require.Equal(t, !onMongo, s.SerialUpdates())
	s = openStore(t, ferret.MongoURI(t), mongo.Config{SerialUpdates: true})
	require.True(t, s.SerialUpdates())
}

// TestConcurrentStores: updates of one room from two stores in one process
// (two workers) lose nothing.
func TestConcurrentStores(t *testing.T) {
	uri := ferret.MongoURI(t)
	cfg := mongo.Config{Database: ferret.DatabaseName(t)}
	a, b := openStore(t, uri, cfg), openStore(t, uri, cfg)
	ctx := t.Context()
	r := storetest.NewRoom("Shared")
	r.CreationDate = 0
	require.NoError(t, a.InsertRoom(ctx, r))

	const perStore = 3
	var wg sync.WaitGroup
	for _, s := range []*mongo.Store{a, b, a, b} {
		wg.Go(func() {
			for range perStore {
				for {
					r, err := s.GetRoom(ctx, "Shared")
					if !assert.NoError(t, err) {
						return
					}
					v := r.Version
					r.CreationDate++
					err = s.UpdateRoom(ctx, r, v)
					if errors.Is(err, store.ErrConflict) {
						continue
					}
					if !assert.NoError(t, err) {
						return
					}
					break
				}
			}
		})
	}
	wg.Wait()
	got, err := b.GetRoom(ctx, "Shared")
	require.NoError(t, err)
	require.EqualValues(t, 4*perStore, got.CreationDate, "an update was lost")
	require.EqualValues(t, 4*perStore, got.Version)
}

// TestExpiredRoomsIndexReplaced: a database whose rooms_expiry is the
// older {autoDeletionDate, markedForDeletion, _id}, which cannot give the
// order of ExpiredRooms, gets the current one at Open.
func TestExpiredRoomsIndexReplaced(t *testing.T) {
	uri := ferret.MongoURI(t)
	cfg := mongo.Config{Database: ferret.DatabaseName(t)}
	old := openStore(t, uri, cfg)
	rooms := old.Database().Collection(mongo.CollRooms)
	require.NoError(t, rooms.Indexes().DropOne(t.Context(), mongo.IndexExpiry))
	_, err := rooms.Indexes().CreateOne(t.Context(), driver.IndexModel{
		Keys:    bson.D{{Key: "autoDeletionDate", Value: 1}, {Key: "markedForDeletion", Value: 1}, {Key: "_id", Value: 1}},
		Options: options.Index().SetName(mongo.IndexExpiry),
	})
	require.NoError(t, err)
	require.NoError(t, old.InsertRoom(t.Context(), storetest.NewRoom("Kept-aaaaaaaaaaaaaaa")))

	cfg.URI = uri
	s, err := mongo.Open(t.Context(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	require.Equal(t, []string{"autoDeletionDate", "_id", "markedForDeletion"}, indexFields(t, rooms)[mongo.IndexExpiry])
	got, err := s.ExpiredRooms(t.Context(), 2_000_000_000_000, store.ExpiryKey{}, 10)
	require.NoError(t, err)
	require.Len(t, got, 1)
}

// indexFields returns the fields of every index of coll, by name.
func indexFields(t *testing.T, coll *driver.Collection) map[string][]string {
	t.Helper()
	cur, err := coll.Indexes().List(t.Context())
	require.NoError(t, err)
	var specs []struct {
		Name string `bson:"name"`
		Key  bson.D `bson:"key"`
	}
	require.NoError(t, cur.All(t.Context(), &specs))
	keys := map[string][]string{}
	for _, spec := range specs {
		for _, e := range spec.Key {
			keys[spec.Name] = append(keys[spec.Name], e.Key)
		}
	}
	return keys
}

// TestExpiredRoomsUsesIndex checks with explain that each find of
// ExpiredRooms walks rooms_expiry in the order it returns rooms, with no
// sort stage (which would read every expired room before the first one is
// returned). FerretDB v1 never uses an index, so it runs only against a
// real MongoDB (TEST_MONGO_URI).
func TestExpiredRoomsUsesIndex(t *testing.T) {
	uri := os.Getenv(ferret.EnvMongoURI)
	if uri == "" {
		t.Skip("needs a real MongoDB in " + ferret.EnvMongoURI)
	}
	s := openStore(t, uri, mongo.Config{})
	for _, id := range []string{"a", "b", "c"} {
		require.NoError(t, s.InsertRoom(t.Context(), storetest.NewRoom(id)))
	}
	const now = int64(2_000_000_000_000)
	notMarked := bson.E{Key: "markedForDeletion", Value: bson.D{{Key: "$ne", Value: true}}}
	date := *storetest.NewRoom("a").AutoDeletionDate
	for name, filter := range map[string]bson.D{
		"first page":  {{Key: "autoDeletionDate", Value: bson.D{{Key: "$lte", Value: now}}}, notMarked},
		"same date":   {{Key: "autoDeletionDate", Value: date}, {Key: "_id", Value: bson.D{{Key: "$gt", Value: "a"}}}, notMarked},
		"later dates": {{Key: "autoDeletionDate", Value: bson.D{{Key: "$gt", Value: date}, {Key: "$lte", Value: now}}}, notMarked},
	} {
		var out bson.Raw
		err := s.Database().RunCommand(t.Context(), bson.D{
			{Key: "explain", Value: bson.D{
				{Key: "find", Value: mongo.CollRooms},
				{Key: "filter", Value: filter},
				{Key: "sort", Value: bson.D{{Key: "autoDeletionDate", Value: 1}, {Key: "_id", Value: 1}}},
				{Key: "limit", Value: 10},
				{Key: "hint", Value: mongo.IndexExpiry},
			}},
			{Key: "verbosity", Value: "queryPlanner"},
		}).Decode(&out)
		require.NoError(t, err, name)
		plan := out.Lookup("queryPlanner", "winningPlan").String()
		require.Contains(t, plan, "IXSCAN", name)
		require.Contains(t, plan, mongo.IndexExpiry, name)
		require.NotContains(t, plan, "COLLSCAN", name)
		require.NotContains(t, plan, `"SORT"`, "%s: a sort reads every expired room: %s", name, plan)
	}

	// And the store's own queries give the rooms (through the hint).
	rooms, err := s.ExpiredRooms(t.Context(), now, store.ExpiryKey{Date: date, RoomID: "a"}, 10)
	require.NoError(t, err)
	require.Len(t, rooms, 2)
}

// TestRawJSONRoundTrip: the ledger's JSON blobs come back byte for byte
// (whitespace, key order, number spelling, escapes), stored as BSON binary.
func TestRawJSONRoundTrip(t *testing.T) {
	s := openStore(t, ferret.MongoURI(t), mongo.Config{})
	ctx := t.Context()
	blobs := []string{
		`{"b":1,"a":2}`,
		"{ \"spaced\" :\n\t[ 1 , 2 ] }",
		`{"n":1.50,"big":12345678901234567890123,"e":1E+2,"neg":-0}`,
		`{"esc":"\u00e9\"\\\/\n","raw":"é – 😀"}`,
		`[null,true,false,"",{}]`,
		`"just a string"`,
		`0`,
	}
	for i, blob := range blobs {
		id := "raw-" + string(rune('a'+i))
		_, err := s.ClaimCommand(ctx, &store.Command{ID: id, Type: "t"})
		require.NoError(t, err)
		plan, err := s.SetCommandPlan(ctx, id, json.RawMessage(blob))
		require.NoError(t, err)
		require.Equal(t, blob, string(plan))
		out := []store.OutMsg{{Subject: "s", MsgID: "m", Data: json.RawMessage(blob)}}
		done, err := s.CompleteCommand(ctx, id, store.Completion{Status: store.StatusDone, Result: json.RawMessage(blob), Outbox: out})
		require.NoError(t, err)
		require.Equal(t, blob, string(done.Result))

		c, err := s.GetCommand(ctx, id)
		require.NoError(t, err)
		require.Equal(t, blob, string(c.Plan), "plan")
		require.Equal(t, blob, string(c.Result), "result")
		require.Equal(t, blob, string(c.Outbox[0].Data), "outbox data")
	}

	// The stored form is binary, not a string or a sub-document.
	raw, err := s.Database().Collection(mongo.CollCommands).FindOne(ctx, bson.D{{Key: "_id", Value: "raw-a"}}).Raw()
	require.NoError(t, err)
	for _, field := range [][]string{{"plan"}, {"result"}, {"outbox", "0", "data"}} {
		v, err := raw.LookupErr(field...)
		require.NoError(t, err, "%v", field)
		require.Equal(t, bson.TypeBinary, v.Type, "%v", field)
	}

	// A plan must be something.
	_, err = s.SetCommandPlan(ctx, "raw-a", nil)
	require.Error(t, err)
}

// TestUnavailable: with the server down, every operation fails within a
// bounded time with an error matching store.ErrUnavailable, and works again
// once the server is back. The operations run at once, as a worker's do:
// the first network error clears the connection pool under the others.
func TestUnavailable(t *testing.T) {
	t.Parallel() // mostly waits for timeouts, on a server of its own
	srv := ferret.Start(t)
	s := openStore(t, srv.URI, mongo.Config{ServerSelectionTimeout: 200 * time.Millisecond})
	ctx := t.Context()
	require.NoError(t, s.InsertRoom(ctx, storetest.NewRoom("Up")))

	srv.Stop()
	ops := map[string]func(ctx context.Context) error{
		"Ping":    s.Ping,
		"GetRoom": func(ctx context.Context) error { _, err := s.GetRoom(ctx, "Up"); return err },
		"InsertRoom": func(ctx context.Context) error {
			return s.InsertRoom(ctx, storetest.NewRoom("Down"))
		},
		"UpdateRoom": func(ctx context.Context) error { return s.UpdateRoom(ctx, storetest.NewRoom("Up"), 0) },
		"DeleteRoom": func(ctx context.Context) error { return s.DeleteRoom(ctx, "Up") },
		"ListRooms":  func(ctx context.Context) error { _, err := s.ListRooms(ctx, "", 10); return err },
		"ExpiredRooms": func(ctx context.Context) error {
			_, err := s.ExpiredRooms(ctx, time.Now().UnixMilli(), store.ExpiryKey{}, 10)
			return err
		},
		"CountRooms": func(ctx context.Context) error { _, err := s.CountRooms(ctx); return err },
		"ClaimCommand": func(ctx context.Context) error {
			_, err := s.ClaimCommand(ctx, &store.Command{ID: "c1", Type: "t"})
			return err
		},
		"CompleteCommand": func(ctx context.Context) error {
			_, err := s.CompleteCommand(ctx, "c1", store.Completion{Status: store.StatusDone, Result: json.RawMessage(`{}`)})
			return err
		},
	}
	// The store's own server selection timeout ends the wait of each (run
	// at once: each waits for its own timeout)...
	type outcome struct {
		err  error
		took time.Duration
	}
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		outcomes = map[string]outcome{}
	)
	for name, op := range ops {
		wg.Go(func() {
			start := time.Now()
			err := op(ctx)
			mu.Lock()
			outcomes[name] = outcome{err, time.Since(start)}
			mu.Unlock()
		})
	}
	wg.Wait()
	for name, o := range outcomes {
		require.ErrorIs(t, o.err, store.ErrUnavailable, "%s: %v", name, o.err)
		require.Less(t, o.took, 3*time.Second, name)
	}
	// ... and so does a caller's deadline that comes first.
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := s.GetRoom(short, "Up")
	require.ErrorIs(t, err, store.ErrUnavailable)
	require.Less(t, time.Since(start), time.Second)

	// A store cannot be opened on a server that is down.
	start = time.Now()
	_, err = mongo.Open(ctx, mongo.Config{URI: srv.URI, Database: "x", ServerSelectionTimeout: 300 * time.Millisecond})
	require.ErrorIs(t, err, store.ErrUnavailable)
	require.Less(t, time.Since(start), 3*time.Second)

	// Back up: the same store works again, and nothing was lost.
	require.NoError(t, srv.Restart())
	require.Eventually(t, func() bool { return s.Ping(ctx) == nil }, 10*time.Second, 50*time.Millisecond)
	r, err := s.GetRoom(ctx, "Up")
	require.NoError(t, err)
	require.Equal(t, "Up", r.RoomID)
}

func TestOpenConfig(t *testing.T) {
	ctx := t.Context()
	for name, cfg := range map[string]mongo.Config{
		"no URI":           {},
		"bad scheme":       {URI: "http://localhost:27017"},
		"bad database":     {URI: "mongodb://127.0.0.1:1", Database: "a.b"},
		"long database":    {URI: "mongodb://127.0.0.1:1", Database: strings.Repeat("d", 64)},
		"negative timeout": {URI: "mongodb://127.0.0.1:1", OpTimeout: -time.Second},
		"bad URI option":   {URI: "mongodb://127.0.0.1:1/?connectTimeoutMS=soon"},
		"short lease":      {URI: "mongodb://127.0.0.1:1", OpTimeout: 10 * time.Second, CompletionLease: 10 * time.Second},
	} {
		_, err := mongo.Open(ctx, cfg)
		require.Error(t, err, name)
		require.NotErrorIs(t, err, store.ErrUnavailable, name)
	}

	cfg := mongo.Config{URI: "mongodb://x"}.WithDefaults()
	require.Equal(t, "roomkeeper", cfg.Database)
	require.Equal(t, "roomkeeper", cfg.AppName)
	require.Equal(t, mongo.DefaultConnectTimeout, cfg.ConnectTimeout)
	require.Equal(t, mongo.DefaultServerSelectionTimeout, cfg.ServerSelectionTimeout)
	require.Equal(t, mongo.DefaultOpTimeout, cfg.OpTimeout)
	require.Equal(t, mongo.DefaultOpTimeout+mongo.DefaultClockSkew, cfg.CompletionLease)
	cfg = mongo.Config{URI: "mongodb://x", OpTimeout: time.Minute}.WithDefaults()
	require.Equal(t, time.Minute+mongo.DefaultClockSkew, cfg.CompletionLease, "the lease follows OpTimeout")

	// Nothing listens on port 1: unavailable, quickly.
	start := time.Now()
	_, err := mongo.Open(ctx, mongo.Config{URI: "mongodb://127.0.0.1:1/", ServerSelectionTimeout: 200 * time.Millisecond})
	require.ErrorIs(t, err, store.ErrUnavailable)
	require.False(t, errors.Is(err, store.ErrNotFound))
	require.Less(t, time.Since(start), 3*time.Second)
}
