// Package storetest is the conformance suite every [store.Store]
// implementation runs: one set of behaviours, checked the way a caller of the
// store relies on them, so the SQLite and MongoDB stores cannot drift apart.
//
// An implementation's test calls [Run] with a [Harness]: a function that
// opens a fresh, empty store and registers its cleanup (Close, removing
// files or databases) with t.Cleanup, the [Features] the implementation
// has, and, for the features that need it, a way to open a second store on
// the same data:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, storetest.Harness{
//			Features: storetest.Features{AtomicCompletion: true},
//			Open: func(t *testing.T) store.Store {
//				s, err := sqlite.Open(t.Context(), sqlite.Config{Path: filepath.Join(t.TempDir(), "rk.db")})
//				require.NoError(t, err)
//				t.Cleanup(func() { _ = s.Close() })
//				return s
//			},
//		})
//	}
//
// The subtests run in parallel. Those that read or count across the whole
// store (lists, counts, expiry pages, prunes) open a store of their own;
// the others share one, each on room and command IDs no other subtest
// uses, so they also check that unrelated work at the same time changes
// nothing they see. A subtest that needs a feature the implementation
// lacks is skipped with the feature's name.
//
// The data sets are small (at most about 40 rooms per subtest, 8 goroutines
// for the concurrent cases) so that the suite stays quick against servers
// that scan whole collections, such as FerretDB.
//
// [BenchExpiredRooms] is the benchmark of ExpiredRooms both stores run, on
// up to a million rooms seeded in bulk.
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/store"
)

// Concurrency is how many goroutines the concurrent subtests run.
const Concurrency = 8

// timeTolerance is how far a stored time may be from the one written
// (stores keep at least millisecond precision).
const timeTolerance = 2 * time.Millisecond

// Features says what an implementation supports beyond what every store
// must do; the subtests that need a feature it lacks are skipped, naming
// the feature. The zero value claims nothing.
type Features struct {
	// AtomicCompletion: CompleteCommand finishes the ledger record and
	// applies its room writes in one transaction, so a reader never sees a
	// completion's writes while its record is still pending. SQLite has it,
	// and the MongoDB store where the deployment has transactions (a replica
	// set). The MongoDB store's guarded sequence (FerretDB, a standalone
	// server) applies the writes first and finishes the record after, so a
	// reader can see them in between. Every store must rule out the
	// converse, a record finished without its writes, which the suite
	// checks whatever the features.
	AtomicCompletion bool
	// ConcurrentProcesses: stores opened on the same data by different
	// processes keep every guarantee against each other (a compare-and-set
	// loses no update, exactly one claim, one plan and one completion of a
	// record wins). Needs Harness.OpenShared. SQLite has it (processes take
	// turns at the file's write lock), and the MongoDB store on MongoDB;
	// on FerretDB v1 it does not (its conditional updates are serialised
	// only within a process, see the MongoDB store's SerialUpdates).
	ConcurrentProcesses bool
}

// Harness is how the suite gets stores of one implementation.
type Harness struct {
	// Features are what the implementation supports.
	Features Features
	// Open opens a fresh, empty store and registers its cleanup with
	// t.Cleanup. It is called from parallel subtests.
	Open func(t *testing.T) store.Store
	// OpenShared opens a second store on the data of s, as another process
	// would, and registers its cleanup with t.Cleanup. Only the
	// ConcurrentProcesses subtests call it.
	OpenShared func(t *testing.T, s store.Store) store.Store
}

// Feature names, as the skipped subtests give them.
const (
	FeatureAtomicCompletion    = "AtomicCompletion"
	FeatureConcurrentProcesses = "ConcurrentProcesses"
)

func (f Features) has(name string) bool {
	switch name {
	case FeatureAtomicCompletion:
		return f.AtomicCompletion
	case FeatureConcurrentProcesses:
		return f.ConcurrentProcesses
	}
	panic("storetest: unknown feature " + name)
}

// subtest is one case of the suite.
type subtest struct {
	name string
	fn   func(t *testing.T, h Harness, s store.Store)
	// own: the subtest reads or counts across the whole store and gets a
	// fresh store of its own; the others share one and use IDs no other
	// subtest uses.
	own bool
	// needs names the feature the subtest needs, if any.
	needs string
}

// plain adapts a subtest that needs only its store.
func plain(fn func(t *testing.T, s store.Store)) func(t *testing.T, h Harness, s store.Store) {
	return func(t *testing.T, _ Harness, s store.Store) { fn(t, s) }
}

// Run runs the conformance suite against the stores h opens, its subtests
// in parallel.
func Run(t *testing.T, h Harness) {
	t.Helper()
	require.NotNil(t, h.Open, "Harness.Open is required")
	if h.Features.ConcurrentProcesses {
		require.NotNil(t, h.OpenShared, "Features.ConcurrentProcesses needs Harness.OpenShared")
	}
	tests := []subtest{
		{name: "Ping", fn: plain(testPing)},
		{name: "RoomRoundTrip", fn: plain(testRoomRoundTrip)},
		{name: "InsertRoomDuplicate", fn: plain(testInsertRoomDuplicate), own: true},
		{name: "NotFound", fn: plain(testNotFound), own: true},
		{name: "DeleteRoom", fn: plain(testDeleteRoom)},
		{name: "UpdateRoomCompareAndSet", fn: plain(testUpdateRoomCAS)},
		{name: "UpdateRoomConcurrent", fn: plain(testUpdateRoomConcurrent)},
		{name: "ListRoomsPagination", fn: plain(testListRoomsPagination), own: true},
		{name: "ListRoomsStableUnderChanges", fn: plain(testListRoomsStable), own: true},
		{name: "ExpiredRooms", fn: plain(testExpiredRooms), own: true},
		{name: "ExpiredRoomsPaging", fn: plain(testExpiredRoomsPaging), own: true},
		{name: "ExpiredRoomsPagingUnderChanges", fn: plain(testExpiredRoomsPagingUnderChanges), own: true},
		{name: "MarkedRooms", fn: plain(testMarkedRooms), own: true},
		{name: "CountRooms", fn: plain(testCountRooms), own: true},
		{name: "UpgradeOnRead", fn: plain(testUpgradeOnRead), own: true},
		{name: "FindRoomsNameFilters", fn: plain(testFindRoomsNameFilters), own: true},
		{name: "FindRoomsStatus", fn: plain(testFindRoomsStatus), own: true},
		{name: "FindRoomsSorts", fn: plain(testFindRoomsSorts), own: true},
		{name: "FindRoomsPagingUnderDeletes", fn: plain(testFindRoomsPagingUnderDeletes), own: true},
		{name: "FindRoomsInvalid", fn: plain(testFindRoomsInvalid), own: true},
		{name: "ClaimCommand", fn: plain(testClaimCommand)},
		{name: "ClaimCommandConcurrent", fn: plain(testClaimCommandConcurrent)},
		{name: "SetCommandPlan", fn: plain(testSetCommandPlan)},
		{name: "SetCommandPlanConcurrent", fn: plain(testSetCommandPlanConcurrent)},
		{name: "CompleteCommand", fn: plain(testCompleteCommand)},
		{name: "CompleteCommandOutboxBytes", fn: plain(testCompleteCommandOutboxBytes)},
		{name: "CompleteCommandWrites", fn: plain(testCompleteCommandWrites)},
		{name: "CompleteCommandWritesConcurrent", fn: plain(testCompleteCommandWritesConcurrent), own: true},
		{name: "CompleteCommandConcurrent", fn: plain(testCompleteCommandConcurrent)},
		{name: "CompleteCommandDead", fn: plain(testCompleteCommandDead)},
		{name: "CompleteCommandDoneAppliesNothing", fn: plain(testCompleteCommandDoneAppliesNothing), own: true},
		{name: "CompleteCommandFailedAppliesNothing", fn: plain(testCompleteCommandFailedAppliesNothing)},
		{name: "CompleteCommandDeletedStaysDeleted", fn: plain(testCompleteCommandDeletedStaysDeleted), own: true},
		{name: "CompleteCommandNeverDoneWithoutWrites", fn: plain(testCompletionNeverDoneWithoutWrites)},
		{name: "CompleteCommandAtomic", fn: plain(testCompletionAtomic), needs: FeatureAtomicCompletion},
		{name: "MarkPublished", fn: plain(testMarkPublished)},
		{name: "PruneCommands", fn: plain(testPruneCommands), own: true},
		{name: "PruneCommandsDead", fn: plain(testPruneCommandsDead), own: true},
		{name: "ArchivedRoom", fn: plain(testArchivedRoom)},
		{name: "FindCommands", fn: plain(testFindCommands), own: true},
		{name: "FindCommandsPaging", fn: plain(testFindCommandsPaging), own: true},
		{name: "CanceledContext", fn: plain(testCanceledContext)},
		{name: "ConcurrentProcesses/UpdateRoom", fn: testProcessesUpdateRoom, needs: FeatureConcurrentProcesses},
		{name: "ConcurrentProcesses/ClaimCommand", fn: testProcessesClaimCommand, needs: FeatureConcurrentProcesses},
		{name: "ConcurrentProcesses/SetCommandPlan", fn: testProcessesSetCommandPlan, needs: FeatureConcurrentProcesses},
		{name: "ConcurrentProcesses/CompleteCommand", fn: testProcessesCompleteCommand, needs: FeatureConcurrentProcesses},
	}
	// The store the subtests without a store of their own share; closed
	// when t ends, after every parallel subtest.
	shared := h.Open(t)
	require.NotNil(t, shared, "open returned a nil store")
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.needs != "" && !h.Features.has(tc.needs) {
				t.Skipf("the store has no %s (storetest.Features.%s is false)", tc.needs, tc.needs)
			}
			t.Parallel()
			var s store.Store
			if tc.own {
				s = h.Open(t)
				require.NotNil(t, s, "open returned a nil store")
			} else {
				s = shared
			}
			tc.fn(t, h, s)
		})
	}
}

// NewRoom returns a room in the current record shape with every field set
// to a value that tells it apart from other rooms, as a worker would insert
// it.
func NewRoom(id string) *store.Room {
	date := int64(1_900_000_000_000) + int64(len(id))
	policy := events.DefaultAutoDeletionPolicy()
	base := "https://meet.example"
	return &store.Room{
		RoomID:             id,
		RoomName:           "Room " + id,
		CreationDate:       1_764_000_000_000,
		AutoDeletionDate:   &date,
		Preferences:        events.DefaultPreferences(),
		ModeratorRoomURL:   base + "/room/" + id + "?secret=mod-" + id,
		PublisherRoomURL:   base + "/room/" + id + "?secret=pub-" + id,
		ModeratorSecret:    "mod-" + id,
		PublisherSecret:    "pub-" + id,
		SchemaVersion:      store.RoomSchemaVersion,
		Owner:              events.OwnerAdmin,
		AutoDeletionPolicy: &policy,
		Config:             events.DefaultConfig(),
		Roles:              events.DefaultRoles(),
		Access: events.Access{
			Anonymous: events.AnonymousAccess{
				Moderator: events.Link{Enabled: true, URL: base + "/room/" + id + "?secret=mod-" + id},
				Speaker:   events.Link{Enabled: true, URL: base + "/room/" + id + "?secret=spk-" + id},
				Recording: events.Link{Enabled: true, URL: base + "/room/" + id + "/recordings?secret=rec-" + id},
			},
			User: events.Link{URL: base + "/room/" + id},
		},
		Status:           events.StatusOpen,
		RolesUpdatedAt:   1_764_000_000_000,
		MeetingEndAction: events.EndActionNone,
		SpeakerSecret:    "spk-" + id,
		RecordingSecret:  "rec-" + id,
		Meeting:          store.MeetingNone,
		Applied:          []string{"create-" + id},
	}
}

// RequireRoomEqual fails t unless got holds the same room as want. A nil
// and an empty Applied are the same.
func RequireRoomEqual(t testing.TB, want, got *store.Room, msgAndArgs ...any) {
	t.Helper()
	require.NotNil(t, got, msgAndArgs...)
	w, g := *want, *got
	if len(w.Applied) == 0 {
		w.Applied = nil
	}
	if len(g.Applied) == 0 {
		g.Applied = nil
	}
	require.Equal(t, w, g, msgAndArgs...)
}

func ptr[T any](v T) *T { return &v }

func ids(rooms []store.Room) []string {
	out := make([]string, 0, len(rooms))
	for _, r := range rooms {
		out = append(out, r.RoomID)
	}
	return out
}

func insertRooms(t *testing.T, s store.Store, rooms ...*store.Room) {
	t.Helper()
	// Insert in a shuffled order so that no store can pass on insertion order.
	order := rand.Perm(len(rooms))
	for _, i := range order {
		require.NoError(t, s.InsertRoom(t.Context(), rooms[i]), "insert %s", rooms[i].RoomID)
	}
}

// pageAll pages through fetch with pages of size limit and returns every
// page's IDs, checking that every page is ascending and at most limit long.
func pageAll(t *testing.T, limit int, fetch func(after string) ([]store.Room, error)) [][]string {
	t.Helper()
	var pages [][]string
	after := ""
	for range 100 {
		rooms, err := fetch(after)
		require.NoError(t, err)
		require.LessOrEqual(t, len(rooms), limit)
		page := ids(rooms)
		require.True(t, slices.IsSorted(page), "page %v not in ascending ID order", page)
		if len(page) > 0 {
			require.Greater(t, page[0], after, "page starts at or before the cursor")
		}
		pages = append(pages, page)
		if len(rooms) < limit {
			return pages
		}
		after = page[len(page)-1]
	}
	t.Fatal("pagination does not end")
	return nil
}

func testPing(t *testing.T, s store.Store) {
	require.NoError(t, s.Ping(t.Context()))
}

func testRoomRoundTrip(t *testing.T, s store.Store) {
	ctx := t.Context()

	full := &store.Room{
		RoomID:            "Full-abcdefghijklmno",
		RoomName:          "Full room – ünïcödé",
		CreationDate:      1_764_000_000_123,
		AutoDeletionDate:  ptr(int64(1_764_100_000_456)),
		MarkedForDeletion: true,
		Preferences: events.Preferences{
			ChatPreferences:              events.ChatPreferences{Enabled: false},
			RecordingPreferences:         events.RecordingPreferences{Enabled: true, AllowAccessTo: events.AccessAdminModerator},
			VirtualBackgroundPreferences: events.VirtualBackgroundPreferences{Enabled: true},
		},
		ModeratorRoomURL: "https://meet.example/room/Full-abcdefghijklmno?secret=m0d",
		PublisherRoomURL: "https://meet.example/room/Full-abcdefghijklmno?secret=pub",
		ModeratorSecret:  "m0d-secret-with-\"quotes\"-and-\\backslash",
		PublisherSecret:  "pub-secret",
		Meeting:          store.MeetingActive,
		Version:          7,
		Applied:          []string{"cmd-1", "cmd:2", "cmd_3"},

		SchemaVersion:      store.RoomSchemaVersion,
		Owner:              "someone-else",
		AutoDeletionPolicy: &events.AutoDeletionPolicy{WithMeeting: events.PolicyForce, WithRecordings: events.PolicyForce},
		Config: events.Config{
			Chat: events.Enabled{Enabled: false},
			Recording: events.RecordingConfig{
				Enabled: true, Layout: events.LayoutSingleSpeaker,
				Encoding: json.RawMessage(`{"video":{"width":1280,"height":720},"audio":{"bitrate":64}}`),
			},
			VirtualBackground:  events.Enabled{Enabled: true},
			E2EE:               events.Enabled{Enabled: true},
			Captions:           events.Enabled{Enabled: false},
			MaxParticipants:    ptr(7),
			MaxDurationMinutes: ptr(1440),
		},
		Roles: events.Roles{
			Moderator: events.Role{Permissions: events.Permissions{RecordingControl: true, MeetingEnd: true, ChatWrite: true}},
			Speaker:   events.Role{Permissions: events.Permissions{MeetingJoin: true, MediaChangeVirtualBackground: true}},
		},
		Access: events.Access{
			Anonymous: events.AnonymousAccess{
				Moderator: events.Link{Enabled: false, URL: "https://meet.example/room/Full-abcdefghijklmno?secret=m0d"},
				Speaker:   events.Link{Enabled: true, URL: "https://meet.example/room/Full-abcdefghijklmno?secret=spk"},
				Recording: events.Link{Enabled: true, URL: "https://meet.example/room/Full-abcdefghijklmno/recordings?secret=rec"},
			},
			User: events.Link{Enabled: true, URL: "https://meet.example/room/Full-abcdefghijklmno"},
		},
		Status:           events.StatusClosed,
		RolesUpdatedAt:   1_764_000_000_999,
		MeetingEndAction: events.EndActionClose,
		SpeakerSecret:    "spk-secret-\"q\"",
		RecordingSecret:  "rec-secret",
		WarnedMeeting:    "RM_warned1",
	}
	bare := &store.Room{
		RoomID:       "Bare-abcdefghijklmno",
		RoomName:     "Room",
		CreationDate: 1_764_000_000_000,
		Preferences: events.Preferences{
			RecordingPreferences: events.RecordingPreferences{Enabled: false},
		},
		ModeratorRoomURL: "u1",
		PublisherRoomURL: "u2",
		ModeratorSecret:  "s1",
		PublisherSecret:  "s2",
		// The current shape with nothing set: it stays so (a zero config,
		// no roles, no access), nothing is filled in on read.
		SchemaVersion: store.RoomSchemaVersion,
	}
	defaults := NewRoom("Defaults-abcdefghijklmno")

	for _, r := range []*store.Room{full, bare, defaults} {
		want := *r
		want.Applied = slices.Clone(r.Applied)
		require.NoError(t, s.InsertRoom(ctx, r))
		RequireRoomEqual(t, &want, r, "InsertRoom changed the room passed in")

		got, err := s.GetRoom(ctx, r.RoomID)
		require.NoError(t, err)
		RequireRoomEqual(t, &want, got)
		if want.AutoDeletionDate == nil {
			require.Nil(t, got.AutoDeletionDate)
		}
	}

	// The room read is a copy: changing it changes nothing stored.
	got, err := s.GetRoom(ctx, full.RoomID)
	require.NoError(t, err)
	got.RoomName = "changed"
	got.Applied[0] = "changed"
	again, err := s.GetRoom(ctx, full.RoomID)
	require.NoError(t, err)
	require.Equal(t, full.RoomName, again.RoomName)
	require.Equal(t, "cmd-1", again.Applied[0])

	// An update keeps the warned meeting it sets, and clears it.
	for _, warned := range []string{"RM_warned2", ""} {
		again.WarnedMeeting = warned
		require.NoError(t, s.UpdateRoom(ctx, again, again.Version))
		again, err = s.GetRoom(ctx, full.RoomID)
		require.NoError(t, err)
		require.Equal(t, warned, again.WarnedMeeting)
	}
}

func testInsertRoomDuplicate(t *testing.T, s store.Store) {
	ctx := t.Context()
	r := NewRoom("Dup-abcdefghijklmno")
	require.NoError(t, s.InsertRoom(ctx, r))

	other := NewRoom("Dup-abcdefghijklmno")
	other.RoomName = "Other"
	other.ModeratorSecret = "other"
	err := s.InsertRoom(ctx, other)
	require.ErrorIs(t, err, store.ErrDuplicate)

	got, err := s.GetRoom(ctx, r.RoomID)
	require.NoError(t, err)
	RequireRoomEqual(t, r, got, "a duplicate insert changed the stored room")

	n, err := s.CountRooms(ctx)
	require.NoError(t, err)
	require.EqualValues(t, 1, n)
}

func testNotFound(t *testing.T, s store.Store) {
	ctx := t.Context()
	_, err := s.GetRoom(ctx, "nope")
	require.ErrorIs(t, err, store.ErrNotFound)
	require.ErrorIs(t, s.DeleteRoom(ctx, "nope"), store.ErrNotFound)
	require.ErrorIs(t, s.UpdateRoom(ctx, NewRoom("nope"), 0), store.ErrNotFound)
	_, err = s.GetCommand(ctx, "nope")
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = s.SetCommandPlan(ctx, "nope", json.RawMessage(`{}`))
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = s.CompleteCommand(ctx, "nope", store.Completion{Status: store.StatusDone, Result: json.RawMessage(`{}`)})
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = s.GetArchivedRoom(ctx, "nope")
	require.ErrorIs(t, err, store.ErrNotFound)

	// None of these created anything.
	_, err = s.GetCommand(ctx, "nope")
	require.ErrorIs(t, err, store.ErrNotFound)
	n, err := s.CountRooms(ctx)
	require.NoError(t, err)
	require.Zero(t, n)
}

func testDeleteRoom(t *testing.T, s store.Store) {
	ctx := t.Context()
	a, b := NewRoom("DelA-abcdefghijklmno"), NewRoom("DelB-abcdefghijklmno")
	insertRooms(t, s, a, b)

	require.NoError(t, s.DeleteRoom(ctx, a.RoomID))
	_, err := s.GetRoom(ctx, a.RoomID)
	require.ErrorIs(t, err, store.ErrNotFound)
	require.ErrorIs(t, s.DeleteRoom(ctx, a.RoomID), store.ErrNotFound, "a second delete")

	got, err := s.GetRoom(ctx, b.RoomID)
	require.NoError(t, err)
	RequireRoomEqual(t, b, got, "deleting one room touched another")

	// The ID is free again.
	require.NoError(t, s.InsertRoom(ctx, NewRoom(a.RoomID)))
}

func testUpdateRoomCAS(t *testing.T, s store.Store) {
	ctx := t.Context()
	orig := NewRoom("Cas-abcdefghijklmno")
	orig.AutoDeletionDate = nil
	require.NoError(t, s.InsertRoom(ctx, orig))

	r, err := s.GetRoom(ctx, orig.RoomID)
	require.NoError(t, err)
	require.Zero(t, r.Version)

	// Right version: every field is replaced, Version becomes expected+1.
	r.RoomName = "Renamed"
	r.AutoDeletionDate = ptr(int64(1_800_000_000_000))
	r.MarkedForDeletion = true
	r.Meeting = store.MeetingActive
	r.Preferences.ChatPreferences.Enabled = false
	r.Preferences.RecordingPreferences = events.RecordingPreferences{Enabled: false}
	r.ModeratorRoomURL = "new-mod-url"
	r.PublisherRoomURL = "new-pub-url"
	r.MarkApplied("update-1")
	require.NoError(t, s.UpdateRoom(ctx, r, 0))
	require.EqualValues(t, 1, r.Version, "UpdateRoom sets the new version on the room passed in")

	got, err := s.GetRoom(ctx, orig.RoomID)
	require.NoError(t, err)
	RequireRoomEqual(t, r, got)
	require.True(t, got.WasApplied("update-1"))
	require.True(t, got.WasApplied("create-"+orig.RoomID))

	// The date can be cleared again, and the stored version is what counts,
	// not r.Version.
	r.AutoDeletionDate = nil
	r.Version = 42
	require.NoError(t, s.UpdateRoom(ctx, r, 1))
	require.EqualValues(t, 2, r.Version)
	got, err = s.GetRoom(ctx, orig.RoomID)
	require.NoError(t, err)
	require.Nil(t, got.AutoDeletionDate)
	require.EqualValues(t, 2, got.Version)

	// Stale version: ErrConflict, nothing changes, r.Version is left alone.
	stale := *got
	stale.RoomName = "Lost update"
	for _, v := range []int64{0, 1, 3} {
		stale.Version = v
		err = s.UpdateRoom(ctx, &stale, v)
		require.ErrorIs(t, err, store.ErrConflict, "expected version %d", v)
		require.EqualValues(t, v, stale.Version, "a failed UpdateRoom changed r.Version")
	}
	after, err := s.GetRoom(ctx, orig.RoomID)
	require.NoError(t, err)
	RequireRoomEqual(t, got, after, "a conflicting update changed the room")

	// Deleted room: ErrNotFound, and no room comes back.
	require.NoError(t, s.DeleteRoom(ctx, orig.RoomID))
	err = s.UpdateRoom(ctx, after, 2)
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = s.GetRoom(ctx, orig.RoomID)
	require.ErrorIs(t, err, store.ErrNotFound)
}

func testUpdateRoomConcurrent(t *testing.T, s store.Store) {
	updateConcurrently(t, []store.Store{s}, "Concurrent-abcdefghijklmno")
}

// updateConcurrently: Concurrency goroutines, spread over stores, update
// one new room id with compare-and-set; no update is lost.
func updateConcurrently(t *testing.T, stores []store.Store, id string) {
	ctx := t.Context()
	const perWorker = 3
	const total = Concurrency * perWorker
	r := NewRoom(id)
	r.Applied = nil
	r.CreationDate = 0 // used as a counter below
	require.NoError(t, stores[0].InsertRoom(ctx, r))

	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for w := range Concurrency {
		s := stores[w%len(stores)]
		wg.Go(func() {
			for i := range perWorker {
				cmd := fmt.Sprintf("w%d-%d", w, i)
				if err := casRetry(ctx, s, r.RoomID, func(r *store.Room) {
					r.CreationDate++
					r.MarkApplied(cmd)
				}); err != nil {
					mu.Lock()
					errs = append(errs, fmt.Errorf("%s: %w", cmd, err))
					mu.Unlock()
					return
				}
			}
		})
	}
	wg.Wait()
	require.Empty(t, errs)

	got, err := stores[len(stores)-1].GetRoom(ctx, r.RoomID)
	require.NoError(t, err)
	require.EqualValues(t, total, got.Version, "every successful update bumps the version once")
	require.EqualValues(t, total, got.CreationDate, "an update was lost")
	require.Len(t, got.Applied, store.MaxApplied)
	seen := map[string]bool{}
	for _, id := range got.Applied {
		require.False(t, seen[id], "command %s applied twice", id)
		seen[id] = true
	}
}

// casRetry reads room id, applies change and writes it back with
// compare-and-set, retrying on ErrConflict, as a worker does.
func casRetry(ctx context.Context, s store.Store, id string, change func(*store.Room)) error {
	for range 1000 {
		r, err := s.GetRoom(ctx, id)
		if err != nil {
			return err
		}
		v := r.Version
		change(r)
		err = s.UpdateRoom(ctx, r, v)
		if errors.Is(err, store.ErrConflict) {
			continue
		}
		if err != nil {
			return err
		}
		if r.Version != v+1 {
			return fmt.Errorf("version after update %d, want %d", r.Version, v+1)
		}
		return nil
	}
	return errors.New("too many conflicts")
}

func testListRoomsPagination(t *testing.T, s store.Store) {
	ctx := t.Context()

	rooms, err := s.ListRooms(ctx, "", 3)
	require.NoError(t, err)
	require.Empty(t, rooms, "an empty store lists no rooms")

	var all []*store.Room
	var want []string
	for i := 1; i <= 7; i++ {
		r := NewRoom(fmt.Sprintf("List%d-abcdefghijklmno", i))
		all = append(all, r)
		want = append(want, r.RoomID)
	}
	insertRooms(t, s, all...)

	pages := pageAll(t, 3, func(after string) ([]store.Room, error) { return s.ListRooms(ctx, after, 3) })
	require.Equal(t, [][]string{want[0:3], want[3:6], want[6:7]}, pages)

	// Listed rooms are complete records.
	rooms, err = s.ListRooms(ctx, want[1], 1)
	require.NoError(t, err)
	require.Len(t, rooms, 1)
	RequireRoomEqual(t, all[2], &rooms[0])

	// A cursor between IDs and past the end.
	rooms, err = s.ListRooms(ctx, "List3", 100)
	require.NoError(t, err)
	require.Equal(t, want[2:], ids(rooms))
	rooms, err = s.ListRooms(ctx, "zzz", 3)
	require.NoError(t, err)
	require.Empty(t, rooms)
}

func testListRoomsStable(t *testing.T, s store.Store) {
	ctx := t.Context()
	var all []*store.Room
	for i := 1; i <= 7; i++ {
		all = append(all, NewRoom(fmt.Sprintf("Stable%d", i)))
	}
	insertRooms(t, s, all...)

	seen := map[string]int{}
	var order []string
	after := ""
	changes := []func(){
		func() {
			// Before the cursor, after the cursor, and a room not yet listed.
			require.NoError(t, s.InsertRoom(ctx, NewRoom("Stable0")))
			require.NoError(t, s.InsertRoom(ctx, NewRoom("Stable45")))
			require.NoError(t, s.DeleteRoom(ctx, "Stable5"))
		},
		func() {
			// A room already listed, and a new one at the end.
			require.NoError(t, s.DeleteRoom(ctx, "Stable2"))
			require.NoError(t, s.InsertRoom(ctx, NewRoom("Stable9")))
		},
	}
	for page := 0; ; page++ {
		rooms, err := s.ListRooms(ctx, after, 3)
		require.NoError(t, err)
		for _, r := range rooms {
			seen[r.RoomID]++
			order = append(order, r.RoomID)
		}
		if len(rooms) < 3 {
			break
		}
		after = rooms[len(rooms)-1].RoomID
		if page < len(changes) {
			changes[page]()
		}
		require.Less(t, page, 20, "pagination does not end")
	}

	require.True(t, slices.IsSorted(order), "rooms not listed in ascending order: %v", order)
	for id, n := range seen {
		require.Equal(t, 1, n, "room %s listed %d times", id, n)
	}
	for _, id := range []string{"Stable1", "Stable2", "Stable3", "Stable4", "Stable6", "Stable7"} {
		require.Contains(t, seen, id, "room %s existed throughout and was skipped", id)
	}
	require.NotContains(t, seen, "Stable5", "a room deleted before its page was listed")
	require.NotContains(t, seen, "Stable0", "a room inserted before the cursor was listed")
	require.Contains(t, seen, "Stable45", "a room inserted after the cursor was skipped")
	require.Contains(t, seen, "Stable9", "a room inserted after the cursor was skipped")
}

func testMarkedRooms(t *testing.T, s store.Store) {
	ctx := t.Context()
	room := func(id string, marked bool, meeting string) *store.Room {
		r := NewRoom(id)
		r.MarkedForDeletion = marked
		r.Meeting = meeting
		return r
	}
	rooms := []*store.Room{
		room("Mark1-marked", true, store.MeetingNone),
		room("Mark2-active", false, store.MeetingActive),
		room("Mark3-ended", false, store.MeetingEnded),
		room("Mark4-plain", false, store.MeetingNone),
		room("Mark5-both", true, store.MeetingActive),
		room("Mark6-marked-ended", true, store.MeetingEnded),
		room("Mark7-plain", false, store.MeetingNone),
		room("Mark8-active", false, store.MeetingActive),
	}
	insertRooms(t, s, rooms...)
	want := []string{"Mark1-marked", "Mark2-active", "Mark5-both", "Mark6-marked-ended", "Mark8-active"}

	got, err := s.MarkedRooms(ctx, "", 100)
	require.NoError(t, err)
	require.Equal(t, want, ids(got))
	RequireRoomEqual(t, rooms[0], &got[0], "marked rooms are complete records")

	pages := pageAll(t, 2, func(after string) ([]store.Room, error) { return s.MarkedRooms(ctx, after, 2) })
	require.Equal(t, [][]string{want[0:2], want[2:4], want[4:5]}, pages)

	// A meeting that ends takes an unmarked room out; marking puts one in.
	r, err := s.GetRoom(ctx, "Mark2-active")
	require.NoError(t, err)
	r.Meeting = store.MeetingEnded
	require.NoError(t, s.UpdateRoom(ctx, r, r.Version))
	r, err = s.GetRoom(ctx, "Mark4-plain")
	require.NoError(t, err)
	r.MarkedForDeletion = true
	require.NoError(t, s.UpdateRoom(ctx, r, r.Version))
	got, err = s.MarkedRooms(ctx, "", 100)
	require.NoError(t, err)
	require.Equal(t, []string{"Mark1-marked", "Mark4-plain", "Mark5-both", "Mark6-marked-ended", "Mark8-active"}, ids(got))
}

func testCountRooms(t *testing.T, s store.Store) {
	ctx := t.Context()
	n, err := s.CountRooms(ctx)
	require.NoError(t, err)
	require.Zero(t, n)

	var rooms []*store.Room
	for i := range 12 {
		rooms = append(rooms, NewRoom("Count"+strconv.Itoa(i)))
	}
	insertRooms(t, s, rooms...)
	n, err = s.CountRooms(ctx)
	require.NoError(t, err)
	require.EqualValues(t, 12, n)

	require.NoError(t, s.DeleteRoom(ctx, "Count3"))
	// Archived rooms and commands are not rooms.
	require.NoError(t, s.PutArchivedRoom(ctx, &store.ArchivedRoom{RoomID: "Count3"}))
	_, err = s.ClaimCommand(ctx, &store.Command{ID: "count-cmd", Type: "rooms.cmd.create"})
	require.NoError(t, err)
	n, err = s.CountRooms(ctx)
	require.NoError(t, err)
	require.EqualValues(t, 11, n)
}

func testClaimCommand(t *testing.T, s store.Store) {
	ctx := t.Context()
	start := time.Now()

	first := &store.Command{
		ID:   "create-1",
		Type: "rooms.cmd.create",
		Plan: json.RawMessage(`{"roomId": "Room-abcdefghijklmno", "secrets": ["a", "b"]}`),
	}
	got, err := s.ClaimCommand(ctx, first)
	require.NoError(t, err)
	require.NotNil(t, got)
	require.Equal(t, "create-1", got.ID)
	require.Equal(t, "rooms.cmd.create", got.Type)
	require.Equal(t, store.StatusPending, got.Status)
	require.JSONEq(t, string(first.Plan), string(got.Plan))

	stored, err := s.GetCommand(ctx, "create-1")
	require.NoError(t, err)
	require.Equal(t, "create-1", stored.ID)
	require.Equal(t, "rooms.cmd.create", stored.Type)
	require.Equal(t, store.StatusPending, stored.Status)
	require.JSONEq(t, string(first.Plan), string(stored.Plan))
	require.Empty(t, stored.Result)
	require.Empty(t, stored.Outbox)
	require.WithinRange(t, stored.CreatedAt, start.Add(-time.Second), time.Now().Add(time.Second), "CreatedAt is the claim time")
	require.False(t, stored.UpdatedAt.IsZero())

	// A second claim (another delivery) gets the first record, plan included.
	second := &store.Command{
		ID:   "create-1",
		Type: "rooms.cmd.create",
		Plan: json.RawMessage(`{"roomId": "Room-zzzzzzzzzzzzzzz"}`),
	}
	existing, err := s.ClaimCommand(ctx, second)
	require.ErrorIs(t, err, store.ErrDuplicate)
	require.NotNil(t, existing, "a duplicate claim returns the existing record")
	require.Equal(t, "create-1", existing.ID)
	require.Equal(t, store.StatusPending, existing.Status)
	require.JSONEq(t, string(first.Plan), string(existing.Plan))
	require.WithinDuration(t, stored.CreatedAt, existing.CreatedAt, timeTolerance)

	// A claim without a plan stores none.
	_, err = s.ClaimCommand(ctx, &store.Command{ID: "sweep-1764000000", Type: "rooms.cmd.sweep"})
	require.NoError(t, err)
	stored, err = s.GetCommand(ctx, "sweep-1764000000")
	require.NoError(t, err)
	require.Empty(t, stored.Plan)
	require.Equal(t, "rooms.cmd.sweep", stored.Type)

	// A done record is returned as done, with its result.
	_, err = s.CompleteCommand(ctx, "sweep-1764000000", store.Completion{Status: store.StatusDone, Result: json.RawMessage(`{"ok":true}`)})
	require.NoError(t, err)
	existing, err = s.ClaimCommand(ctx, &store.Command{ID: "sweep-1764000000", Type: "rooms.cmd.sweep"})
	require.ErrorIs(t, err, store.ErrDuplicate)
	require.Equal(t, store.StatusDone, existing.Status)
	require.JSONEq(t, `{"ok":true}`, string(existing.Result))
}

func testClaimCommandConcurrent(t *testing.T, s store.Store) {
	claimConcurrently(t, []store.Store{s}, "race-1")
}

// claimConcurrently: Concurrency goroutines, spread over stores, claim
// command id, each with its own plan; exactly one wins and every one gets
// the winner's record.
func claimConcurrently(t *testing.T, stores []store.Store, id string) {
	ctx := t.Context()
	type outcome struct {
		cmd *store.Command
		err error
	}
	results := make([]outcome, Concurrency)
	var wg sync.WaitGroup
	for i := range Concurrency {
		s := stores[i%len(stores)]
		wg.Go(func() {
			c, err := s.ClaimCommand(ctx, &store.Command{
				ID:   id,
				Type: "rooms.cmd.create",
				Plan: json.RawMessage(fmt.Sprintf(`{"claimer":%d}`, i)),
			})
			results[i] = outcome{c, err}
		})
	}
	wg.Wait()

	winners := 0
	var winnerPlan string
	for i, o := range results {
		if o.err == nil {
			winners++
			winnerPlan = fmt.Sprintf(`{"claimer":%d}`, i)
			continue
		}
		require.ErrorIs(t, o.err, store.ErrDuplicate, "claimer %d", i)
	}
	require.Equal(t, 1, winners, "exactly one claim must win")
	for i, o := range results {
		require.NotNil(t, o.cmd, "claimer %d", i)
		require.JSONEq(t, winnerPlan, string(o.cmd.Plan), "claimer %d sees another plan than the winner's", i)
	}
	for _, s := range stores {
		stored, err := s.GetCommand(ctx, id)
		require.NoError(t, err)
		require.JSONEq(t, winnerPlan, string(stored.Plan))
	}
}

func testSetCommandPlan(t *testing.T, s store.Store) {
	ctx := t.Context()
	_, err := s.ClaimCommand(ctx, &store.Command{ID: "delete-1", Type: "rooms.cmd.delete"})
	require.NoError(t, err)

	p1 := json.RawMessage(`{"delete": ["a", "b"], "mark": ["c"]}`)
	got, err := s.SetCommandPlan(ctx, "delete-1", p1)
	require.NoError(t, err)
	require.JSONEq(t, string(p1), string(got))

	got, err = s.SetCommandPlan(ctx, "delete-1", json.RawMessage(`{"delete": [], "mark": ["a"]}`))
	require.NoError(t, err)
	require.JSONEq(t, string(p1), string(got), "the first plan stored wins")

	c, err := s.GetCommand(ctx, "delete-1")
	require.NoError(t, err)
	require.JSONEq(t, string(p1), string(c.Plan))
	require.Equal(t, store.StatusPending, c.Status)
	require.Equal(t, "rooms.cmd.delete", c.Type)

	// A plan given at claim time is the first plan.
	p0 := json.RawMessage(`{"roomId":"x"}`)
	_, err = s.ClaimCommand(ctx, &store.Command{ID: "create-2", Type: "rooms.cmd.create", Plan: p0})
	require.NoError(t, err)
	got, err = s.SetCommandPlan(ctx, "create-2", json.RawMessage(`{"roomId":"y"}`))
	require.NoError(t, err)
	require.JSONEq(t, string(p0), string(got))
}

func testSetCommandPlanConcurrent(t *testing.T, s store.Store) {
	planConcurrently(t, []store.Store{s}, "plan-race")
}

// planConcurrently: Concurrency goroutines, spread over stores, set the
// plan of pending record id; they all get the one plan stored.
func planConcurrently(t *testing.T, stores []store.Store, id string) {
	ctx := t.Context()
	_, err := stores[0].ClaimCommand(ctx, &store.Command{ID: id, Type: "rooms.cmd.delete"})
	require.NoError(t, err)

	plans := make([]json.RawMessage, Concurrency)
	errs := make([]error, Concurrency)
	var wg sync.WaitGroup
	for i := range Concurrency {
		s := stores[i%len(stores)]
		wg.Go(func() {
			plans[i], errs[i] = s.SetCommandPlan(ctx, id, json.RawMessage(fmt.Sprintf(`{"planner":%d}`, i)))
		})
	}
	wg.Wait()
	for i := range Concurrency {
		require.NoError(t, errs[i])
		require.JSONEq(t, string(plans[0]), string(plans[i]), "planners disagree on the plan")
	}
	for _, s := range stores {
		c, err := s.GetCommand(ctx, id)
		require.NoError(t, err)
		require.JSONEq(t, string(plans[0]), string(c.Plan))
	}
}

// testCompleteCommandDead: a record finished dead says so, keeps that
// status against a later completion, and a completion of another status is
// refused.
func testCompleteCommandDead(t *testing.T, s store.Store) {
	ctx := t.Context()
	_, err := s.ClaimCommand(ctx, &store.Command{ID: "dead-1", Type: "rooms.cmd.create"})
	require.NoError(t, err)
	_, err = s.CompleteCommand(ctx, "dead-1", store.Completion{Status: "bogus", Result: json.RawMessage(`{}`)})
	require.ErrorIs(t, err, store.ErrInvalid)
	dead := store.OutMsg{Subject: "rooms.dead.create", MsgID: "dead:dead-1", Headers: map[string]string{"Roomkeeper-Dead-Reason": "r"}, Data: []byte("x")}
	done, err := s.CompleteCommand(ctx, "dead-1", store.Completion{Status: store.StatusDead, Result: json.RawMessage(`{"ok":false}`), Outbox: []store.OutMsg{dead}})
	require.NoError(t, err)
	require.Equal(t, store.StatusDead, done.Status)
	require.True(t, done.Finished())
	again, err := s.CompleteCommand(ctx, "dead-1", store.Completion{Status: store.StatusDone, Result: json.RawMessage(`{"ok":true}`)})
	require.NoError(t, err)
	require.Equal(t, store.StatusDead, again.Status, "the first completion's status stays")
	require.JSONEq(t, `{"ok":false}`, string(again.Result))
	got, err := s.GetCommand(ctx, "dead-1")
	require.NoError(t, err)
	require.Equal(t, store.StatusDead, got.Status)
	require.Len(t, got.Outbox, 1)
	require.Equal(t, "r", got.Outbox[0].Headers["Roomkeeper-Dead-Reason"])
}

// testMarkPublished: a finished record is unpublished until marked; marking
// twice or marking a missing record is no error.
func testMarkPublished(t *testing.T, s store.Store) {
	ctx := t.Context()
	_, err := s.ClaimCommand(ctx, &store.Command{ID: "pub-1", Type: "rooms.cmd.create"})
	require.NoError(t, err)
	done, err := s.CompleteCommand(ctx, "pub-1", store.Completion{Status: store.StatusDone, Result: json.RawMessage(`{"ok":true}`)})
	require.NoError(t, err)
	require.False(t, done.Published)
	got, err := s.GetCommand(ctx, "pub-1")
	require.NoError(t, err)
	require.False(t, got.Published, "not published until marked")
	require.NoError(t, s.MarkPublished(ctx, "pub-1"))
	require.NoError(t, s.MarkPublished(ctx, "pub-1"))
	got, err = s.GetCommand(ctx, "pub-1")
	require.NoError(t, err)
	require.True(t, got.Published)
	require.Equal(t, store.StatusDone, got.Status)
	again, err := s.CompleteCommand(ctx, "pub-1", store.Completion{Status: store.StatusDone, Result: json.RawMessage(`{}`)})
	require.NoError(t, err)
	require.True(t, again.Published, "a repeated completion returns the stored record")
	require.NoError(t, s.MarkPublished(ctx, "no-such-record"))
}

// testPruneCommandsDead: dead records are pruned like done ones; pending
// ones are not.
func testPruneCommandsDead(t *testing.T, s store.Store) {
	ctx := t.Context()
	for _, id := range []string{"pd-done", "pd-dead", "pd-pending"} {
		_, err := s.ClaimCommand(ctx, &store.Command{ID: id, Type: "rooms.cmd.create"})
		require.NoError(t, err)
	}
	_, err := s.CompleteCommand(ctx, "pd-done", store.Completion{Status: store.StatusDone, Result: json.RawMessage(`{}`)})
	require.NoError(t, err)
	_, err = s.CompleteCommand(ctx, "pd-dead", store.Completion{Status: store.StatusDead, Result: json.RawMessage(`{}`)})
	require.NoError(t, err)
	n, err := s.PruneCommands(ctx, time.Now().Add(time.Hour), 10)
	require.NoError(t, err)
	require.EqualValues(t, 2, n)
	for id, want := range map[string]error{"pd-done": store.ErrNotFound, "pd-dead": store.ErrNotFound, "pd-pending": nil} {
		_, err := s.GetCommand(ctx, id)
		if want == nil {
			require.NoError(t, err, id)
		} else {
			require.ErrorIs(t, err, want, id)
		}
	}
}

func testCompleteCommand(t *testing.T, s store.Store) {
	ctx := t.Context()
	plan := json.RawMessage(`{"roomId":"Room-abcdefghijklmno"}`)
	claimed, err := s.ClaimCommand(ctx, &store.Command{ID: "create-3", Type: "rooms.cmd.create", Plan: plan})
	require.NoError(t, err)

	result := json.RawMessage(`{"commandId":"create-3","type":"rooms.cmd.create","ok":true,"data":{"roomId":"Room-abcdefghijklmno","n":1.5,"nested":{"a":[1,2,null]}}}`)
	outbox := []store.OutMsg{
		{Subject: "rooms.results.create-3", MsgID: "result:create-3", Data: result},
		{
			Subject: "rooms.events.created",
			MsgID:   "create-3:created:Room-abcdefghijklmno",
			Headers: map[string]string{"Content-Type": "application/cloudevents+json", "X-Extra": "1"},
			Data:    json.RawMessage(`{"specversion":"1.0","id":"create-3:created:Room-abcdefghijklmno","data":{}}`),
		},
	}
	time.Sleep(5 * time.Millisecond) // so UpdatedAt can move past CreatedAt
	done, err := s.CompleteCommand(ctx, "create-3", store.Completion{Status: store.StatusDone, Result: result, Outbox: outbox})
	require.NoError(t, err)
	requireDone(t, done, result, outbox)
	require.JSONEq(t, string(plan), string(done.Plan), "completing keeps the plan")

	stored, err := s.GetCommand(ctx, "create-3")
	require.NoError(t, err)
	requireDone(t, stored, result, outbox)
	require.Equal(t, "rooms.cmd.create", stored.Type)
	require.JSONEq(t, string(plan), string(stored.Plan))
	require.WithinDuration(t, claimed.CreatedAt, stored.CreatedAt, timeTolerance, "completing keeps CreatedAt")
	require.False(t, stored.UpdatedAt.Before(stored.CreatedAt), "UpdatedAt before CreatedAt")

	// A second completion (a redelivery) keeps and returns the first result.
	again, err := s.CompleteCommand(ctx, "create-3", store.Completion{Status: store.StatusDone, Result: json.RawMessage(`{"commandId":"create-3","ok":false}`), Outbox: []store.OutMsg{{Subject: "rooms.results.create-3", MsgID: "other", Data: json.RawMessage(`{}`)}}})
	require.NoError(t, err)
	requireDone(t, again, result, outbox)
	stored, err = s.GetCommand(ctx, "create-3")
	require.NoError(t, err)
	requireDone(t, stored, result, outbox)

	// SetCommandPlan on a done record does not replace its plan.
	got, err := s.SetCommandPlan(ctx, "create-3", json.RawMessage(`{"other":true}`))
	require.NoError(t, err)
	require.JSONEq(t, string(plan), string(got))

	// A command with no outbox.
	_, err = s.ClaimCommand(ctx, &store.Command{ID: "bad-1", Type: "rooms.cmd.unknown"})
	require.NoError(t, err)
	done, err = s.CompleteCommand(ctx, "bad-1", store.Completion{Status: store.StatusDone, Result: json.RawMessage(`{"ok":false,"error":{"code":"invalid_argument"}}`)})
	require.NoError(t, err)
	require.Equal(t, store.StatusDone, done.Status)
	require.Empty(t, done.Outbox)
	require.Empty(t, done.Plan)
}

// testCompleteCommandWrites: the writes given to a completion are applied
// with it, each idempotently.
func testCompleteCommandWrites(t *testing.T, s store.Store) {
	ctx := t.Context()
	old, keep := NewRoom("Old-aaaaaaaaaaaaaaa"), NewRoom("Keep-aaaaaaaaaaaaaa")
	insertRooms(t, s, old, keep)
	_, err := s.ClaimCommand(ctx, &store.Command{ID: "cw-1", Type: "rooms.cmd.create"})
	require.NoError(t, err)

	fresh := NewRoom("New-aaaaaaaaaaaaaaa")
	clash := NewRoom(keep.RoomID)
	clash.RoomName = "not the stored one"
	arch := &store.ArchivedRoom{RoomID: fresh.RoomID, RoomName: fresh.RoomName, Preferences: fresh.Preferences, ModeratorSecret: "m"}
	result := json.RawMessage(`{"ok":true}`)
	done, err := s.CompleteCommand(ctx, "cw-1", store.Completion{Status: store.StatusDone, Result: result, Writes: []store.Write{
		store.InsertRoom(fresh),
		store.PutArchived(arch),
		store.DeleteRoom(old.RoomID),
		store.InsertRoom(clash),                 // exists: left as is, no error
		store.DeleteRoom("Gone-aaaaaaaaaaaaaa"), // missing: no error
	}})
	require.NoError(t, err)
	require.Equal(t, store.StatusDone, done.Status)

	got, err := s.GetRoom(ctx, fresh.RoomID)
	require.NoError(t, err, "the inserted room is there")
	RequireRoomEqual(t, fresh, got)
	gotArch, err := s.GetArchivedRoom(ctx, fresh.RoomID)
	require.NoError(t, err, "the archive is there")
	require.Equal(t, "m", gotArch.ModeratorSecret)
	_, err = s.GetRoom(ctx, old.RoomID)
	require.ErrorIs(t, err, store.ErrNotFound, "the deleted room is gone")
	got, err = s.GetRoom(ctx, keep.RoomID)
	require.NoError(t, err)
	RequireRoomEqual(t, keep, got, "an insert of an existing ID changes nothing")
}

// testCompleteCommandWritesConcurrent: many completions with writes at
// once (a SQLite group commit of them) each apply their own.
func testCompleteCommandWritesConcurrent(t *testing.T, s store.Store) {
	ctx := t.Context()
	const n = 40
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			id := fmt.Sprintf("cwc-%d", i)
			if _, err := s.ClaimCommand(ctx, &store.Command{ID: id, Type: "rooms.cmd.create"}); err != nil {
				errs <- err
				return
			}
			_, err := s.CompleteCommand(ctx, id, store.Completion{Status: store.StatusDone, Result: json.RawMessage(`{"ok":true}`), Writes: []store.Write{store.InsertRoom(NewRoom(fmt.Sprintf("Conc%02d-aaaaaaaaaaaaaaa", i)))}})
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	n64, err := s.CountRooms(ctx)
	require.NoError(t, err)
	require.EqualValues(t, n, n64)
	for i := range n {
		c, err := s.GetCommand(ctx, fmt.Sprintf("cwc-%d", i))
		require.NoError(t, err)
		require.Equal(t, store.StatusDone, c.Status)
	}
}

func requireDone(t *testing.T, c *store.Command, result json.RawMessage, outbox []store.OutMsg) {
	t.Helper()
	require.NotNil(t, c)
	require.Equal(t, store.StatusDone, c.Status)
	require.JSONEq(t, string(result), string(c.Result))
	require.Len(t, c.Outbox, len(outbox))
	for i := range outbox {
		require.Equal(t, outbox[i].Subject, c.Outbox[i].Subject, "outbox[%d]", i)
		require.Equal(t, outbox[i].MsgID, c.Outbox[i].MsgID, "outbox[%d]", i)
		if len(outbox[i].Headers) == 0 {
			require.Empty(t, c.Outbox[i].Headers, "outbox[%d]", i)
		} else {
			require.Equal(t, outbox[i].Headers, c.Outbox[i].Headers, "outbox[%d]", i)
		}
		require.JSONEq(t, string(outbox[i].Data), string(c.Outbox[i].Data), "outbox[%d]", i)
	}
}

// testCompleteCommandOutboxBytes: a dead letter carries the original message
// body, which need not be JSON; its bytes come back unchanged.
func testCompleteCommandOutboxBytes(t *testing.T, s store.Store) {
	ctx := t.Context()
	_, err := s.ClaimCommand(ctx, &store.Command{ID: "garbage-1", Type: "rooms.cmd.create"})
	require.NoError(t, err)
	body := []byte("{not json\x00\xff")
	outbox := []store.OutMsg{
		{Subject: "rooms.results.garbage-1", MsgID: "result:garbage-1", Data: json.RawMessage(`{"ok":false}`)},
		{Subject: "rooms.dead.create", MsgID: "dead:garbage-1", Headers: map[string]string{"Rk-Error": "invalid_argument"}, Data: body},
	}
	_, err = s.CompleteCommand(ctx, "garbage-1", store.Completion{Status: store.StatusDone, Result: json.RawMessage(`{"ok":false}`), Outbox: outbox})
	require.NoError(t, err)
	c, err := s.GetCommand(ctx, "garbage-1")
	require.NoError(t, err)
	require.Len(t, c.Outbox, 2)
	require.JSONEq(t, `{"ok":false}`, string(c.Outbox[0].Data))
	require.Equal(t, body, []byte(c.Outbox[1].Data))
	require.Equal(t, outbox[1].Headers, c.Outbox[1].Headers)

	// Valid JSON that is indented or holds characters JSON encoders escape
	// comes back unchanged too: a dead letter is the original body.
	for i, raw := range []string{"{\n  \"roomName\": \"a\"\n}", `{"roomName":"<b>&</b>"}`} {
		id := fmt.Sprintf("verbatim-%d", i)
		_, err := s.ClaimCommand(ctx, &store.Command{ID: id, Type: "rooms.cmd.create"})
		require.NoError(t, err)
		_, err = s.CompleteCommand(ctx, id, store.Completion{Status: store.StatusDone, Result: json.RawMessage(`{"ok":false}`), Outbox: []store.OutMsg{{Subject: "rooms.dead.create", MsgID: "dead:" + id, Data: []byte(raw)}}})
		require.NoError(t, err)
		c, err := s.GetCommand(ctx, id)
		require.NoError(t, err)
		require.Equal(t, raw, string(c.Outbox[0].Data))
	}
}

// testPruneCommands: only done records strictly older than the cutoff go,
// oldest first, at most limit per call; pending records stay however old.
// CompleteCommand stamps UpdatedAt with the current time, so the records
// are told apart by completing them at two moments and using their own
// UpdatedAt (and times in the future) as cutoffs.
func testPruneCommands(t *testing.T, s store.Store) {
	ctx := t.Context()
	longAgo := time.Now().Add(-30 * 24 * time.Hour)
	claim := func(id string, at time.Time) {
		t.Helper()
		_, err := s.ClaimCommand(ctx, &store.Command{ID: id, Type: "rooms.cmd.create", CreatedAt: at, UpdatedAt: at})
		require.NoError(t, err)
	}
	complete := func(id string) *store.Command {
		t.Helper()
		claim(id, time.Time{})
		c, err := s.CompleteCommand(ctx, id, store.Completion{Status: store.StatusDone, Result: json.RawMessage(`{"ok":true}`), Outbox: []store.OutMsg{{Subject: "rooms.results." + id, MsgID: "result:" + id, Data: json.RawMessage(`{"ok":true}`)}}})
		require.NoError(t, err)
		return c
	}
	exists := func(id string) bool {
		t.Helper()
		_, err := s.GetCommand(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return false
		}
		require.NoError(t, err)
		return true
	}
	prune := func(before time.Time, limit int) int64 {
		t.Helper()
		n, err := s.PruneCommands(ctx, before, limit)
		require.NoError(t, err)
		return n
	}

	// Pending records, one claimed with a date long past.
	claim("pending-old", longAgo)
	claim("pending-new", time.Time{})
	// Three records done first, two later.
	var early []string
	for i := range 3 {
		id := fmt.Sprintf("early-%d", i)
		complete(id)
		early = append(early, id)
	}
	time.Sleep(20 * time.Millisecond)
	late := []string{"late-0", "late-1"}
	firstLate := complete(late[0])
	complete(late[1])

	require.Zero(t, prune(longAgo.Add(time.Hour), 100), "nothing done that long ago; pending-old is pending")
	require.Zero(t, prune(time.Now().Add(time.Hour), 0), "limit 0 prunes nothing")

	// Cutting at the first late record's UpdatedAt prunes the early ones
	// (strictly before), in calls of at most limit.
	require.EqualValues(t, 2, prune(firstLate.UpdatedAt, 2))
	require.EqualValues(t, 1, prune(firstLate.UpdatedAt, 2))
	require.Zero(t, prune(firstLate.UpdatedAt, 2), "pruning again finds nothing")
	for _, id := range early {
		require.False(t, exists(id), "%s was done before the cutoff", id)
	}
	for _, id := range append(late, "pending-old", "pending-new") {
		require.True(t, exists(id), "%s is recent or pending", id)
	}

	// A cutoff in the future takes every done record and only those.
	require.EqualValues(t, 2, prune(time.Now().Add(time.Hour), 100))
	require.Zero(t, prune(time.Now().Add(time.Hour), 100))
	for _, id := range late {
		require.False(t, exists(id), id)
	}
	old, err := s.GetCommand(ctx, "pending-old")
	require.NoError(t, err)
	require.Equal(t, store.StatusPending, old.Status)
	require.True(t, exists("pending-new"))

	// A pruned ID is free again: a new claim starts a new record.
	again, err := s.ClaimCommand(ctx, &store.Command{ID: early[0], Type: "rooms.cmd.create"})
	require.NoError(t, err, "a pruned command ID is claimed afresh")
	require.Equal(t, store.StatusPending, again.Status)
	require.Empty(t, again.Result)
}

func testArchivedRoom(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := &store.ArchivedRoom{
		RoomID:   "Arch-abcdefghijklmno",
		RoomName: "Arch",
		Preferences: events.Preferences{
			ChatPreferences:      events.ChatPreferences{Enabled: true},
			RecordingPreferences: events.RecordingPreferences{Enabled: true, AllowAccessTo: events.AccessAdmin},
		},
		ModeratorRoomURL: "mod-url",
		PublisherRoomURL: "pub-url",
		ModeratorSecret:  "mod-secret",
		PublisherSecret:  "pub-secret",
	}
	require.NoError(t, s.PutArchivedRoom(ctx, a))
	got, err := s.GetArchivedRoom(ctx, a.RoomID)
	require.NoError(t, err)
	require.Equal(t, a, got)

	// A second put replaces the record.
	b := *a
	b.RoomName = "Arch renamed"
	b.Preferences = events.DefaultPreferences()
	b.ModeratorSecret = "rotated"
	require.NoError(t, s.PutArchivedRoom(ctx, &b))
	got, err = s.GetArchivedRoom(ctx, a.RoomID)
	require.NoError(t, err)
	require.Equal(t, &b, got)

	// Archived metadata outlives the room and is not a room.
	_, err = s.GetRoom(ctx, a.RoomID)
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = s.GetArchivedRoom(ctx, "Other")
	require.ErrorIs(t, err, store.ErrNotFound)
}

func testCanceledContext(t *testing.T, s store.Store) {
	require.NoError(t, s.InsertRoom(t.Context(), NewRoom("Ctx")))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := s.GetRoom(ctx, "Ctx")
	require.Error(t, err, "a canceled context fails the call")
	require.NotErrorIs(t, err, store.ErrNotFound)
	err = s.InsertRoom(ctx, NewRoom("Ctx2"))
	require.Error(t, err)
	require.NotErrorIs(t, err, store.ErrDuplicate)
}
