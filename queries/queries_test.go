package queries_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/livekit/protocol/auth"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"
	"github.com/stretchr/testify/require"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/internal/testenv/ferret"
	lktest "github.com/roomkeeper/roomkeeper/internal/testenv/livekit"
	"github.com/roomkeeper/roomkeeper/internal/workertest"
	"github.com/roomkeeper/roomkeeper/livekit"
	"github.com/roomkeeper/roomkeeper/queries"
	"github.com/roomkeeper/roomkeeper/rooms"
	"github.com/roomkeeper/roomkeeper/schemas"
	"github.com/roomkeeper/roomkeeper/store"
	"github.com/roomkeeper/roomkeeper/store/mongo"
)

// ---------------------------------------------------------------- helpers

type queryOpts struct {
	store    store.Store
	tokens   queries.Tokens
	meetings rooms.Meetings
	// worker also runs the command worker (for rooms created by commands).
	worker bool
}

// setupQueries is setup plus a started query service.
func setupQueries(t *testing.T, o queryOpts) *bundle {
	t.Helper()
	b := setup(t, workertest.SetupOpts{Store: o.store})
	startQueries(t, b, b.NC, o.tokens)
	if o.worker {
		b.Rooms.Meetings = o.meetings
		b.Start(t, workertest.WorkerOpts{})
	}
	return b
}

func startQueries(t *testing.T, b *bundle, nc *nats.Conn, tokens queries.Tokens) *queries.Service {
	t.Helper()
	q, err := queries.New(queries.Config{Store: b.Store, Tokens: tokens, Log: b.Log})
	require.NoError(t, err)
	_, err = q.Start(nc)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, q.Close()) })
	return q
}

// request sends a raw query and returns the reply message.
func (b *bundle) request(t *testing.T, subject, body string) *nats.Msg {
	t.Helper()
	msg, err := b.NC.Request(subject, []byte(body), 10*time.Second)
	require.NoError(t, err)
	return msg
}

// requireQueryError checks that msg is a failed reply with code, valid
// against the error schema, with the micro headers set.
func requireQueryError(t *testing.T, msg *nats.Msg, code string) *events.Error {
	t.Helper()
	require.Equal(t, events.StatusOf(code), msg.Header.Get(micro.ErrorCodeHeader), "reply: %s", msg.Data)
	require.NotEmpty(t, msg.Header.Get(micro.ErrorHeader))
	require.NoError(t, schemas.Validate(schemas.QueryError, msg.Data), "%s", msg.Data)
	var er events.ErrorReply
	require.NoError(t, json.Unmarshal(msg.Data, &er))
	require.Equal(t, code, er.Error.Code, "%s", msg.Data)
	return er.Error
}

// requireReply checks that msg is a successful reply valid against the
// reply schema of subject and decodes it.
func requireReply(t *testing.T, subject string, msg *nats.Msg, v any) {
	t.Helper()
	require.Empty(t, msg.Header.Get(micro.ErrorCodeHeader), "reply: %s", msg.Data)
	name, ok := schemas.ReplySchemaFor(subject)
	require.True(t, ok)
	require.NoError(t, schemas.Validate(name, msg.Data), "%s", msg.Data)
	if v != nil {
		require.NoError(t, json.Unmarshal(msg.Data, v))
	}
}

func requireCode(t *testing.T, err error, code string) {
	t.Helper()
	e, ok := events.AsError(err)
	require.True(t, ok, "want an *events.Error %s, got %v", code, err)
	require.Equal(t, code, e.Code, "%v", err)
}

// insertRooms puts n rooms straight into the store, named prefix-<i>, with
// IDs in ascending order of i.
func insertRooms(t *testing.T, st store.Store, prefix string, n int) []store.Room {
	t.Helper()
	ctx := ctxT(t, 60*time.Second)
	out := make([]store.Room, 0, n)
	for i := range n {
		out = append(out, insertRoom(ctx, t, st, fmt.Sprintf("%s-%015d", prefix, i), events.DefaultPreferences()))
	}
	return out
}

func insertRoom(ctx context.Context, t *testing.T, st store.Store, id string, prefs events.Preferences) store.Room {
	t.Helper()
	mod, pub := rand.Text(), rand.Text()
	r := store.Room{
		RoomID: id, RoomName: strings.SplitN(id, "-", 2)[0], CreationDate: time.Now().UnixMilli(),
		Preferences:      prefs,
		ModeratorRoomURL: "http://localhost:8080/room/" + id + "?secret=" + mod,
		PublisherRoomURL: "http://localhost:8080/room/" + id + "?secret=" + pub,
		ModeratorSecret:  mod, PublisherSecret: pub,
	}
	require.NoError(t, st.InsertRoom(ctx, &r))
	return r
}

// secretOf reads the secret of a room link.
func secretOf(t *testing.T, link string) string {
	t.Helper()
	u, err := url.Parse(link)
	require.NoError(t, err)
	s := u.Query().Get("secret")
	require.NotEmpty(t, s)
	return s
}

// create creates a room through the command worker.
func (b *bundle) create(t *testing.T, id string, cmd events.CreateRoom) events.Room {
	t.Helper()
	room, err := b.Client.CreateRoom(ctxT(t, 30*time.Second), id, cmd)
	require.NoError(t, err)
	return *room
}

func ids(rooms []events.Room) []string {
	out := make([]string, len(rooms))
	for i, r := range rooms {
		out[i] = r.RoomID
	}
	return out
}

// ---------------------------------------------------------------- pure rules

func TestMaxItemsCoercion(t *testing.T) {
	t.Parallel()
	f := func(v float64) *float64 { return &v }
	for _, tc := range []struct {
		in   *float64
		want int
		ok   bool
	}{
		{nil, 10, true}, {f(1), 1, true}, {f(12.78), 12, true}, {f(100), 100, true},
		{f(101), 100, true}, {f(1e300), 100, true}, {f(math.Inf(1)), 100, true},
		{f(0), 0, false}, {f(0.99), 0, false}, {f(-1), 0, false}, {f(math.NaN()), 0, false}, {f(math.Inf(-1)), 0, false},
	} {
		got, err := queries.MaxItems(tc.in)
		if !tc.ok {
			requireCode(t, err, events.CodeInvalidArgument)
			continue
		}
		require.NoError(t, err)
		require.Equal(t, tc.want, got)
	}
}

func TestRoleOf(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		secret, role string
		ok           bool
	}{
		{"mod-secret", events.RoleModerator, true},
		{"pub-secret", events.RolePublisher, true},
		{"mod-secre", "", false},
		{"mod-secret ", "", false},
		{"", "", false},
	} {
		role, ok := queries.RoleOf(tc.secret, "mod-secret", "pub-secret")
		require.Equal(t, tc.ok, ok, tc.secret)
		require.Equal(t, tc.role, role, tc.secret)
	}
	_, ok := queries.RoleOf("", "", "")
	require.False(t, ok, "an empty stored secret never matches")
}

func TestRecordingPermissionsMatrix(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		role, access        string
		retrieve, canDelete bool
	}{
		{events.RoleModerator, events.AccessAdmin, false, false},
		{events.RoleModerator, events.AccessAdminModerator, true, true},
		{events.RoleModerator, events.AccessAdminModeratorPublisher, true, true},
		{events.RolePublisher, events.AccessAdmin, false, false},
		{events.RolePublisher, events.AccessAdminModerator, false, false},
		{events.RolePublisher, events.AccessAdminModeratorPublisher, true, false},
	} {
		r, d := queries.RecordingPermissions(tc.role, tc.access)
		require.Equal(t, tc.retrieve, r, "%s/%s retrieve", tc.role, tc.access)
		require.Equal(t, tc.canDelete, d, "%s/%s delete", tc.role, tc.access)
	}
}

func TestQueriesConfig(t *testing.T) {
	t.Parallel()
	_, err := queries.New(queries.Config{})
	require.ErrorIs(t, err, queries.ErrConfig)
	_, err = queries.New(queries.Config{Store: nopStore{}, Concurrency: -1})
	require.ErrorIs(t, err, queries.ErrConfig)
}

type nopStore struct{ store.Store }

// ---------------------------------------------------------------- get

func TestQueryGet(t *testing.T) {
	t.Parallel()
	b := setupQueries(t, queryOpts{worker: true})
	room := b.create(t, "get-1", events.CreateRoom{RoomName: ptr("My Room"), AutoDeletionDate: ptr(time.Now().Add(2 * time.Hour).UnixMilli())})
	ctx := ctxT(t, 30*time.Second)

	t.Run("whole room", func(t *testing.T) {
		msg := b.request(t, events.APIGet, `{"roomId":"`+room.RoomID+`"}`)
		var got events.Room
		requireReply(t, events.APIGet, msg, &got)
		require.Equal(t, room.RoomID, got.RoomID)
		require.Equal(t, "My Room", got.RoomName)
		require.Equal(t, room.AutoDeletionDate, got.AutoDeletionDate)
		require.Equal(t, room.ModeratorRoomURL, got.ModeratorRoomURL)
		require.Equal(t, events.DefaultPreferences(), got.Preferences)
		var keys map[string]any
		require.NoError(t, json.Unmarshal(msg.Data, &keys))
		require.Len(t, keys, 8, "the contract's room and nothing else: %s", msg.Data)

		viaClient, err := b.Client.GetRoom(ctx, room.RoomID)
		require.NoError(t, err)
		require.Equal(t, got, *viaClient)
	})

	t.Run("fields", func(t *testing.T) {
		msg := b.request(t, events.APIGet, `{"roomId":"`+room.RoomID+`","fields":"roomName, roomId,bogus,moderatorSecret,,"}`)
		requireReply(t, events.APIGet, msg, nil)
		require.Equal(t, `{"roomId":"`+room.RoomID+`","roomName":"My Room"}`, string(msg.Data), "contract order, unknown dropped")

		got, err := b.Client.GetRoom(ctx, room.RoomID, "preferences")
		require.NoError(t, err)
		require.Equal(t, events.Room{Preferences: events.DefaultPreferences()}, *got)

		msg = b.request(t, events.APIGet, `{"roomId":"`+room.RoomID+`","fields":"bogus"}`)
		requireReply(t, events.APIGet, msg, nil)
		require.Equal(t, `{}`, string(msg.Data))
	})

	t.Run("errors", func(t *testing.T) {
		_ = requireQueryError(t, b.request(t, events.APIGet, `{"roomId":"Nope-000000000000000"}`), events.CodeNotFound)
		e := requireQueryError(t, b.request(t, events.APIGet, `{}`), events.CodeInvalidArgument)
		require.Equal(t, "roomId", e.Details[0].Field)
		_ = requireQueryError(t, b.request(t, events.APIGet, `{"roomId":""}`), events.CodeInvalidArgument)
		_ = requireQueryError(t, b.request(t, events.APIGet, `{"roomId":7}`), events.CodeInvalidArgument)
		_ = requireQueryError(t, b.request(t, events.APIGet, `{"roomId":`), events.CodeInvalidArgument)
		_ = requireQueryError(t, b.request(t, events.APIGet, ``), events.CodeInvalidArgument)

		_, err := b.Client.GetRoom(ctx, "Nope-000000000000000")
		requireCode(t, err, events.CodeNotFound)
	})
}

// ---------------------------------------------------------------- list

func list(t *testing.T, b *bundle, body string) events.ListReply {
	t.Helper()
	var reply events.ListReply
	requireReply(t, events.APIList, b.request(t, events.APIList, body), &reply)
	return reply
}

func TestQueryListPages(t *testing.T) {
	t.Parallel()
	b := setupQueries(t, queryOpts{})
	rooms := insertRooms(t, b.Store, "Page", 12)
	ctx := ctxT(t, 30*time.Second)

	t.Run("default 10", func(t *testing.T) {
		r := list(t, b, `{}`)
		require.Equal(t, storedIDs(rooms[:10]), ids(r.Rooms))
		require.Equal(t, 10, r.Pagination.MaxItems)
		require.True(t, r.Pagination.IsTruncated)
		require.NotEmpty(t, r.Pagination.NextPageToken)
		require.Equal(t, r, list(t, b, ``), "an empty request is {}")
	})

	t.Run("6 rooms by 3", func(t *testing.T) {
		// The first 6 rooms, read as two pages of 3: page 1 is truncated
		// with a token, and page 2 (the last 3 of 6) ends the listing.
		b6 := setupQueries(t, queryOpts{})
		six := insertRooms(t, b6.Store, "Six", 6)
		p1 := list(t, b6, `{"maxItems":3}`)
		require.Equal(t, storedIDs(six[:3]), ids(p1.Rooms))
		require.True(t, p1.Pagination.IsTruncated)
		require.NotEmpty(t, p1.Pagination.NextPageToken)
		require.Equal(t, 3, p1.Pagination.MaxItems)
		p2 := list(t, b6, `{"maxItems":3,"nextPageToken":"`+p1.Pagination.NextPageToken+`"}`)
		require.Equal(t, storedIDs(six[3:]), ids(p2.Rooms))
		require.False(t, p2.Pagination.IsTruncated)
		require.Empty(t, p2.Pagination.NextPageToken)
	})

	t.Run("12.78 is 12", func(t *testing.T) {
		r := list(t, b, `{"maxItems":12.78}`)
		require.Len(t, r.Rooms, 12)
		require.Equal(t, 12, r.Pagination.MaxItems)
		require.False(t, r.Pagination.IsTruncated)
	})

	t.Run("fields", func(t *testing.T) {
		msg := b.request(t, events.APIList, `{"maxItems":2,"fields":"roomId,markedForDeletion,nope"}`)
		requireReply(t, events.APIList, msg, nil)
		var raw struct{ Rooms []map[string]any }
		require.NoError(t, json.Unmarshal(msg.Data, &raw))
		require.Equal(t, []map[string]any{
			{"roomId": rooms[0].RoomID, "markedForDeletion": false},
			{"roomId": rooms[1].RoomID, "markedForDeletion": false},
		}, raw.Rooms)
	})

	t.Run("invalid", func(t *testing.T) {
		for _, body := range []string{
			`{"maxItems":0}`, `{"maxItems":-1}`, `{"maxItems":0.5}`, `{"maxItems":"NaN"}`,
			`{"maxItems":NaN}`, `{"maxItems":"10"}`, `{"maxItems":null}`, `[]`,
			`{"nextPageToken":"garbage!"}`, `{"nextPageToken":"` + queries.PageToken("") + `"}`,
			`{"nextPageToken":"aGVsbG8"}`, `{"fields":3}`,
		} {
			e := requireQueryError(t, b.request(t, events.APIList, body), events.CodeInvalidArgument)
			require.NotEmpty(t, e.Details, body)
		}
		_, err := b.Client.ListRooms(ctx, events.ListRequest{MaxItems: -1})
		requireCode(t, err, events.CodeInvalidArgument)
	})

	t.Run("client follows pages", func(t *testing.T) {
		var got []string
		req := events.ListRequest{MaxItems: 5}
		for {
			page, err := b.Client.ListRooms(ctx, req)
			require.NoError(t, err)
			got = append(got, ids(page.Rooms)...)
			if !page.Pagination.IsTruncated {
				break
			}
			req.NextPageToken = page.Pagination.NextPageToken
		}
		require.Equal(t, storedIDs(rooms), got)
	})
}

func TestQueryListCapsAt100(t *testing.T) {
	t.Parallel()
	b := setupQueries(t, queryOpts{})
	rooms := insertRooms(t, b.Store, "Many", 101)
	r := list(t, b, `{"maxItems":101}`)
	require.Equal(t, 100, r.Pagination.MaxItems)
	require.Equal(t, storedIDs(rooms[:100]), ids(r.Rooms))
	require.True(t, r.Pagination.IsTruncated)
	last := list(t, b, `{"maxItems":1e9,"nextPageToken":"`+r.Pagination.NextPageToken+`"}`)
	require.Equal(t, storedIDs(rooms[100:]), ids(last.Rooms))
	require.False(t, last.Pagination.IsTruncated)
}

// Rooms created and deleted between pages shift nothing: every room that
// exists from the first page to the last is listed exactly once.
func TestQueryListStableWhileRoomsChange(t *testing.T) {
	t.Parallel()
	b := setupQueries(t, queryOpts{})
	ctx := ctxT(t, 60*time.Second)
	// IDs B-000…, B-002…, B-004…: even numbers, so new rooms can go between.
	var initial []store.Room
	for i := 0; i < 60; i += 2 {
		initial = append(initial, insertRoom(ctx, t, b.Store, fmt.Sprintf("B-%015d", i), events.DefaultPreferences()))
	}
	deleted, createdBehind, createdAhead := map[string]bool{}, map[string]bool{}, map[string]bool{}
	seen := map[string]int{}
	req := events.ListRequest{MaxItems: 4}
	for page := 0; ; page++ {
		r, err := b.Client.ListRooms(ctx, req)
		require.NoError(t, err)
		for _, room := range r.Rooms {
			seen[room.RoomID]++
		}
		if !r.Pagination.IsTruncated {
			break
		}
		req.NextPageToken = r.Pagination.NextPageToken
		// Between pages: delete a room already listed and one still ahead
		// (even numbers), create one just behind the cursor and one just
		// ahead of it (odd numbers).
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
		for id, dst := range map[string]map[string]bool{fmt.Sprintf("B-%015d", behind): createdBehind, fmt.Sprintf("B-%015d", ahead): createdAhead} {
			if _, err := b.Store.GetRoom(ctx, id); err == nil {
				continue
			}
			insertRoom(ctx, t, b.Store, id, events.DefaultPreferences())
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
}

// ---------------------------------------------------------------- role

func TestQueryRole(t *testing.T) {
	t.Parallel()
	b := setupQueries(t, queryOpts{worker: true})
	room := b.create(t, "role-1", events.CreateRoom{})
	mod, pub := secretOf(t, room.ModeratorRoomURL), secretOf(t, room.PublisherRoomURL)
	ctx := ctxT(t, 30*time.Second)

	for secret, want := range map[string]string{mod: events.RoleModerator, pub: events.RolePublisher} {
		var reply events.RoleReply
		requireReply(t, events.APIRole, b.request(t, events.APIRole, `{"roomId":"`+room.RoomID+`","secret":"`+secret+`"}`), &reply)
		require.Equal(t, want, reply.Role)
		role, err := b.Client.Role(ctx, room.RoomID, secret)
		require.NoError(t, err)
		require.Equal(t, want, role)
	}

	wrong := "wrong-" + mod
	msg := b.request(t, events.APIRole, `{"roomId":"`+room.RoomID+`","secret":"`+wrong+`"}`)
	_ = requireQueryError(t, msg, events.CodeInvalidSecret)
	for _, s := range []string{wrong, mod, pub} {
		require.NotContains(t, string(msg.Data), s, "the reply never holds a secret")
		for k, v := range msg.Header {
			require.NotContains(t, strings.Join(v, " "), s, "header %s", k)
		}
	}
	_, err := b.Client.Role(ctx, room.RoomID, pub+"x")
	requireCode(t, err, events.CodeInvalidSecret)
	_, err = b.Client.Role(ctx, "Nope-000000000000000", mod)
	requireCode(t, err, events.CodeNotFound)
	_ = requireQueryError(t, b.request(t, events.APIRole, `{"roomId":"`+room.RoomID+`"}`), events.CodeInvalidArgument)
	_ = requireQueryError(t, b.request(t, events.APIRole, `{"roomId":"`+room.RoomID+`","secret":""}`), events.CodeInvalidArgument)
}

// ---------------------------------------------------------------- recording token

const (
	tokenKey    = "APIroomkeepertest"
	tokenSecret = "a-secret-of-at-least-32-characters-for-hs256"
)

// tokenSigner is a LiveKit adapter that can sign tokens; the URL is never
// called by the recording token.
func tokenSigner(t *testing.T) *livekit.Client {
	t.Helper()
	c, err := livekit.New(livekit.Config{URL: "ws://127.0.0.1:9", APIKey: tokenKey, APISecret: tokenSecret})
	require.NoError(t, err)
	return c
}

func TestQueryRecordingToken(t *testing.T) {
	t.Parallel()
	b := setupQueries(t, queryOpts{worker: true, tokens: tokenSigner(t)})
	ctx := ctxT(t, 60*time.Second)

	type want struct{ retrieve, canDelete bool }
	matrix := map[string]map[string]want{
		events.AccessAdmin: {
			events.RoleModerator: {false, false}, events.RolePublisher: {false, false}},
		events.AccessAdminModerator: {
			events.RoleModerator: {true, true}, events.RolePublisher: {false, false}},
		events.AccessAdminModeratorPublisher: {
			events.RoleModerator: {true, true}, events.RolePublisher: {true, false}},
	}
	for access, roles := range matrix {
		prefs := events.DefaultPreferences()
		prefs.RecordingPreferences.AllowAccessTo = access
		room := b.create(t, "rec-"+access, events.CreateRoom{Preferences: &prefs})
		secrets := map[string]string{
			events.RoleModerator: secretOf(t, room.ModeratorRoomURL),
			events.RolePublisher: secretOf(t, room.PublisherRoomURL),
		}
		check := func(t *testing.T) {
			for role, w := range roles {
				var reply events.TokenReply
				requireReply(t, events.APIRecordingToken, b.request(t, events.APIRecordingToken,
					`{"roomId":"`+room.RoomID+`","secret":"`+secrets[role]+`"}`), &reply)
				v, err := auth.ParseAPIToken(reply.Token)
				require.NoError(t, err)
				require.Equal(t, tokenKey, v.APIKey())
				claims, grants, err := v.Verify(tokenSecret)
				require.NoError(t, err)
				require.WithinDuration(t, time.Now().Add(2*time.Hour), claims.ExpiresAt.Time, time.Minute)
				require.Equal(t, room.RoomID, grants.Video.Room)
				require.False(t, grants.Video.RoomJoin, "a recording token joins no meeting")
				var md livekit.RecordingTokenMetadata
				require.NoError(t, json.Unmarshal([]byte(grants.Metadata), &md))
				require.Equal(t, role, md.Role)
				require.Equal(t, w.retrieve, md.RecordingPermissions.CanRetrieveRecordings, "%s/%s retrieve", access, role)
				require.Equal(t, w.canDelete, md.RecordingPermissions.CanDeleteRecordings, "%s/%s delete", access, role)
			}
			_, err := b.Client.RecordingToken(ctx, room.RoomID, "not-"+secrets[events.RoleModerator])
			requireCode(t, err, events.CodeInvalidSecret)
		}
		t.Run(access, check)
		// The room goes; its recordings' metadata stays, and so do tokens.
		res, err := b.Client.DeleteRooms(ctx, "rec-del-"+access, events.DeleteRooms{RoomIDs: []string{room.RoomID}})
		require.NoError(t, err)
		require.Equal(t, []string{room.RoomID}, res.Deleted)
		_, err = b.Client.GetRoom(ctx, room.RoomID)
		requireCode(t, err, events.CodeNotFound)
		t.Run(access+" after delete", check)
	}

	t.Run("no recording metadata", func(t *testing.T) {
		_, err := b.Client.RecordingToken(ctx, "Nope-000000000000000", "whatever")
		requireCode(t, err, events.CodeNotFound)
		prefs := events.DefaultPreferences()
		prefs.RecordingPreferences = events.RecordingPreferences{Enabled: false}
		room := b.create(t, "rec-off", events.CreateRoom{Preferences: &prefs})
		_, err = b.Client.RecordingToken(ctx, room.RoomID, secretOf(t, room.ModeratorRoomURL))
		requireCode(t, err, events.CodeNotFound)
	})
}

// ---------------------------------------------------------------- participant token

// Participant tokens of both roles join a real livekit-server with the
// grants of their role; the LiveKit room is created with its metadata and
// timeouts; a room marked for deletion gets no token.
func TestQueryParticipantTokenJoinsLiveKit(t *testing.T) {
	t.Parallel()
	srv := lktest.Start(t, lktest.Options{})
	lk, err := livekit.New(livekit.Config{URL: srv.URL, APIKey: srv.APIKey, APISecret: srv.APISecret,
		EmptyTimeout: 40 * time.Second, DepartureTimeout: 9 * time.Second})
	require.NoError(t, err)
	b := setupQueries(t, queryOpts{worker: true, tokens: lk, meetings: lk})
	ctx := ctxT(t, 90*time.Second)
	prefs := events.DefaultPreferences()
	prefs.ChatPreferences.Enabled = false
	room := b.create(t, "pt-1", events.CreateRoom{RoomName: ptr("Live Room"), Preferences: &prefs})

	for _, tc := range []struct {
		role, secret, name string
		admin              bool
	}{
		{events.RoleModerator, secretOf(t, room.ModeratorRoomURL), "alice", true},
		{events.RolePublisher, secretOf(t, room.PublisherRoomURL), "bob", false},
	} {
		msg := b.request(t, events.APIParticipantToken, fmt.Sprintf(`{"roomId":%q,"secret":%q,"participantName":%q}`, room.RoomID, tc.secret, tc.name))
		var reply events.ParticipantTokenReply
		requireReply(t, events.APIParticipantToken, msg, &reply)
		require.Equal(t, tc.role, reply.Role)
		require.Equal(t, srv.URL, reply.LiveKitURL)

		p := lktest.JoinWithToken(t, srv, reply.Token)
		require.Equal(t, tc.name, p.Identity)
		perm := p.Room.LocalParticipant.Permissions()
		require.NotNil(t, perm)
		require.True(t, perm.CanPublish, tc.role)
		require.True(t, perm.CanSubscribe, tc.role)
		require.True(t, perm.CanPublishData, tc.role)
		// Room admin: only the moderator may call the RoomService for it.
		require.Equal(t, tc.admin, canAdminister(t, srv, room.RoomID, reply.Token), tc.role)
	}

	rooms, err := lk.ListRooms(ctx, []string{room.RoomID})
	require.NoError(t, err)
	require.Len(t, rooms, 1)
	require.Equal(t, 40*time.Second, rooms[0].EmptyTimeout)
	require.Equal(t, 9*time.Second, rooms[0].DepartureTimeout)
	var md livekit.RoomMetadata
	require.NoError(t, json.Unmarshal([]byte(rooms[0].Metadata), &md))
	require.Equal(t, livekit.DefaultCreatedBy, md.CreatedBy)
	var opts queries.RoomOptions
	require.NoError(t, json.Unmarshal(md.RoomOptions, &opts))
	require.Equal(t, queries.RoomOptions{RoomName: "Live Room", Preferences: prefs}, opts)

	// The client; a wrong secret; an unknown room.
	got, err := b.Client.ParticipantToken(ctx, events.ParticipantTokenRequest{RoomID: room.RoomID, Secret: secretOf(t, room.PublisherRoomURL), ParticipantName: "carol"})
	require.NoError(t, err)
	require.Equal(t, events.RolePublisher, got.Role)
	_, err = b.Client.ParticipantToken(ctx, events.ParticipantTokenRequest{RoomID: room.RoomID, Secret: "nope", ParticipantName: "eve"})
	requireCode(t, err, events.CodeInvalidSecret)
	_, err = b.Client.ParticipantToken(ctx, events.ParticipantTokenRequest{RoomID: "Nope-000000000000000", Secret: "nope", ParticipantName: "eve"})
	requireCode(t, err, events.CodeNotFound)
	_ = requireQueryError(t, b.request(t, events.APIParticipantToken, `{"roomId":"`+room.RoomID+`","secret":"x"}`), events.CodeInvalidArgument)

	// Marked for deletion (a meeting is going on): no more tokens.
	res, err := b.Client.DeleteRooms(ctx, "pt-del", events.DeleteRooms{RoomIDs: []string{room.RoomID}})
	require.NoError(t, err)
	require.Equal(t, []string{room.RoomID}, res.MarkedForDeletion)
	_, err = b.Client.ParticipantToken(ctx, events.ParticipantTokenRequest{RoomID: room.RoomID, Secret: secretOf(t, room.ModeratorRoomURL), ParticipantName: "dave"})
	requireCode(t, err, events.CodeForbidden)
}

// markForDeletion marks a room in the store, as a graceful delete of a room
// with a meeting does.
func markForDeletion(t *testing.T, st store.Store, id string) {
	t.Helper()
	ctx := ctxT(t, 10*time.Second)
	r, err := st.GetRoom(ctx, id)
	require.NoError(t, err)
	r.MarkedForDeletion = true
	require.NoError(t, st.UpdateRoom(ctx, r, r.Version))
}

// canAdminister reports whether token may list the room's participants
// through LiveKit's RoomService (which takes the room admin grant).
func canAdminister(t *testing.T, srv *lktest.Server, roomID, token string) bool {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, srv.HTTPURL+"/twirp/livekit.RoomService/ListParticipants",
		bytes.NewReader([]byte(`{"room":"`+roomID+`"}`)))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer func() { _ = res.Body.Close() }()
	return res.StatusCode == http.StatusOK
}

func TestQueryParticipantTokenForMarkedRoomIsForbidden(t *testing.T) {
	t.Parallel()
	b := setupQueries(t, queryOpts{tokens: tokenSigner(t)})
	ctx := ctxT(t, 30*time.Second)
	room := insertRoom(ctx, t, b.Store, "Marked-000000000000001", events.DefaultPreferences())
	markForDeletion(t, b.Store, room.RoomID)
	for _, s := range []string{room.ModeratorSecret, room.PublisherSecret} {
		_, err := b.Client.ParticipantToken(ctx, events.ParticipantTokenRequest{RoomID: room.RoomID, Secret: s, ParticipantName: "x"})
		requireCode(t, err, events.CodeForbidden)
	}
	// The secret is checked first: a wrong one learns nothing of the mark.
	_, err := b.Client.ParticipantToken(ctx, events.ParticipantTokenRequest{RoomID: room.RoomID, Secret: "wrong", ParticipantName: "x"})
	requireCode(t, err, events.CodeInvalidSecret)
}

func TestQueryTokensWhenLiveKitIsDetachedOrDown(t *testing.T) {
	t.Parallel()
	detached, err := livekit.New(livekit.Config{})
	require.NoError(t, err)
	down, err := livekit.New(livekit.Config{URL: "http://127.0.0.1:9", APIKey: tokenKey, APISecret: tokenSecret, RequestTimeout: 2 * time.Second})
	require.NoError(t, err)
	for name, tokens := range map[string]queries.Tokens{"detached": detached, "none": nil, "unreachable": down} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := setupQueries(t, queryOpts{tokens: tokens})
			ctx := ctxT(t, 30*time.Second)
			room := insertRoom(ctx, t, b.Store, "Lk-000000000000001", events.DefaultPreferences())
			require.NoError(t, b.Store.PutArchivedRoom(ctx, &store.ArchivedRoom{
				RoomID: room.RoomID, RoomName: room.RoomName, Preferences: room.Preferences,
				ModeratorSecret: room.ModeratorSecret, PublisherSecret: room.PublisherSecret,
			}))
			msg := b.request(t, events.APIParticipantToken, fmt.Sprintf(`{"roomId":%q,"secret":%q,"participantName":"x"}`, room.RoomID, room.ModeratorSecret))
			e := requireQueryError(t, msg, events.CodeUnavailable)
			require.NotContains(t, e.Message, "127.0.0.1", "no internals in the reply")
			if name != "unreachable" {
				_, err := b.Client.RecordingToken(ctx, room.RoomID, room.PublisherSecret)
				requireCode(t, err, events.CodeUnavailable)
			}
			// Role needs no LiveKit.
			role, err := b.Client.Role(ctx, room.RoomID, room.PublisherSecret)
			require.NoError(t, err)
			require.Equal(t, events.RolePublisher, role)
		})
	}
}

// ---------------------------------------------------------------- service

func TestQueryServiceInfoAndQueueGroup(t *testing.T) {
	t.Parallel()
	b := setup(t, workertest.SetupOpts{})
	second, err := nats.Connect(b.NATS.URL)
	require.NoError(t, err)
	t.Cleanup(second.Close)
	startQueries(t, b, b.NC, nil)
	startQueries(t, b, second, nil)
	insertRooms(t, b.Store, "Info", 1)

	msg := b.request(t, "$SRV.INFO."+events.ServiceName, "")
	var info micro.Info
	require.NoError(t, json.Unmarshal(msg.Data, &info))
	require.Equal(t, events.ServiceName, info.Name)
	require.Equal(t, queries.ServiceVersion, info.Version)
	got := map[string]micro.EndpointInfo{}
	for _, e := range info.Endpoints {
		got[e.Subject] = e
	}
	for _, subject := range []string{events.APIGet, events.APIList, events.APIRole, events.APIRecordingToken, events.APIParticipantToken} {
		e, ok := got[subject]
		require.True(t, ok, "endpoint %s missing from %s", subject, msg.Data)
		require.Equal(t, micro.DefaultQueueGroup, e.QueueGroup)
		req, _ := schemas.SchemaFor(subject)
		reply, _ := schemas.ReplySchemaFor(subject)
		require.Equal(t, req, e.Metadata["request_schema"])
		require.Equal(t, reply, e.Metadata["reply_schema"])
		require.Equal(t, schemas.QueryError, e.Metadata["error_schema"])
		for _, k := range []string{"request_schema", "reply_schema"} {
			_, err := schemas.File(e.Metadata[k])
			require.NoError(t, err, "schema %s exists", e.Metadata[k])
		}
	}
	require.Len(t, info.Endpoints, 5)

	// Both instances answer (one queue group): each takes part of the load,
	// as its $SRV.STATS data shows.
	for range 60 {
		b.request(t, events.APIList, `{}`)
	}
	_ = requireQueryError(t, b.request(t, events.APIGet, `{"roomId":"Nope-000000000000000"}`), events.CodeNotFound)
	inbox := nats.NewInbox()
	sub, err := b.NC.SubscribeSync(inbox)
	require.NoError(t, err)
	require.NoError(t, b.NC.PublishRequest("$SRV.STATS."+events.ServiceName, inbox, nil))
	var lists, notFound []int64
	for range 2 {
		m, err := sub.NextMsg(5 * time.Second)
		require.NoError(t, err)
		var stats micro.Stats
		require.NoError(t, json.Unmarshal(m.Data, &stats))
		for _, e := range stats.Endpoints {
			var data queries.EndpointStats
			if len(e.Data) > 0 {
				require.NoError(t, json.Unmarshal(e.Data, &data))
			}
			switch e.Name {
			case "list":
				lists = append(lists, data.Requests)
			case "get":
				notFound = append(notFound, data.Errors[events.CodeNotFound])
			}
		}
	}
	require.Len(t, lists, 2)
	require.EqualValues(t, 60, lists[0]+lists[1])
	require.Positive(t, lists[0], "instance 1 answered")
	require.Positive(t, lists[1], "instance 2 answered")
	require.EqualValues(t, 1, notFound[0]+notFound[1])
}

// Requests arriving together are answered concurrently: a slow LiveKit call
// holds up no read.
func TestQueryRequestsRunConcurrently(t *testing.T) {
	t.Parallel()
	slow := &slowTokens{release: make(chan struct{})}
	b := setupQueries(t, queryOpts{tokens: slow})
	ctx := ctxT(t, 30*time.Second)
	room := insertRoom(ctx, t, b.Store, "Slow-000000000000001", events.DefaultPreferences())
	done := make(chan error, 1)
	go func() {
		_, err := b.Client.ParticipantToken(ctx, events.ParticipantTokenRequest{RoomID: room.RoomID, Secret: room.ModeratorSecret, ParticipantName: "x"})
		done <- err
	}()
	require.Eventually(t, func() bool { return slow.waiting() }, 10*time.Second, 5*time.Millisecond)
	// A read goes through meanwhile.
	_, err := b.Client.GetRoom(ctx, room.RoomID)
	require.NoError(t, err)
	close(slow.release)
	require.NoError(t, <-done)
}

type slowTokens struct {
	release chan struct{}
	started atomic.Bool
}

func (s *slowTokens) waiting() bool { return s.started.Load() }

func (s *slowTokens) EnsureRoom(ctx context.Context, _ string, _ any) error {
	s.started.Store(true)
	select {
	case <-s.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
func (*slowTokens) ParticipantToken(string, string, string, string, string) (string, error) {
	return "token", nil
}
func (*slowTokens) RecordingToken(string, string, bool, bool) (string, error) { return "token", nil }
func (*slowTokens) URL() string                                               { return "ws://lk" }
func (*slowTokens) Detached() bool                                            { return false }

// ---------------------------------------------------------------- MongoDB

func TestQueryGetAndListOnMongo(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t, 120*time.Second)
	st, err := mongo.Open(ctx, mongo.Config{URI: ferret.MongoURI(t), Database: ferret.DatabaseName(t)})
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	b := setupQueries(t, queryOpts{store: st})
	rooms := insertRooms(t, st, "Mongo", 5)

	got, err := b.Client.GetRoom(ctx, rooms[2].RoomID)
	require.NoError(t, err)
	require.Equal(t, rooms[2].RoomID, got.RoomID)
	require.Equal(t, rooms[2].ModeratorRoomURL, got.ModeratorRoomURL)
	msg := b.request(t, events.APIGet, `{"roomId":"`+rooms[2].RoomID+`","fields":"roomName"}`)
	require.Equal(t, `{"roomName":"Mongo"}`, string(msg.Data))
	_, err = b.Client.GetRoom(ctx, "Nope-000000000000000")
	requireCode(t, err, events.CodeNotFound)

	p1, err := b.Client.ListRooms(ctx, events.ListRequest{MaxItems: 3})
	require.NoError(t, err)
	require.Equal(t, storedIDs(rooms[:3]), ids(p1.Rooms))
	require.True(t, p1.Pagination.IsTruncated)
	p2, err := b.Client.ListRooms(ctx, events.ListRequest{MaxItems: 3, NextPageToken: p1.Pagination.NextPageToken})
	require.NoError(t, err)
	require.Equal(t, storedIDs(rooms[3:]), ids(p2.Rooms))
	require.False(t, p2.Pagination.IsTruncated)
}

func storedIDs(rooms []store.Room) []string {
	out := make([]string, len(rooms))
	for i, r := range rooms {
		out[i] = r.RoomID
	}
	return out
}

// Queries decode their requests the same way: the room asked for is the
// one under "roomId".
func TestQueryIgnoresNamesInOtherLetterCase(t *testing.T) {
	t.Parallel()
	b := setupQueries(t, queryOpts{worker: true})
	asked := b.create(t, "case-q-1", events.CreateRoom{RoomName: ptr("Asked")})
	other := b.create(t, "case-q-2", events.CreateRoom{RoomName: ptr("Other")})

	msg := b.request(t, events.APIGet, `{"roomId":"`+asked.RoomID+`","ROOMID":"`+other.RoomID+`"}`)
	var got events.Room
	requireReply(t, events.APIGet, msg, &got)
	require.Equal(t, asked.RoomID, got.RoomID)
}
