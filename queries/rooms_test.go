package queries_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/micro"
	"github.com/stretchr/testify/require"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/internal/testenv/ferret"
	"github.com/roomkeeper/roomkeeper/queries"
	"github.com/roomkeeper/roomkeeper/store"
	"github.com/roomkeeper/roomkeeper/store/mongo"
)

// keysOf are the top-level properties of a JSON object, sorted.
func keysOf(t *testing.T, raw []byte) []string {
	t.Helper()
	var m map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(raw, &m), "%s", raw)
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func sorted(s ...string) []string { slices.Sort(s); return s }

// baseFields are a room's properties without the extra fields (a room
// without an autoDeletionDate has neither it nor its policy).
var baseFields = []string{"roomId", "roomName", "owner", "creationDate", "autoDeletionDate", "autoDeletionPolicy",
	"access", "status", "rolesUpdatedAt", "meetingEndAction"}

// ---------------------------------------------------------------- get

func TestQueryGet(t *testing.T) {
	t.Parallel()
	b := setupQueries(t, queryOpts{})
	ctx := ctxT(t, 30*time.Second)
	expires := time.Now().Add(2 * time.Hour).UnixMilli()
	custom := events.DefaultConfig()
	custom.Chat.Enabled = false
	custom.Recording.Encoding = json.RawMessage(`{"video":{"width":1280,"height":720,"framerate":60,"codec":"H264_HIGH","bitrate":2500,"keyFrameInterval":2,"depth":2},"audio":{"codec":"AAC","bitrate":192,"frequency":48000}}`)
	custom.MaxParticipants = ptr(7)
	room := insertRoom(ctx, t, b.Store, "my_room-000000000000001", func(r *store.Room) {
		r.RoomName = "My Room"
		r.AutoDeletionDate = &expires
		r.AutoDeletionPolicy = &events.AutoDeletionPolicy{WithMeeting: events.PolicyForce, WithRecordings: events.PolicyClose}
		r.Config = custom
		r.Status, r.MeetingEndAction = events.StatusActiveMeeting, events.EndActionClose
	})

	t.Run("without config and roles by default", func(t *testing.T) {
		msg := b.request(t, events.APIGet, `{"roomId":"`+room.RoomID+`"}`)
		var got events.RoomReply
		requireReply(t, events.APIGet, msg, &got)
		require.Equal(t, sorted(append(slices.Clone(baseFields), "_extraFields")...), keysOf(t, msg.Data))
		require.Equal(t, []string{"config", "roles"}, got.ExtraFields)
		require.Equal(t, events.Room{
			RoomID: room.RoomID, RoomName: "My Room", Owner: events.OwnerAdmin, CreationDate: room.CreationDate,
			AutoDeletionDate: &expires, AutoDeletionPolicy: room.AutoDeletionPolicy, Access: room.Access,
			Status: events.StatusActiveMeeting, RolesUpdatedAt: room.RolesUpdatedAt, MeetingEndAction: events.EndActionClose,
		}, got.Room)
		for _, s := range []string{room.ModeratorSecret, room.SpeakerSecret, room.RecordingSecret} {
			require.Contains(t, string(msg.Data), s, "the admin sees the anonymous links")
		}

		viaClient, err := b.Client.GetRoom(ctx, room.RoomID)
		require.NoError(t, err)
		require.Equal(t, got.Room, *viaClient)
	})

	t.Run("extraFields", func(t *testing.T) {
		got, err := b.Client.GetRoomWith(ctx, events.GetRequest{RoomID: room.RoomID, ExtraFields: "roles, bogus,,config"})
		require.NoError(t, err)
		require.Equal(t, custom, got.Config, "custom config with advanced encoding and a participant limit")
		require.Equal(t, events.DefaultRoles(), got.Roles)
		require.Equal(t, "My Room", got.RoomName, "extra fields come on top of every base field")

		msg := b.request(t, events.APIGet, `{"roomId":"`+room.RoomID+`","extraFields":"roles"}`)
		requireReply(t, events.APIGet, msg, nil)
		require.Contains(t, keysOf(t, msg.Data), "roles")
		require.NotContains(t, keysOf(t, msg.Data), "config")

		msg = b.request(t, events.APIGet, `{"roomId":"`+room.RoomID+`","extraFields":"nothing,valid"}`)
		requireReply(t, events.APIGet, msg, nil)
		require.Equal(t, sorted(append(slices.Clone(baseFields), "_extraFields")...), keysOf(t, msg.Data), "invalid extra fields are ignored")
	})

	t.Run("fields", func(t *testing.T) {
		msg := b.request(t, events.APIGet, `{"roomId":"`+room.RoomID+`","fields":"roomName, roomId,bogus,moderatorSecret,,"}`)
		requireReply(t, events.APIGet, msg, nil)
		require.Equal(t, `{"roomId":"`+room.RoomID+`","roomName":"My Room","_extraFields":["config","roles"]}`, string(msg.Data),
			"the model's order, unknown dropped")

		// fields ∪ extraFields, as upstream.
		msg = b.request(t, events.APIGet, `{"roomId":"`+room.RoomID+`","fields":"roomId,status","extraFields":"config"}`)
		requireReply(t, events.APIGet, msg, nil)
		require.Equal(t, sorted("roomId", "config", "status", "_extraFields"), keysOf(t, msg.Data))
		// An extra field named in fields is returned too.
		msg = b.request(t, events.APIGet, `{"roomId":"`+room.RoomID+`","fields":"config"}`)
		requireReply(t, events.APIGet, msg, nil)
		require.Equal(t, sorted("config", "_extraFields"), keysOf(t, msg.Data))

		msg = b.request(t, events.APIGet, `{"roomId":"`+room.RoomID+`","fields":"bogus"}`)
		requireReply(t, events.APIGet, msg, nil)
		require.Equal(t, `{"_extraFields":["config","roles"]}`, string(msg.Data))
	})

	t.Run("room ID sanitised", func(t *testing.T) {
		got, err := b.Client.GetRoom(ctx, "my_room-000000000000001!?", "roomId")
		require.NoError(t, err)
		require.Equal(t, room.RoomID, got.RoomID)
		e := requireQueryError(t, b.request(t, events.APIGet, `{"roomId":"!!! ?"}`), events.CodeInvalidArgument)
		require.Equal(t, "roomId", e.Details[0].Field)
	})

	t.Run("errors", func(t *testing.T) {
		e := requireQueryError(t, b.request(t, events.APIGet, `{"roomId":"nope-000000000000000"}`), events.CodeNotFound)
		require.Equal(t, "Room 'nope-000000000000000' does not exist", e.Message)
		require.Equal(t, "Room Error", e.Name)
		e = requireQueryError(t, b.request(t, events.APIGet, `{}`), events.CodeInvalidArgument)
		require.Equal(t, "roomId", e.Details[0].Field)
		for _, body := range []string{`{"roomId":""}`, `{"roomId":7}`, `{"roomId":`, ``, `{"roomId":"x","extraFields":["config"]}`, `{"roomId":"x","secret":""}`} {
			_ = requireQueryError(t, b.request(t, events.APIGet, body), events.CodeInvalidArgument)
		}
		_, err := b.Client.GetRoom(ctx, "nope-000000000000000")
		requireCode(t, err, events.CodeNotFound)
	})
}

// A room member (its link's secret) sees the anonymous links' URLs only
// when its role has roomShareAccessLinks; the admin always does.
func TestQueryGetHidesLinksFromMembersWhoMayNotShareThem(t *testing.T) {
	t.Parallel()
	b := setupQueries(t, queryOpts{})
	ctx := ctxT(t, 30*time.Second)
	room := insertRoom(ctx, t, b.Store, "links-000000000000001")
	secrets := []string{room.ModeratorSecret, room.SpeakerSecret, room.RecordingSecret}

	get := func(secret string) (*events.RoomReply, string) {
		msg := b.request(t, events.APIGet, fmt.Sprintf(`{"roomId":%q,"secret":%q}`, room.RoomID, secret))
		var got events.RoomReply
		requireReply(t, events.APIGet, msg, &got)
		return &got, string(msg.Data)
	}

	// The speaker's default role lacks roomShareAccessLinks.
	got, raw := get(room.SpeakerSecret)
	for _, s := range secrets {
		require.NotContains(t, raw, s, "a speaker sees no link secret")
	}
	require.Equal(t, events.AnonymousAccess{
		Moderator: events.Link{Enabled: true}, Speaker: events.Link{Enabled: true}, Recording: events.Link{Enabled: true},
	}, got.Access.Anonymous, "whether links are enabled is still shown")
	require.Equal(t, room.Access.User, got.Access.User)
	require.Equal(t, room.RoomName, got.RoomName, "the rest of the room is there")

	// The moderator's has it.
	got, _ = get(room.ModeratorSecret)
	require.Equal(t, room.Access, got.Access)

	// Roles decide, not role names.
	updateRoom(t, b.Store, room.RoomID, func(r *store.Room) {
		r.Roles.Speaker.Permissions.RoomShareAccessLinks = true
		r.Roles.Moderator.Permissions.RoomShareAccessLinks = false
	})
	got, _ = get(room.SpeakerSecret)
	require.Equal(t, room.Access, got.Access)
	_, raw = get(room.ModeratorSecret)
	for _, s := range secrets {
		require.NotContains(t, raw, s)
	}

	// Fields without access need no filtering and still work.
	msg := b.request(t, events.APIGet, fmt.Sprintf(`{"roomId":%q,"secret":%q,"fields":"roomName"}`, room.RoomID, room.ModeratorSecret))
	requireReply(t, events.APIGet, msg, nil)
	require.Equal(t, sorted("roomName", "_extraFields"), keysOf(t, msg.Data))

	// A wrong secret is refused, never echoed.
	msg = b.request(t, events.APIGet, fmt.Sprintf(`{"roomId":%q,"secret":"wrong"}`, room.RoomID))
	_ = requireQueryError(t, msg, events.CodeInvalidSecret)
	require.NotContains(t, string(msg.Data), "wrong")
}

func TestQueryConfig(t *testing.T) {
	t.Parallel()
	b := setupQueries(t, queryOpts{})
	ctx := ctxT(t, 30*time.Second)
	def := insertRoom(ctx, t, b.Store, "cfg-000000000000001")
	custom := events.DefaultConfig()
	custom.Recording = events.RecordingConfig{Enabled: false, Layout: events.LayoutSpeaker, Encoding: json.RawMessage(`"H264_1080P_60"`)}
	custom.E2EE.Enabled = true
	custom.MaxDurationMinutes = ptr(90)
	other := insertRoom(ctx, t, b.Store, "cfg-000000000000002", func(r *store.Room) { r.Config = custom })

	for room, want := range map[string]events.Config{def.RoomID: events.DefaultConfig(), other.RoomID: custom} {
		var got events.Config
		requireReply(t, events.APIConfig, b.request(t, events.APIConfig, `{"roomId":"`+room+`"}`), &got)
		require.Equal(t, want, got)
		viaClient, err := b.Client.RoomConfig(ctx, room)
		require.NoError(t, err)
		require.Equal(t, want, *viaClient)
	}
	e := requireQueryError(t, b.request(t, events.APIConfig, `{"roomId":"nope-000000000000000"}`), events.CodeNotFound)
	require.Equal(t, "Room 'nope-000000000000000' does not exist", e.Message)
	_ = requireQueryError(t, b.request(t, events.APIConfig, `{}`), events.CodeInvalidArgument)
}

// ---------------------------------------------------------------- list

func list(t *testing.T, b *bundle, body string) events.ListReply {
	t.Helper()
	var reply events.ListReply
	requireReply(t, events.APIList, b.request(t, events.APIList, body), &reply)
	return reply
}

// listAll follows every page of a listing.
func listAll(t *testing.T, b *bundle, req events.ListRequest) []string {
	t.Helper()
	ctx := ctxT(t, 60*time.Second)
	var got []string
	for range 1000 {
		page, err := b.Client.ListRooms(ctx, req)
		require.NoError(t, err)
		got = append(got, ids(page.Rooms)...)
		if !page.Pagination.IsTruncated {
			return got
		}
		require.NotEmpty(t, page.Pagination.NextPageToken)
		req.NextPageToken = page.Pagination.NextPageToken
	}
	t.Fatal("the listing does not end")
	return nil
}

func reversed(s []string) []string {
	out := slices.Clone(s)
	slices.Reverse(out)
	return out
}

func TestQueryListPages(t *testing.T) {
	t.Parallel()
	b := setupQueries(t, queryOpts{})
	rooms := insertRooms(t, b.Store, "Page", 12)
	newest := reversed(storedIDs(rooms))
	ctx := ctxT(t, 30*time.Second)

	t.Run("empty", func(t *testing.T) {
		e := setupQueries(t, queryOpts{})
		r := list(t, e, `{}`)
		require.Empty(t, r.Rooms)
		require.NotNil(t, r.Rooms)
		require.False(t, r.Pagination.IsTruncated)
	})

	t.Run("default 10, newest first", func(t *testing.T) {
		msg := b.request(t, events.APIList, `{}`)
		var r events.ListReply
		requireReply(t, events.APIList, msg, &r)
		require.Equal(t, newest[:10], ids(r.Rooms))
		require.Equal(t, 10, r.Pagination.MaxItems)
		require.True(t, r.Pagination.IsTruncated)
		require.NotEmpty(t, r.Pagination.NextPageToken)
		require.Equal(t, []string{"config", "roles"}, r.ExtraFields)
		require.Equal(t, r, list(t, b, ``), "an empty request is {}")
		var raw struct{ Rooms []json.RawMessage }
		require.NoError(t, json.Unmarshal(msg.Data, &raw))
		require.Equal(t, sorted("roomId", "roomName", "owner", "creationDate", "access", "status", "rolesUpdatedAt", "meetingEndAction"),
			keysOf(t, raw.Rooms[0]), "no config nor roles by default")
		require.Contains(t, string(raw.Rooms[0]), rooms[11].ModeratorSecret, "API-key callers (the admin) see the links")
	})

	t.Run("two pages", func(t *testing.T) {
		p1 := list(t, b, `{"maxItems":6}`)
		require.Equal(t, newest[:6], ids(p1.Rooms))
		require.True(t, p1.Pagination.IsTruncated)
		require.Equal(t, 6, p1.Pagination.MaxItems)
		p2 := list(t, b, `{"maxItems":6,"nextPageToken":"`+p1.Pagination.NextPageToken+`"}`)
		require.Equal(t, newest[6:], ids(p2.Rooms))
		require.False(t, p2.Pagination.IsTruncated)
		require.Empty(t, p2.Pagination.NextPageToken)
	})

	t.Run("12.78 is 12", func(t *testing.T) {
		r := list(t, b, `{"maxItems":12.78}`)
		require.Len(t, r.Rooms, 12)
		require.Equal(t, 12, r.Pagination.MaxItems)
		require.False(t, r.Pagination.IsTruncated)
	})

	t.Run("fields and extraFields", func(t *testing.T) {
		msg := b.request(t, events.APIList, `{"maxItems":2,"fields":"roomId,status,nope"}`)
		requireReply(t, events.APIList, msg, nil)
		var raw struct {
			Rooms       []map[string]any
			ExtraFields []string `json:"_extraFields"`
		}
		require.NoError(t, json.Unmarshal(msg.Data, &raw))
		require.Equal(t, []map[string]any{
			{"roomId": newest[0], "status": "open"},
			{"roomId": newest[1], "status": "open"},
		}, raw.Rooms)
		require.Equal(t, []string{"config", "roles"}, raw.ExtraFields)

		r := list(t, b, `{"maxItems":2,"fields":"roomId","extraFields":"config,whatever"}`)
		for _, room := range r.Rooms {
			require.Equal(t, events.DefaultConfig(), room.Config)
			require.Empty(t, room.RoomName)
		}
		r = list(t, b, `{"maxItems":2,"extraFields":"config,roles"}`)
		require.Equal(t, events.DefaultRoles(), r.Rooms[1].Roles)
		require.Equal(t, events.DefaultConfig(), r.Rooms[1].Config)
		require.NotEmpty(t, r.Rooms[1].RoomName)
	})

	t.Run("client follows pages", func(t *testing.T) {
		require.Equal(t, newest, listAll(t, b, events.ListRequest{MaxItems: 5}))
	})

	t.Run("invalid", func(t *testing.T) {
		for _, body := range []string{
			`{"maxItems":0}`, `{"maxItems":-1}`, `{"maxItems":0.5}`, `{"maxItems":"NaN"}`,
			`{"maxItems":NaN}`, `{"maxItems":"10"}`, `{"maxItems":null}`, `[]`, `{"fields":3}`,
			`{"roomNameMatchMode":"fuzzy"}`, `{"roomNameCaseInsensitive":"yes"}`, `{"status":"gone"}`,
			`{"status":"OPEN"}`, `{"sortField":"roomId"}`, `{"sortOrder":"up"}`, `{"owner":""}`,
			`{"member":""}`, `{"userAccess":"true"}`,
			`{"roomName":"(unclosed","roomNameMatchMode":"regex"}`,
			`{"roomName":"` + strings.Repeat("a", store.MaxNamePattern+1) + `","roomNameMatchMode":"regex"}`,
		} {
			e := requireQueryError(t, b.request(t, events.APIList, body), events.CodeInvalidArgument)
			require.NotEmpty(t, e.Details, body)
		}
		_, err := b.Client.ListRooms(ctx, events.ListRequest{MaxItems: -1})
		requireCode(t, err, events.CodeInvalidArgument)
	})
}

// Page tokens are opaque and checked: anything but a token this service
// made for the same order is refused (422), never read, never a crash.
func TestQueryListPageTokens(t *testing.T) {
	t.Parallel()
	b := setupQueries(t, queryOpts{})
	insertRooms(t, b.Store, "Tok", 5)
	p1 := list(t, b, `{"maxItems":2,"sortField":"roomName","sortOrder":"asc"}`)
	tok := p1.Pagination.NextPageToken
	require.NotEmpty(t, tok)
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	require.NoError(t, err)
	require.NotContains(t, tok, "Tok", "opaque: no room name or ID in the clear")

	flipped := slices.Clone(raw)
	flipped[len(flipped)/2] ^= 1
	forged := queries.PageToken(store.SortRoomName, false, store.RoomCursor{Str: "Tok 001", HasValue: true, RoomID: "Tok-000000000000001"})
	v1 := base64.RawURLEncoding.EncodeToString([]byte("r1:Tok-000000000000001")) // the old format
	for name, body := range map[string]string{
		"garbage":        `{"nextPageToken":"garbage!"}`,
		"not base64 url": `{"nextPageToken":"` + base64.StdEncoding.EncodeToString(raw) + `"}`,
		"one bit":        `{"nextPageToken":"` + base64.RawURLEncoding.EncodeToString(flipped) + `","sortField":"roomName","sortOrder":"asc"}`,
		"cut":            `{"nextPageToken":"` + tok[:len(tok)-3] + `","sortField":"roomName","sortOrder":"asc"}`,
		"empty payload":  `{"nextPageToken":"` + base64.RawURLEncoding.EncodeToString([]byte("r2:")) + `"}`,
		"old format":     `{"nextPageToken":"` + v1 + `"}`,
		"other field":    `{"nextPageToken":"` + tok + `","sortField":"creationDate","sortOrder":"asc"}`,
		"other order":    `{"nextPageToken":"` + tok + `","sortField":"roomName"}`,
		"no room ID":     `{"nextPageToken":"` + queries.PageToken(store.SortRoomName, false, store.RoomCursor{}) + `","sortField":"roomName","sortOrder":"asc"}`,
	} {
		e := requireQueryError(t, b.request(t, events.APIList, body), events.CodeInvalidArgument)
		require.Equal(t, "nextPageToken", e.Details[0].Field, name)
	}
	// A token this service made resumes where it says.
	r := list(t, b, `{"maxItems":2,"sortField":"roomName","sortOrder":"asc","nextPageToken":"`+forged+`"}`)
	require.Equal(t, []string{"Tok-000000000000002", "Tok-000000000000003"}, ids(r.Rooms))
}

func TestQueryListCapsAt100(t *testing.T) {
	t.Parallel()
	b := setupQueries(t, queryOpts{})
	rooms := insertRooms(t, b.Store, "Many", 101)
	newest := reversed(storedIDs(rooms))
	r := list(t, b, `{"maxItems":101}`)
	require.Equal(t, 100, r.Pagination.MaxItems)
	require.Equal(t, newest[:100], ids(r.Rooms))
	require.True(t, r.Pagination.IsTruncated)
	last := list(t, b, `{"maxItems":1e9,"nextPageToken":"`+r.Pagination.NextPageToken+`"}`)
	require.Equal(t, newest[100:], ids(last.Rooms))
	require.False(t, last.Pagination.IsTruncated)
}

func TestQueryListFilters(t *testing.T) {
	t.Parallel()
	b := setupQueries(t, queryOpts{})
	ctx := ctxT(t, 30*time.Second)
	names := map[string]string{
		"f-01": "Team Alpha", "f-02": "team beta", "f-03": "Teamwork", "f-04": "Alpha Team",
		"f-05": "Other", "f-06": "TEAM ALPHA", "f-07": "a.b", "f-08": "axb",
	}
	for id, name := range names {
		insertRoom(ctx, t, b.Store, id, func(r *store.Room) { r.RoomName = name })
	}
	updateRoom(t, b.Store, "f-02", func(r *store.Room) { r.Status = events.StatusClosed })
	updateRoom(t, b.Store, "f-03", func(r *store.Room) { r.Status = events.StatusActiveMeeting })

	find := func(req events.ListRequest) []string {
		req.SortField = "roomName"
		got := listAll(t, b, req)
		slices.Sort(got)
		return got
	}
	for _, tc := range []struct {
		name string
		req  events.ListRequest
		want []string
	}{
		{"exact by default", events.ListRequest{RoomName: "Team Alpha"}, []string{"f-01"}},
		{"exact", events.ListRequest{RoomName: "team", RoomNameMatchMode: "exact"}, nil},
		{"exact, case-insensitive", events.ListRequest{RoomName: "team alpha", RoomNameCaseInsensitive: true}, []string{"f-01", "f-06"}},
		{"prefix", events.ListRequest{RoomName: "Team", RoomNameMatchMode: "prefix"}, []string{"f-01", "f-03"}},
		{"prefix, case-insensitive", events.ListRequest{RoomName: "team", RoomNameMatchMode: "prefix", RoomNameCaseInsensitive: true}, []string{"f-01", "f-02", "f-03", "f-06"}},
		{"partial", events.ListRequest{RoomName: "Team", RoomNameMatchMode: "partial"}, []string{"f-01", "f-03", "f-04"}},
		{"partial, case-insensitive", events.ListRequest{RoomName: "ALPHA", RoomNameMatchMode: "partial", RoomNameCaseInsensitive: true}, []string{"f-01", "f-04", "f-06"}},
		{"partial is literal", events.ListRequest{RoomName: "a.b", RoomNameMatchMode: "partial"}, []string{"f-07"}},
		{"regex", events.ListRequest{RoomName: "^a.b$", RoomNameMatchMode: "regex"}, []string{"f-07", "f-08"}},
		{"regex, case-insensitive", events.ListRequest{RoomName: "^team (alpha|beta)$", RoomNameMatchMode: "regex", RoomNameCaseInsensitive: true}, []string{"f-01", "f-02", "f-06"}},
		{"status", events.ListRequest{Status: events.StatusClosed}, []string{"f-02"}},
		{"status and name", events.ListRequest{Status: events.StatusOpen, RoomName: "team", RoomNameMatchMode: "prefix", RoomNameCaseInsensitive: true}, []string{"f-01", "f-06"}},
		{"owner admin", events.ListRequest{Owner: events.OwnerAdmin, RoomName: "Other"}, []string{"f-05"}},
		{"another owner", events.ListRequest{Owner: "alice"}, nil},
		{"a member", events.ListRequest{Member: "alice"}, nil},
		{"user access", events.ListRequest{UserAccess: ptr(true)}, nil},
		{"no user access filter", events.ListRequest{UserAccess: ptr(false), RoomName: "Other"}, []string{"f-05"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := find(tc.req)
			if tc.want == nil {
				require.Empty(t, got)
				return
			}
			require.Equal(t, tc.want, got)
		})
	}
	// Page by page too: a filter holds across pages.
	require.Equal(t, []string{"f-01", "f-02", "f-03", "f-06"}, func() []string {
		got := listAll(t, b, events.ListRequest{MaxItems: 1, RoomName: "team", RoomNameMatchMode: "prefix", RoomNameCaseInsensitive: true, SortField: "creationDate"})
		slices.Sort(got)
		return got
	}())
}

// Every sort, both orders, read a page at a time: the rooms come in the
// sort's order, ties by room ID, rooms without an autoDeletionDate after
// the others in ascending order.
func TestQueryListSorts(t *testing.T) {
	t.Parallel()
	b := setupQueries(t, queryOpts{})
	ctx := ctxT(t, 60*time.Second)
	base := time.Now().Add(24 * time.Hour).UnixMilli()
	type spec struct {
		id, name string
		created  int64
		expires  *int64
	}
	specs := []spec{
		{"s-01", "delta", 5, ptr(base + 3)},
		{"s-02", "alpha", 3, nil},
		{"s-03", "Charlie", 9, ptr(base + 1)},
		{"s-04", "bravo", 3, ptr(base + 3)},
		{"s-05", "alpha", 1, ptr(base + 2)},
		{"s-06", "echo", 7, nil},
		{"s-07", "alpha", 3, ptr(base + 1)},
	}
	for _, s := range specs {
		insertRoom(ctx, t, b.Store, s.id, func(r *store.Room) {
			r.RoomName, r.CreationDate, r.AutoDeletionDate = s.name, s.created, s.expires
		})
	}
	dateKey := func(s spec) int64 {
		if s.expires == nil {
			return store.NullDate
		}
		return *s.expires
	}
	for _, tc := range []struct {
		field string
		less  func(a, b spec) int
	}{
		{"creationDate", func(a, b spec) int { return cmpInt(a.created, b.created) }},
		{"roomName", func(a, b spec) int { return strings.Compare(a.name, b.name) }},
		{"autoDeletionDate", func(a, b spec) int { return cmpInt(dateKey(a), dateKey(b)) }},
	} {
		asc := slices.Clone(specs)
		slices.SortFunc(asc, func(a, b spec) int {
			if c := tc.less(a, b); c != 0 {
				return c
			}
			return strings.Compare(a.id, b.id)
		})
		var want []string
		for _, s := range asc {
			want = append(want, s.id)
		}
		for _, maxItems := range []int{1, 2, 3, 100} {
			require.Equal(t, want, listAll(t, b, events.ListRequest{SortField: tc.field, SortOrder: "asc", MaxItems: maxItems}), "%s asc by %d", tc.field, maxItems)
			require.Equal(t, reversed(want), listAll(t, b, events.ListRequest{SortField: tc.field, SortOrder: "desc", MaxItems: maxItems}), "%s desc by %d", tc.field, maxItems)
		}
		require.Equal(t, reversed(want), listAll(t, b, events.ListRequest{SortField: tc.field}), "%s defaults to desc", tc.field)
		if tc.field == "creationDate" {
			require.Equal(t, reversed(want), listAll(t, b, events.ListRequest{MaxItems: 2}), "the default: creationDate desc")
		}
	}
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Rooms created and deleted between pages shift nothing, under a name sort
// and a date sort: every room that exists from the first page to the last
// is listed exactly once; rooms created ahead of the cursor are listed,
// rooms created behind it are not.
func TestQueryListStableWhileRoomsChange(t *testing.T) {
	t.Parallel()
	for _, sort := range []string{"roomName", "creationDate", "autoDeletionDate"} {
		t.Run(sort, func(t *testing.T) {
			t.Parallel()
			b := setupQueries(t, queryOpts{})
			ctx := ctxT(t, 60*time.Second)
			base := time.Now().Add(48 * time.Hour).UnixMilli()
			// Position i: name B-<i>, created at i, expiring at base+i; even
			// numbers first, so new rooms can go between.
			insert := func(i int) store.Room {
				return insertRoom(ctx, t, b.Store, fmt.Sprintf("B-%015d", i), func(r *store.Room) {
					r.RoomName = fmt.Sprintf("B-%015d", i)
					r.CreationDate = int64(i)
					r.AutoDeletionDate = ptr(base + int64(i))
				})
			}
			var initial []store.Room
			for i := 0; i < 60; i += 2 {
				initial = append(initial, insert(i))
			}
			deleted, createdBehind, createdAhead := map[string]bool{}, map[string]bool{}, map[string]bool{}
			seen := map[string]int{}
			req := events.ListRequest{MaxItems: 4, SortField: sort, SortOrder: "asc"}
			for range 100 {
				r, err := b.Client.ListRooms(ctx, req)
				require.NoError(t, err)
				for _, room := range r.Rooms {
					seen[room.RoomID]++
				}
				if !r.Pagination.IsTruncated {
					break
				}
				req.NextPageToken = r.Pagination.NextPageToken
				// Between pages: delete a room already listed and one still
				// ahead (even numbers), create one just behind the cursor and
				// one just ahead of it (odd numbers).
				var cursor int
				_, err = fmt.Sscanf(r.Rooms[len(r.Rooms)-1].RoomID, "B-%d", &cursor)
				require.NoError(t, err)
				for _, victim := range []int{cursor - cursor%2 - 2, cursor - cursor%2 + 4} {
					id := fmt.Sprintf("B-%015d", victim)
					if err := b.Store.DeleteRoom(ctx, id); err == nil {
						deleted[id] = true
					}
				}
				behind, ahead := cursor-1, cursor+1
				if cursor%2 == 1 {
					behind, ahead = cursor-2, cursor+2
				}
				for i, dst := range map[int]map[string]bool{behind: createdBehind, ahead: createdAhead} {
					id := fmt.Sprintf("B-%015d", i)
					if _, err := b.Store.GetRoom(ctx, id); err == nil || i < 0 {
						continue
					}
					insert(i)
					dst[id] = true
				}
			}
			for id, n := range seen {
				require.Equal(t, 1, n, "room %s listed %d times", id, n)
			}
			for _, r := range initial {
				if !deleted[r.RoomID] {
					require.Contains(t, seen, r.RoomID, "a room that existed throughout was skipped")
				}
			}
			require.NotEmpty(t, createdAhead)
			for id := range createdAhead {
				require.Contains(t, seen, id, "a room created ahead of the cursor is listed")
			}
			for id := range createdBehind {
				require.NotContains(t, seen, id, "a room created behind the cursor is not")
			}
		})
	}
}

// ---------------------------------------------------------------- errors

// A failed query carries upstream's REST status in its body and in the
// micro error code header: 422 for an invalid request (upstream's
// validation status; it was 400), 404, 409.
func TestQueryErrorsCarryRESTStatus(t *testing.T) {
	t.Parallel()
	b := setupQueries(t, queryOpts{tokens: tokenSigner(t)})
	ctx := ctxT(t, 30*time.Second)
	closed := insertRoom(ctx, t, b.Store, "closed-000000000000001", func(r *store.Room) { r.Status = events.StatusClosed })
	for _, tc := range []struct {
		subject, body, status string
	}{
		{events.APIList, `{"maxItems":0}`, "422"},
		{events.APIList, `{"sortField":"roomId"}`, "422"},
		{events.APIGet, `{}`, "422"},
		{events.APIGet, `{"roomId":"nope-000000000000000"}`, "404"},
		{events.APIParticipantToken, fmt.Sprintf(`{"roomId":%q,"secret":%q,"participantName":"x"}`, closed.RoomID, closed.ModeratorSecret), "409"},
	} {
		msg := b.request(t, tc.subject, tc.body)
		require.Equal(t, tc.status, msg.Header.Get(micro.ErrorCodeHeader), "%s %s: %s", tc.subject, tc.body, msg.Data)
		var er struct{ Status int }
		require.NoError(t, json.Unmarshal(msg.Data, &er))
		require.Equal(t, tc.status, fmt.Sprint(er.Status), "%s", msg.Data)
	}
}

// ---------------------------------------------------------------- MongoDB

func TestQueryGetAndListOnMongo(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t, 120*time.Second)
	st, err := mongo.Open(ctx, mongo.Config{URI: ferret.MongoURI(t), Database: ferret.DatabaseName(t)})
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	b := setupQueries(t, queryOpts{store: st})
	rooms := insertRooms(t, st, "Mongo", 5)

	got, err := b.Client.GetRoomWith(ctx, events.GetRequest{RoomID: rooms[2].RoomID, ExtraFields: "config,roles"})
	require.NoError(t, err)
	require.Equal(t, rooms[2].RoomID, got.RoomID)
	require.Equal(t, rooms[2].Access, got.Access)
	require.Equal(t, events.DefaultConfig(), got.Config)
	require.Equal(t, events.DefaultRoles(), got.Roles)
	msg := b.request(t, events.APIGet, `{"roomId":"`+rooms[2].RoomID+`","fields":"roomName"}`)
	require.Equal(t, `{"roomName":"Mongo 002","_extraFields":["config","roles"]}`, string(msg.Data))
	_, err = b.Client.GetRoom(ctx, "Nope-000000000000000")
	requireCode(t, err, events.CodeNotFound)

	require.Equal(t, reversed(storedIDs(rooms)), listAll(t, b, events.ListRequest{MaxItems: 3}))
	require.Equal(t, storedIDs(rooms), listAll(t, b, events.ListRequest{MaxItems: 2, SortField: "roomName", SortOrder: "asc"}))
	require.Equal(t, []string{rooms[3].RoomID}, listAll(t, b, events.ListRequest{RoomName: "mongo 003", RoomNameCaseInsensitive: true}))
}

// Queries decode their requests the same way: the room asked for is the
// one under "roomId".
func TestQueryIgnoresNamesInOtherLetterCase(t *testing.T) {
	t.Parallel()
	b := setupQueries(t, queryOpts{})
	ctx := ctxT(t, 30*time.Second)
	asked := insertRoom(ctx, t, b.Store, "asked-000000000000001")
	other := insertRoom(ctx, t, b.Store, "other-000000000000001")

	msg := b.request(t, events.APIGet, `{"roomId":"`+asked.RoomID+`","ROOMID":"`+other.RoomID+`"}`)
	var got events.RoomReply
	requireReply(t, events.APIGet, msg, &got)
	require.Equal(t, asked.RoomID, got.RoomID)
}
