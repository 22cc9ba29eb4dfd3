package mongo_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"

	"github.com/roomkeeper/roomkeeper/internal/testenv/ferret"
	"github.com/roomkeeper/roomkeeper/store"
	"github.com/roomkeeper/roomkeeper/store/mongo"
	"github.com/roomkeeper/roomkeeper/store/storetest"
)

// errCrash stands for a completer that died at a step.
var errCrash = errors.New("crashed")

// Short timeouts, so that a crashed completion's lease ends quickly.
const (
	testOpTimeout = time.Second
	testLease     = 1500 * time.Millisecond
)

// crashOnce returns a hook that fails the first time step is reached (the
// n-th time, for StepWrite) and never again, and a function telling
// whether it did.
func crashOnce(step string, n int) (func(string) error, func() bool) {
	var seen, crashed atomic.Int32
	return func(s string) error {
			if s != step || seen.Add(1) != int32(n) {
				return nil
			}
			crashed.Store(1)
			return errCrash
		}, func() bool {
			return crashed.Load() == 1
		}
}

// guardedStore opens a store that uses the guarded sequence with short
// timeouts and hook.
func guardedStore(t *testing.T, uri string, hook func(string) error) *mongo.Store {
	t.Helper()
	cfg := mongo.Config{NoTransactions: true, OpTimeout: testOpTimeout, CompletionLease: testLease}
	s := openStore(t, uri, mongo.WithHook(cfg, hook))
	require.False(t, s.Transactions())
	return s
}

func rawStatus(t *testing.T, s *mongo.Store, id string) string {
	t.Helper()
	raw, err := s.Database().Collection(mongo.CollCommands).FindOne(t.Context(), bson.D{{Key: "_id", Value: id}}).Raw()
	require.NoError(t, err)
	return raw.Lookup("status").StringValue()
}

// TestGuardedCrashRollsForward: a completer that dies after claiming the
// completion, after its first write, or after all of them, leaves the
// record completing. Until its lease ends, readers see it pending (never
// done without its writes); then a redelivery's completion, or a reader,
// finishes it with the stored writes and result, never with its own.
//
// The cases and the tests that wait out a lease run in parallel, each on a
// database of its own.
func TestGuardedCrashRollsForward(t *testing.T) {
	t.Parallel()
	uri := ferret.MongoURI(t)
	for _, tc := range []struct {
		step string
		n    int
	}{{mongo.StepClaimed, 1}, {mongo.StepWrite, 1}, {mongo.StepApplied, 1}} {
		for _, by := range []string{"redelivery", "reader"} {
			t.Run(fmt.Sprintf("%s%d/%s", tc.step, tc.n, by), func(t *testing.T) {
				t.Parallel()
				hook, crashed := crashOnce(tc.step, tc.n)
				s := guardedStore(t, uri, hook)
				ctx := t.Context()
				old, fresh := storetest.NewRoom("Old-eeeeeeeeeeeeeee"), storetest.NewRoom("New-eeeeeeeeeeeeeee")
				require.NoError(t, s.InsertRoom(ctx, old))
				_, err := s.ClaimCommand(ctx, &store.Command{ID: "c1", Type: "rooms.cmd.create"})
				require.NoError(t, err)
				first := store.Completion{
					Status: store.StatusDone,
					Result: json.RawMessage(`{"first":true}`),
					Outbox: []store.OutMsg{{Subject: "rooms.results.c1", MsgID: "result:c1", Data: json.RawMessage(`{"first":true}`)}},
					Writes: []store.Write{
						store.InsertRoom(fresh),
						store.DeleteRoom(old.RoomID),
						store.PutArchived(&store.ArchivedRoom{RoomID: fresh.RoomID, RoomName: "first"}),
					},
				}
				started := time.Now() // the lease starts after this
				_, err = s.CompleteCommand(ctx, "c1", first)
				require.ErrorIs(t, err, errCrash)
				require.True(t, crashed())
				crashedAt := time.Now()
				require.Equal(t, mongo.StatusCompleting, rawStatus(t, s, "c1"))

				// While the lease runs, callers see a pending record.
				c, err := s.GetCommand(ctx, "c1")
				require.NoError(t, err)
				require.Equal(t, store.StatusPending, c.Status, "a completion in flight is not reported finished")
				require.Empty(t, c.Result)
				c, err = s.ClaimCommand(ctx, &store.Command{ID: "c1", Type: "rooms.cmd.create"})
				require.ErrorIs(t, err, store.ErrDuplicate)
				require.Equal(t, store.StatusPending, c.Status)

				other := storetest.NewRoom("Other-eeeeeeeeeeeee")
				var done *store.Command
				switch by {
				case "redelivery":
					// A second delivery completes with other writes: it
					// waits out the lease and finishes the first.
					// waits for the first; while its lease runs, it fails
					// as unavailable (the worker retries later), then it
					// takes it over and finishes it.
					done = retryUnavailable(t, func() (*store.Command, error) {
						return s.CompleteCommand(ctx, "c1", store.Completion{
							Status: store.StatusDone,
							Result: json.RawMessage(`{"second":true}`),
							Writes: []store.Write{store.InsertRoom(other), store.PutArchived(&store.ArchivedRoom{RoomID: fresh.RoomID, RoomName: "second"})},
						})
					})
					require.GreaterOrEqual(t, time.Since(started), testLease, "taken over only once the lease ended")
				case "reader":
					time.Sleep(time.Until(crashedAt.Add(testLease + 50*time.Millisecond)))
					done, err = s.GetCommand(ctx, "c1")
					require.NoError(t, err)
				}
				require.Equal(t, store.StatusDone, done.Status)
				require.JSONEq(t, `{"first":true}`, string(done.Result), "the stored completion wins")
				require.Len(t, done.Outbox, 1)
				require.Equal(t, "result:c1", done.Outbox[0].MsgID)
				require.Equal(t, store.StatusDone, rawStatus(t, s, "c1"))

				got, err := s.GetRoom(ctx, fresh.RoomID)
				require.NoError(t, err, "the stored insert is applied")
				storetest.RequireRoomEqual(t, fresh, got)
				_, err = s.GetRoom(ctx, old.RoomID)
				require.ErrorIs(t, err, store.ErrNotFound, "the stored delete is applied")
				arch, err := s.GetArchivedRoom(ctx, fresh.RoomID)
				require.NoError(t, err)
				require.Equal(t, "first", arch.RoomName, "the stored archive put is applied, not the redelivery's")
				_, err = s.GetRoom(ctx, other.RoomID)
				require.ErrorIs(t, err, store.ErrNotFound, "the redelivery's writes are not applied")

				// The record is finished for good.
				again, err := s.CompleteCommand(ctx, "c1", store.Completion{Status: store.StatusDead, Writes: []store.Write{store.InsertRoom(other)}})
				require.NoError(t, err)
				require.Equal(t, store.StatusDone, again.Status)
				_, err = s.GetRoom(ctx, other.RoomID)
				require.ErrorIs(t, err, store.ErrNotFound)
			})
		}
	}
}

// retryUnavailable calls f until it returns something other than
// store.ErrUnavailable, as a worker's retries would (at most 10 times).
func retryUnavailable(t *testing.T, f func() (*store.Command, error)) *store.Command {
	t.Helper()
	for range 10 {
		c, err := f()
		if errors.Is(err, store.ErrUnavailable) {
			continue
		}
		require.NoError(t, err)
		return c
	}
	t.Fatal("still unavailable after 10 tries")
	return nil
}

// TestGuardedNoResurrection: a create whose completer died after inserting
// the room, then a delete of that room: the delete finishes the create's
// completion first (once its lease ended), so a later redelivery of the
// create cannot bring the room back, nor its archive.
func TestGuardedNoResurrection(t *testing.T) {
	t.Parallel()
	hook, crashed := crashOnce(mongo.StepApplied, 1)
	s := guardedStore(t, ferret.MongoURI(t), hook)
	ctx := t.Context()
	r := storetest.NewRoom("Gone-fffffffffffffff")
	create := store.Completion{
		Status: store.StatusDone,
		Result: json.RawMessage(`{"ok":true}`),
		Writes: []store.Write{store.InsertRoom(r), store.PutArchived(&store.ArchivedRoom{RoomID: r.RoomID, RoomName: "at create"})},
	}
	_, err := s.ClaimCommand(ctx, &store.Command{ID: "create-r", Type: "rooms.cmd.create"})
	require.NoError(t, err)
	_, err = s.CompleteCommand(ctx, "create-r", create)
	require.ErrorIs(t, err, errCrash)
	require.True(t, crashed())
	_, err = s.GetRoom(ctx, r.RoomID)
	require.NoError(t, err, "the crashed create's insert is visible")

	// A delete sees the room and deletes it.
	_, err = s.ClaimCommand(ctx, &store.Command{ID: "delete-r", Type: "rooms.cmd.delete"})
	require.NoError(t, err)
	// It waits for the create's completion (unavailable while its lease
	// runs), then finishes it, then deletes.
	retryUnavailable(t, func() (*store.Command, error) {
		c, err := s.CompleteCommand(ctx, "delete-r", store.Completion{
			Status: store.StatusDone,
			Result: json.RawMessage(`{"ok":true}`),
			Writes: []store.Write{store.PutArchived(&store.ArchivedRoom{RoomID: r.RoomID, RoomName: "at delete"}), store.DeleteRoom(r.RoomID)},
		})
		if errors.Is(err, store.ErrUnavailable) {
			// Nothing of the delete was applied.
			_, gerr := s.GetRoom(ctx, r.RoomID)
			require.NoError(t, gerr)
			require.Equal(t, store.StatusPending, rawStatus(t, s, "delete-r"))
		}
		return c, err
	})
	_, err = s.GetRoom(ctx, r.RoomID)
	require.ErrorIs(t, err, store.ErrNotFound)

	// The create is redelivered: its record is done, nothing comes back.
	c, err := s.ClaimCommand(ctx, &store.Command{ID: "create-r", Type: "rooms.cmd.create"})
	require.ErrorIs(t, err, store.ErrDuplicate)
	require.Equal(t, store.StatusDone, c.Status, "the delete finished the create first")
	_, err = s.CompleteCommand(ctx, "create-r", create)
	require.NoError(t, err)
	_, err = s.GetRoom(ctx, r.RoomID)
	require.ErrorIs(t, err, store.ErrNotFound, "the deleted room stays deleted")
	arch, err := s.GetArchivedRoom(ctx, r.RoomID)
	require.NoError(t, err)
	require.Equal(t, "at delete", arch.RoomName, "the archive keeps what the delete stored")
}

// TestGuardedConcurrentCompletions: many completions of one record at once,
// each with its own room: exactly one wins, and only its room is there.
func TestGuardedConcurrentCompletions(t *testing.T) {
	s := guardedStore(t, ferret.MongoURI(t), nil)
	ctx := t.Context()
	for round := range 3 {
		id := fmt.Sprintf("race-%d", round)
		_, err := s.ClaimCommand(ctx, &store.Command{ID: id, Type: "rooms.cmd.create"})
		require.NoError(t, err)
		const n = 6
		results := make([]*store.Command, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				room := storetest.NewRoom(fmt.Sprintf("R%d-%d-ggggggggggggg", round, i))
				// A caller that waits on the winner longer than OpTimeout
				// (1 s here; a loaded machine and FerretDB) gets
				// ErrUnavailable, a transient error: the pipeline tries
				// again later, and so does this caller.
				for range 20 {
					results[i], errs[i] = s.CompleteCommand(ctx, id, store.Completion{
						Status: store.StatusDone,
						Result: json.RawMessage(fmt.Sprintf(`{"room":%q}`, room.RoomID)),
						Writes: []store.Write{store.InsertRoom(room)},
					})
					if !errors.Is(errs[i], store.ErrUnavailable) {
						return
					}
					time.Sleep(100 * time.Millisecond)
				}
			})
		}
		wg.Wait()
		var winner struct{ Room string }
		for i := range n {
			require.NoError(t, errs[i])
			require.Equal(t, string(results[0].Result), string(results[i].Result), "every caller gets the one result")
		}
		require.NoError(t, json.Unmarshal(results[0].Result, &winner))
		for i := range n {
			id := fmt.Sprintf("R%d-%d-ggggggggggggg", round, i)
			_, err := s.GetRoom(ctx, id)
			if id == winner.Room {
				require.NoError(t, err, "the winner's room is there")
			} else {
				require.ErrorIs(t, err, store.ErrNotFound, "a loser's room %s was inserted", id)
			}
		}
	}
}

// TestHasTransactions: transactions are detected from the hello answer of
// a replica set member or a mongos; a standalone server and FerretDB v1
// have none.
func TestHasTransactions(t *testing.T) {
	for name, tc := range map[string]struct {
		hello bson.D
		want  bool
	}{
		"replica set primary": {bson.D{{Key: "isWritablePrimary", Value: true}, {Key: "setName", Value: "rs0"}, {Key: "logicalSessionTimeoutMinutes", Value: int32(30)}}, true},
		"mongos":              {bson.D{{Key: "isWritablePrimary", Value: true}, {Key: "msg", Value: "isdbgrid"}, {Key: "logicalSessionTimeoutMinutes", Value: int32(30)}}, true},
		"standalone":          {bson.D{{Key: "isWritablePrimary", Value: true}, {Key: "logicalSessionTimeoutMinutes", Value: int32(30)}}, false},
		"no sessions":         {bson.D{{Key: "isWritablePrimary", Value: true}, {Key: "setName", Value: "rs0"}}, false},
		// What FerretDB v1.24 answers.
		"ferretdb": {bson.D{
			{Key: "isWritablePrimary", Value: true}, {Key: "maxBsonObjectSize", Value: int32(16777216)},
			{Key: "maxMessageSizeBytes", Value: int32(48000000)}, {Key: "maxWriteBatchSize", Value: int32(100000)},
			{Key: "logicalSessionTimeoutMinutes", Value: int32(30)}, {Key: "minWireVersion", Value: int32(0)},
			{Key: "maxWireVersion", Value: int32(21)}, {Key: "readOnly", Value: false}, {Key: "ok", Value: 1.0},
		}, false},
	} {
		raw, err := bson.Marshal(tc.hello)
		require.NoError(t, err)
		require.Equal(t, tc.want, mongo.HasTransactions(raw), name)
	}

	// The store asks the server at Open.
	uri := ferret.MongoURI(t)
	s := openStore(t, uri, mongo.Config{})
	if os.Getenv(ferret.EnvMongoURI) == "" {
		require.False(t, s.Transactions(), "FerretDB has no transactions")
	}
	s = openStore(t, uri, mongo.Config{NoTransactions: true})
	require.False(t, s.Transactions())
}

// commandLog records the commands a client sends.
type commandLog struct {
	mu   sync.Mutex
	cmds []bson.Raw
}

func (l *commandLog) monitor() *event.CommandMonitor {
	return &event.CommandMonitor{Started: func(_ context.Context, e *event.CommandStartedEvent) {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.cmds = append(l.cmds, append(bson.Raw(nil), e.Command...))
	}}
}

// last returns the last command named name sent on collection coll.
func (l *commandLog) last(t *testing.T, name, coll string) bson.Raw {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := len(l.cmds) - 1; i >= 0; i-- {
		if c, ok := l.cmds[i].Lookup(name).StringValueOK(); ok && c == coll {
			return l.cmds[i]
		}
	}
	t.Fatalf("no %s on %s was sent", name, coll)
	return nil
}

// since returns the commands named name sent on collection coll after the
// first n commands.
func (l *commandLog) since(n int, name, coll string) []bson.Raw {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []bson.Raw
	for _, c := range l.cmds[n:] {
		if v, ok := c.Lookup(name).StringValueOK(); ok && v == coll {
			out = append(out, c)
		}
	}
	return out
}

func (l *commandLog) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.cmds)
}

// TestConcerns: the store writes with write concern majority and reads with
// read concern majority, unless the URI says otherwise.
func TestConcerns(t *testing.T) {
	uri := ferret.MongoURI(t)
	check := func(t *testing.T, uri, wantW, wantRC string) {
		var log commandLog
		s := openStore(t, uri, mongo.WithMonitor(mongo.Config{}, log.monitor()))
		ctx := t.Context()
		require.NoError(t, s.InsertRoom(ctx, storetest.NewRoom("Concern")))
		_, err := s.GetRoom(ctx, "Concern")
		require.NoError(t, err)
		w := log.last(t, "insert", mongo.CollRooms).Lookup("writeConcern", "w")
		require.Equal(t, wantW, w.String(), "the insert's write concern")
		rc := log.last(t, "find", mongo.CollRooms).Lookup("readConcern", "level")
		require.Equal(t, wantRC, rc.StringValue(), "the find's read concern")
	}
	sep := "?"
	if strings.Contains(uri, "?") {
		sep = "&"
	}
	t.Run("default", func(t *testing.T) { check(t, uri, `"majority"`, "majority") })
	t.Run("URI", func(t *testing.T) {
		check(t, uri+sep+"w=1&readConcernLevel=local", `{"$numberInt":"1"}`, "local")
	})
}
