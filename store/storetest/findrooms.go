package storetest

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/store"
)

// sorts are every sort of FindRooms, ascending and descending.
var sorts = func() []store.RoomQuery {
	var out []store.RoomQuery
	for _, field := range []string{store.SortCreationDate, store.SortRoomName, store.SortAutoDeletionDate} {
		for _, desc := range []bool{false, true} {
			out = append(out, store.RoomQuery{Sort: field, Desc: desc})
		}
	}
	return out
}()

func sortName(q store.RoomQuery) string {
	if q.Desc {
		return q.Sort + "-desc"
	}
	return q.Sort + "-asc"
}

// compareRooms is the order of FindRooms by field, ascending: the field's
// value (a room without an autoDeletionDate after every dated one), then
// the room ID.
func compareRooms(field string, a, b *store.Room) int {
	var c int
	switch field {
	case store.SortRoomName:
		c = strings.Compare(a.RoomName, b.RoomName)
	case store.SortAutoDeletionDate:
		switch {
		case a.AutoDeletionDate == nil && b.AutoDeletionDate == nil:
		case a.AutoDeletionDate == nil:
			c = 1
		case b.AutoDeletionDate == nil:
			c = -1
		default:
			c = cmp.Compare(*a.AutoDeletionDate, *b.AutoDeletionDate)
		}
	default:
		c = cmp.Compare(a.CreationDate, b.CreationDate)
	}
	if c != 0 {
		return c
	}
	return strings.Compare(a.RoomID, b.RoomID)
}

// expectedOrder is the IDs of rooms in q's order.
func expectedOrder(q store.RoomQuery, rooms []*store.Room) []string {
	sorted := slices.Clone(rooms)
	slices.SortFunc(sorted, func(a, b *store.Room) int {
		c := compareRooms(q.Sort, a, b)
		if q.Desc {
			return -c
		}
		return c
	})
	out := make([]string, len(sorted))
	for i, r := range sorted {
		out[i] = r.RoomID
	}
	return out
}

// findAll pages through q with pages of limit, calling between(page) after
// each full page, and returns the IDs in the order listed.
func findAll(t *testing.T, s store.Store, q store.RoomQuery, limit int, between func(page int)) []string {
	t.Helper()
	q.Limit = limit
	q.After = nil
	var out []string
	for page := 0; ; page++ {
		require.Less(t, page, 100, "pagination does not end")
		rooms, err := s.FindRooms(t.Context(), q)
		require.NoError(t, err)
		require.LessOrEqual(t, len(rooms), limit)
		out = append(out, ids(rooms)...)
		if len(rooms) < limit {
			return out
		}
		c := rooms[len(rooms)-1].Cursor(q.Sort)
		q.After = &c
		if between != nil {
			between(page)
		}
	}
}

// namedRoom is NewRoom(id) named name.
func namedRoom(id, name string) *store.Room {
	r := NewRoom(id)
	r.RoomName = name
	return r
}

func testFindRoomsNameFilters(t *testing.T, s store.Store) {
	names := map[string]string{
		"n01": "Alpha Room",
		"n02": "alpha beta",
		"n03": "Beta Alpha",
		"n04": "ALPHA",
		"n05": "Gamma",
		"n06": "alphabet",
		"n07": "Ünïcödé Room",
		"n08": "a.c",
		"n09": "abc",
		"n10": "(x)+ [y]",
	}
	var rooms []*store.Room
	for id, name := range names {
		rooms = append(rooms, namedRoom(id, name))
	}
	insertRooms(t, s, rooms...)

	for _, tc := range []struct {
		name, match string
		ci          bool
		want        []string
	}{
		{"", "", false, []string{"n01", "n02", "n03", "n04", "n05", "n06", "n07", "n08", "n09", "n10"}},
		{"Alpha Room", store.MatchExact, false, []string{"n01"}},
		{"alpha room", store.MatchExact, false, nil},
		{"alpha room", store.MatchExact, true, []string{"n01"}},
		{"alpha", store.MatchExact, true, []string{"n04"}},
		{"Alpha", "", false, nil}, // exact by default
		{"alpha", store.MatchPrefix, false, []string{"n02", "n06"}},
		{"alpha", store.MatchPrefix, true, []string{"n01", "n02", "n04", "n06"}},
		{"Alpha", store.MatchPartial, false, []string{"n01", "n03"}},
		{"Alpha", store.MatchPartial, true, []string{"n01", "n02", "n03", "n04", "n06"}},
		{"a.c", store.MatchPartial, false, []string{"n08"}},
		{"(x)+ [y]", store.MatchExact, true, []string{"n10"}},
		{"(x)+", store.MatchPrefix, false, []string{"n10"}},
		{"ÜNÏCÖDÉ", store.MatchPartial, true, []string{"n07"}},
		{"ünïcödé", store.MatchPartial, false, nil},
		{"^(Alpha|Gamma)", store.MatchRegex, false, []string{"n01", "n05"}},
		{"^(alpha|gamma)", store.MatchRegex, true, []string{"n01", "n02", "n04", "n05", "n06"}},
		{"a.c", store.MatchRegex, false, []string{"n08", "n09"}},
		{"^a[a-z]+$", store.MatchRegex, false, []string{"n06", "n09"}},
		{"beta$", store.MatchRegex, true, []string{"n02"}},
	} {
		t.Run(fmt.Sprintf("%s-%q-ci=%v", tc.match, tc.name, tc.ci), func(t *testing.T) {
			got, err := s.FindRooms(t.Context(), store.RoomQuery{
				Name: tc.name, NameMatch: tc.match, NameCaseInsensitive: tc.ci, Limit: 100,
			})
			require.NoError(t, err)
			require.ElementsMatch(t, tc.want, ids(got))
			for _, r := range got {
				RequireRoomEqual(t, roomByID(rooms, r.RoomID), &r)
			}
		})
	}
}

func roomByID(rooms []*store.Room, id string) *store.Room {
	for _, r := range rooms {
		if r.RoomID == id {
			return r
		}
	}
	return nil
}

func testFindRoomsStatus(t *testing.T, s store.Store) {
	room := func(id, name, status string) *store.Room {
		r := namedRoom(id, name)
		r.Status = status
		return r
	}
	insertRooms(t, s,
		room("s1", "Team open", events.StatusOpen),
		room("s2", "Team live", events.StatusActiveMeeting),
		room("s3", "Team closed", events.StatusClosed),
		room("s4", "Other open", events.StatusOpen),
		room("s5", "Other closed", events.StatusClosed),
	)
	for _, tc := range []struct {
		status, name string
		want         []string
	}{
		{events.StatusOpen, "", []string{"s1", "s4"}},
		{events.StatusActiveMeeting, "", []string{"s2"}},
		{events.StatusClosed, "", []string{"s3", "s5"}},
		{events.StatusClosed, "team", []string{"s3"}},
		{"no-such-status", "", nil},
	} {
		got, err := s.FindRooms(t.Context(), store.RoomQuery{
			Status: tc.status, Name: tc.name, NameMatch: store.MatchPrefix, NameCaseInsensitive: true, Limit: 100,
		})
		require.NoError(t, err)
		require.ElementsMatch(t, tc.want, ids(got), "status %s name %q", tc.status, tc.name)
	}
	// Paging with a status filter skips the other rooms.
	require.Equal(t, []string{"s3", "s5"},
		findAll(t, s, store.RoomQuery{Status: events.StatusClosed, Sort: store.SortRoomName, Desc: true}, 1, nil))
}

// sortRooms are rooms whose creation dates, names and deletion dates tie
// and differ in every way the sorts must order: ties broken by ID, rooms
// without a date, names differing only in case.
func sortRooms() []*store.Room {
	type spec struct {
		id      string
		created int64
		name    string
		date    *int64
	}
	specs := []spec{
		{"r01", 300, "beta", ptr(int64(5000))},
		{"r02", 100, "Beta", nil},
		{"r03", 200, "alpha", ptr(int64(4000))},
		{"r04", 200, "alpha", ptr(int64(4000))},
		{"r05", 100, "Zulu", nil},
		{"r06", 400, "alpha ", ptr(int64(-1))},
		{"r07", 50, "échec", ptr(int64(5000))},
		{"r08", 400, "a", nil},
		{"r09", 250, "b", ptr(int64(9_000_000_000_000))},
		{"r10", 250, "beta", ptr(int64(4000))},
		{"r11", 1, "Alpha", nil},
	}
	out := make([]*store.Room, len(specs))
	for i, sp := range specs {
		r := namedRoom(sp.id, sp.name)
		r.CreationDate = sp.created
		r.AutoDeletionDate = sp.date
		if sp.date == nil {
			r.AutoDeletionPolicy = nil
		}
		out[i] = r
	}
	return out
}

func testFindRoomsSorts(t *testing.T, s store.Store) {
	rooms := sortRooms()
	insertRooms(t, s, rooms...)
	for _, q := range sorts {
		t.Run(sortName(q), func(t *testing.T) {
			want := expectedOrder(q, rooms)
			for _, limit := range []int{100, 4, 1} {
				require.Equal(t, want, findAll(t, s, q, limit, nil), "pages of %d", limit)
			}
			// The default sort is creationDate.
			if q.Sort == store.SortCreationDate {
				q.Sort = ""
				require.Equal(t, want, findAll(t, s, q, 3, nil), "default sort")
			}
		})
	}
}

// testFindRoomsPagingUnderDeletes pages through every sort while rooms are
// deleted (among them the room the cursor was taken from) and inserted:
// no room is listed twice or out of order, every room that exists
// throughout is listed, a room deleted before its page is not, and a room
// inserted is listed if and only if it sorts after the cursor.
func testFindRoomsPagingUnderDeletes(t *testing.T, s store.Store) {
	ctx := t.Context()
	for _, q := range sorts {
		t.Run(sortName(q), func(t *testing.T) {
			rooms := sortRooms()
			insertRooms(t, s, rooms...)
			t.Cleanup(func() {
				for _, r := range rooms {
					_ = s.DeleteRoom(ctx, r.RoomID)
				}
			})
			// Inserted during the paging: one sorting first, one last.
			early := namedRoom("r00", "!")
			early.CreationDate, early.AutoDeletionDate = 0, ptr(int64(-100))
			late := namedRoom("r99", "~")
			late.CreationDate, late.AutoDeletionDate = 10_000, nil
			inserted := map[string]bool{early.RoomID: true, late.RoomID: true}
			rooms = append(rooms, early, late) // for the cleanup

			want := expectedOrder(q, rooms[:len(rooms)-2])
			deleted := map[string]bool{}
			got := findAll(t, s, q, 3, func(page int) {
				switch page {
				case 0:
					// The cursor's own room, the next room, and one further on.
					for _, id := range []string{want[2], want[3], want[7]} {
						require.NoError(t, s.DeleteRoom(ctx, id))
						deleted[id] = true
					}
					require.NoError(t, s.InsertRoom(ctx, early))
					require.NoError(t, s.InsertRoom(ctx, late))
				case 1:
					// A room already listed.
					require.NoError(t, s.DeleteRoom(ctx, want[0]))
				}
			})

			order := expectedOrder(q, rooms)
			cursor := slices.Index(order, want[2])
			var expect []string
			for i, id := range order {
				switch {
				case i <= cursor && !inserted[id]:
					expect = append(expect, id) // listed on the first page
				case i > cursor && !deleted[id]:
					expect = append(expect, id)
				}
			}
			require.Equal(t, want[:3], expect[:3])
			require.Equal(t, expect, got)
		})
	}
}

func testFindRoomsInvalid(t *testing.T, s store.Store) {
	insertRooms(t, s, NewRoom("Invalid-aaaaaaaaaaaaa"))
	for name, q := range map[string]store.RoomQuery{
		"bad pattern":  {Name: "(unclosed", NameMatch: store.MatchRegex, Limit: 10},
		"long pattern": {Name: strings.Repeat("a", store.MaxNamePattern+1), NameMatch: store.MatchRegex, Limit: 10},
		"bad mode":     {Name: "x", NameMatch: "fuzzy", Limit: 10},
		"bad sort":     {Sort: "owner", Limit: 10},
		"zero limit":   {Limit: 0},
	} {
		_, err := s.FindRooms(t.Context(), q)
		require.ErrorIs(t, err, store.ErrInvalid, name)
	}
	// A pattern of the maximum length is fine.
	got, err := s.FindRooms(t.Context(), store.RoomQuery{
		Name: "R" + strings.Repeat("o?", (store.MaxNamePattern-1)/2), NameMatch: store.MatchRegex, Limit: 10,
	})
	require.NoError(t, err)
	require.Len(t, got, 1)
}
