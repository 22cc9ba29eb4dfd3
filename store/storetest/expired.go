package storetest

import (
	"cmp"
	"fmt"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/roomkeeper/roomkeeper/store"
)

// The subtests of ExpiredRooms: which rooms it finds, in which order, and
// that paging with the ExpiryKey of each page's last room finds every
// expired, unmarked room exactly once, as the sweep relies on.

// expiryNow is the "now" of the ExpiredRooms subtests (epoch ms).
const expiryNow = int64(1_800_000_000_000)

// expiryRoom returns a room with the given date (nil: none), marking and
// meeting status.
func expiryRoom(id string, date *int64, marked bool, meeting string) *store.Room {
	r := NewRoom(id)
	r.AutoDeletionDate = date
	r.MarkedForDeletion = marked
	r.Meeting = meeting
	return r
}

// pageExpired pages through ExpiredRooms(expiryNow) with pages of size limit,
// starting after start, and returns every page's IDs, checking that each
// page is at most limit long, in ascending (date, ID) order and after its
// cursor.
func pageExpired(t *testing.T, s store.Store, start store.ExpiryKey, limit int) [][]string {
	t.Helper()
	const now = expiryNow
	var pages [][]string
	after := start
	for range 100 {
		rooms, err := s.ExpiredRooms(t.Context(), now, after, limit)
		require.NoError(t, err)
		require.LessOrEqual(t, len(rooms), limit)
		keys := make([]store.ExpiryKey, 0, len(rooms)+1)
		if after.RoomID != "" {
			keys = append(keys, after)
		}
		for _, r := range rooms {
			require.NotNil(t, r.AutoDeletionDate, "room %s has no date", r.RoomID)
			require.LessOrEqual(t, *r.AutoDeletionDate, now, "room %s expires after now", r.RoomID)
			require.False(t, r.MarkedForDeletion, "room %s is marked", r.RoomID)
			keys = append(keys, r.ExpiryKey())
		}
		for i := 1; i < len(keys); i++ {
			require.Negative(t, compareExpiry(keys[i-1], keys[i]),
				"page of limit %d after %v not strictly after its cursor, in (date, ID) order: %v", limit, after, keys)
		}
		pages = append(pages, ids(rooms))
		if len(rooms) < limit {
			return pages
		}
		after = rooms[len(rooms)-1].ExpiryKey()
	}
	t.Fatal("pagination does not end")
	return nil
}

func compareExpiry(a, b store.ExpiryKey) int {
	return cmp.Or(cmp.Compare(a.Date, b.Date), cmp.Compare(a.RoomID, b.RoomID))
}

func testExpiredRooms(t *testing.T, s store.Store) {
	ctx := t.Context()
	const now = expiryNow
	rooms := []*store.Room{
		expiryRoom("Exp01-past", ptr(now-86_400_000), false, store.MeetingNone),
		expiryRoom("Exp02-now", ptr(now), false, store.MeetingNone),
		expiryRoom("Exp03-future", ptr(now+1), false, store.MeetingNone),
		expiryRoom("Exp04-nodate", nil, false, store.MeetingNone),
		expiryRoom("Exp05-marked", ptr(now-5), true, store.MeetingActive),
		expiryRoom("Exp06-active", ptr(now-10), false, store.MeetingActive),
		expiryRoom("Exp07-ended", ptr(now-1), false, store.MeetingEnded),
		expiryRoom("Exp08-nodate-marked", nil, true, store.MeetingNone),
		expiryRoom("Exp09-one", ptr(int64(1)), false, store.MeetingNone),
		expiryRoom("Exp10-farfuture", ptr(now+86_400_000), false, store.MeetingNone),
		expiryRoom("Exp11-past", ptr(now-2), false, store.MeetingNone),
		expiryRoom("Exp12-negative", ptr(int64(-5)), false, store.MeetingNone),
		expiryRoom("Exp13-zero", ptr(int64(0)), false, store.MeetingNone),
	}
	insertRooms(t, s, rooms...)
	// Oldest date first.
	want := []string{"Exp12-negative", "Exp13-zero", "Exp09-one", "Exp01-past", "Exp06-active", "Exp11-past", "Exp07-ended", "Exp02-now"}

	got, err := s.ExpiredRooms(ctx, now, store.ExpiryKey{}, 100)
	require.NoError(t, err)
	require.Equal(t, want, ids(got), "the zero key starts before every room, dates in ascending order")
	RequireRoomEqual(t, rooms[11], &got[0], "expired rooms are complete records")

	require.Equal(t, [][]string{want[0:4], want[4:8], {}}, pageExpired(t, s, store.ExpiryKey{}, 4))
	require.Equal(t, [][]string{want[0:3], want[3:6], want[6:8]}, pageExpired(t, s, store.ExpiryKey{}, 3))

	// Earlier "now": fewer rooms, and a cursor past now finds none.
	got, err = s.ExpiredRooms(ctx, now-3, store.ExpiryKey{}, 100)
	require.NoError(t, err)
	require.Equal(t, want[:5], ids(got))
	got, err = s.ExpiredRooms(ctx, now-3, store.ExpiryKey{Date: now - 1, RoomID: "A"}, 100)
	require.NoError(t, err)
	require.Empty(t, got)

	// A room marked for deletion drops out; a date cleared drops out.
	r, err := s.GetRoom(ctx, "Exp01-past")
	require.NoError(t, err)
	r.MarkedForDeletion = true
	require.NoError(t, s.UpdateRoom(ctx, r, r.Version))
	r, err = s.GetRoom(ctx, "Exp02-now")
	require.NoError(t, err)
	r.AutoDeletionDate = nil
	require.NoError(t, s.UpdateRoom(ctx, r, r.Version))
	got, err = s.ExpiredRooms(ctx, now, store.ExpiryKey{}, 100)
	require.NoError(t, err)
	require.Equal(t, []string{"Exp12-negative", "Exp13-zero", "Exp09-one", "Exp06-active", "Exp11-past", "Exp07-ended"}, ids(got))
}

// testExpiredRoomsPaging: rooms sharing a date straddle page boundaries, and
// every page size finds every expired room exactly once, in (date, ID)
// order; a cursor needs no room of its own (the key is compared by value).
func testExpiredRoomsPaging(t *testing.T, s store.Store) {
	ctx := t.Context()
	const now = expiryNow
	dates := []int64{now - 3_000, now - 2_000, now - 2_000 + 1, now - 1_000, now}
	var rooms []*store.Room
	var want []store.ExpiryKey
	// 22 expired rooms over 5 dates (4 or 5 per date), IDs interleaved so
	// that ID order and date order disagree.
	for i := range 22 {
		id := fmt.Sprintf("Page%02d-%c", i, 'a'+rune(i%5))
		d := dates[(i*3)%len(dates)]
		rooms = append(rooms, expiryRoom(id, &d, false, store.MeetingNone))
		want = append(want, store.ExpiryKey{Date: d, RoomID: id})
	}
	// Others, among them at the same dates: marked, or not yet expired.
	rooms = append(rooms,
		expiryRoom("Page-marked-a", &dates[1], true, store.MeetingNone),
		expiryRoom("Page-marked-b", &dates[4], true, store.MeetingActive),
		expiryRoom("Page-future", ptr(now+1), false, store.MeetingNone),
		expiryRoom("Page-nodate", nil, false, store.MeetingNone),
	)
	insertRooms(t, s, rooms...)
	slices.SortFunc(want, compareExpiry)
	wantIDs := make([]string, len(want))
	for i, k := range want {
		wantIDs[i] = k.RoomID
	}

	for _, limit := range []int{1, 2, 3, 4, 5, 7, 21, 22, 23, 100} {
		t.Run(fmt.Sprintf("limit=%d", limit), func(t *testing.T) {
			pages := pageExpired(t, s, store.ExpiryKey{}, limit)
			require.Equal(t, wantIDs, slices.Concat(pages...), "pages of %d", limit)
			require.Len(t, pages, len(want)/limit+1, "pages of %d", limit)
		})
	}

	// Starting after any key, room or not, gives what follows it.
	for _, start := range []store.ExpiryKey{
		want[7],                            // a room
		{Date: want[7].Date, RoomID: "Pa"}, // before every room of its date
		{Date: want[7].Date, RoomID: "Q"},  // after every room of its date
		{Date: dates[0] + 1, RoomID: "A"},  // a date no room has
		{Date: now - 10_000, RoomID: "Z"},  // before every date
		{Date: now, RoomID: "Q"},           // after every room
	} {
		var rest []string
		for _, k := range want {
			if compareExpiry(start, k) < 0 {
				rest = append(rest, k.RoomID)
			}
		}
		got, err := s.ExpiredRooms(ctx, now, start, 100)
		require.NoError(t, err)
		require.Equal(t, rest, nilIfEmpty(ids(got)), "after %v", start)
		if len(rest) > 3 {
			pages := pageExpired(t, s, start, 3)
			require.Equal(t, rest, slices.Concat(pages...), "after %v, pages of 3", start)
		}
	}
}

// testExpiredRoomsPagingUnderChanges: between the pages of a pass, rooms are
// marked, deleted, inserted and rescheduled, as workers do while a sweep
// reads. Every room expired and unmarked throughout is found exactly once;
// a change ahead of the cursor shows in the pages that follow, one behind
// it moves nothing.
func testExpiredRoomsPagingUnderChanges(t *testing.T, s store.Store) {
	ctx := t.Context()
	const now = expiryNow
	var rooms []*store.Room
	for i := range 12 {
		d := now - int64(12-i)*1_000 // Chg00 oldest ... Chg11 newest
		rooms = append(rooms, expiryRoom(fmt.Sprintf("Chg%02d", i), &d, false, store.MeetingNone))
	}
	insertRooms(t, s, rooms...)
	update := func(id string, change func(r *store.Room)) {
		t.Helper()
		r, err := s.GetRoom(ctx, id)
		require.NoError(t, err)
		change(r)
		require.NoError(t, s.UpdateRoom(ctx, r, r.Version))
	}
	changes := []func(){
		// After page 1 (Chg00-02): mark one ahead; delete one behind.
		func() {
			update("Chg05", func(r *store.Room) { r.MarkedForDeletion = true })
			require.NoError(t, s.DeleteRoom(ctx, "Chg01"))
		},
		// After page 2: a new room expired later than the cursor, one
		// earlier (found by the next pass), a room ahead deleted.
		func() {
			insertRooms(t, s,
				expiryRoom("Chg-new-ahead", ptr(now-1_500), false, store.MeetingNone),
				expiryRoom("Chg-new-behind", ptr(now-20_000), false, store.MeetingNone))
			require.NoError(t, s.DeleteRoom(ctx, "Chg09"))
		},
		// After page 3: a room ahead is put off past now; one behind is
		// renamed.
		func() {
			update("Chg11", func(r *store.Room) { r.AutoDeletionDate = ptr(now + 1) })
			update("Chg02", func(r *store.Room) { r.RoomName = "renamed" })
		},
	}
	seen := map[string]int{}
	after := store.ExpiryKey{}
	for page := 0; ; page++ {
		got, err := s.ExpiredRooms(ctx, now, after, 3)
		require.NoError(t, err)
		for _, r := range got {
			seen[r.RoomID]++
		}
		if len(got) < 3 {
			break
		}
		after = got[len(got)-1].ExpiryKey()
		if page < len(changes) {
			changes[page]()
		}
		require.Less(t, page, 20, "pagination does not end")
	}
	for id, n := range seen {
		require.Equal(t, 1, n, "room %s found %d times", id, n)
	}
	for _, id := range []string{"Chg00", "Chg01", "Chg02", "Chg03", "Chg04", "Chg06", "Chg07", "Chg08", "Chg10", "Chg-new-ahead"} {
		require.Contains(t, seen, id, "room %s expired and unmarked when its page was read, and skipped", id)
	}
	for _, id := range []string{"Chg05", "Chg09", "Chg11", "Chg-new-behind"} {
		require.NotContains(t, seen, id, "room %s was not due when its page was read", id)
	}

	// The next pass starts again at the oldest: it finds the room inserted
	// behind the cursor.
	pages := pageExpired(t, s, store.ExpiryKey{}, 100)
	require.Equal(t, [][]string{{"Chg-new-behind", "Chg00", "Chg02", "Chg03", "Chg04", "Chg06", "Chg07", "Chg08", "Chg10", "Chg-new-ahead"}}, pages)
}

func nilIfEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}
