package queries_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/livekit/protocol/auth"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"
	"github.com/stretchr/testify/require"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/internal/workertest"
	"github.com/roomkeeper/roomkeeper/livekit"
	"github.com/roomkeeper/roomkeeper/queries"
	"github.com/roomkeeper/roomkeeper/rooms"
	"github.com/roomkeeper/roomkeeper/schemas"
	"github.com/roomkeeper/roomkeeper/store"
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
func setupQueries(t testing.TB, o queryOpts) *bundle {
	t.Helper()
	b := setup(t, workertest.SetupOpts{Store: o.store})
	startQueries(t, b, b.NC, o.tokens)
	if o.worker {
		b.Rooms.Meetings = o.meetings
		b.Start(t, workertest.WorkerOpts{})
	}
	return b
}

func startQueries(t testing.TB, b *bundle, nc *nats.Conn, tokens queries.Tokens) *queries.Service {
	t.Helper()
	q, err := queries.New(queries.Config{Store: b.Store, Tokens: tokens, Log: b.Log})
	require.NoError(t, err)
	_, err = q.Start(nc)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, q.Close()) })
	return q
}

// request sends a raw query and returns the reply message.
func (b *bundle) request(t testing.TB, subject, body string) *nats.Msg {
	t.Helper()
	msg, err := b.NC.Request(subject, []byte(body), 10*time.Second)
	require.NoError(t, err)
	return msg
}

// requireQueryError checks that msg is a failed reply with code, valid
// against the error schema, with the REST status of the code in the body
// and the micro headers.
func requireQueryError(t *testing.T, msg *nats.Msg, code string) *events.Error {
	t.Helper()
	require.Equal(t, strconv.Itoa(events.HTTPStatus(code)), msg.Header.Get(micro.ErrorCodeHeader), "reply: %s", msg.Data)
	require.NotEmpty(t, msg.Header.Get(micro.ErrorHeader))
	require.NoError(t, schemas.Validate(schemas.QueryError, msg.Data), "%s", msg.Data)
	var er events.ErrorReply
	require.NoError(t, json.Unmarshal(msg.Data, &er))
	require.Equal(t, code, er.Error.Code, "%s", msg.Data)
	require.Equal(t, events.HTTPStatus(code), er.Status, "%s", msg.Data)
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
// IDs, names and creation dates in ascending order of i.
func insertRooms(t *testing.T, st store.Store, prefix string, n int) []store.Room {
	t.Helper()
	ctx := ctxT(t, 60*time.Second)
	out := make([]store.Room, 0, n)
	base := time.Now().UnixMilli()
	for i := range n {
		out = append(out, insertRoom(ctx, t, st, fmt.Sprintf("%s-%015d", prefix, i), func(r *store.Room) {
			r.RoomName = fmt.Sprintf("%s %03d", prefix, i)
			r.CreationDate = base + int64(i)
		}))
	}
	return out
}

// insertRoom puts a room of the new model straight into the store: default
// config and roles, the three anonymous links enabled, open; edits change
// it before the insert.
func insertRoom(ctx context.Context, t testing.TB, st store.Store, id string, edits ...func(*store.Room)) store.Room {
	t.Helper()
	mod, spk, rec := rand.Text(), rand.Text(), rand.Text()
	base := "http://localhost:8080/room/" + id
	now := time.Now().UnixMilli()
	r := store.Room{
		RoomID: id, RoomName: strings.SplitN(id, "-", 2)[0], CreationDate: now,
		SchemaVersion: store.RoomSchemaVersion, Owner: events.OwnerAdmin,
		Config: events.DefaultConfig(), Roles: events.DefaultRoles(),
		Access: events.Access{
			Anonymous: events.AnonymousAccess{
				Moderator: events.Link{Enabled: true, URL: base + "?secret=" + mod},
				Speaker:   events.Link{Enabled: true, URL: base + "?secret=" + spk},
				Recording: events.Link{Enabled: true, URL: base + "/recordings?secret=" + rec},
			},
			User: events.Link{URL: base},
		},
		Status: events.StatusOpen, MeetingEndAction: events.EndActionNone, RolesUpdatedAt: now,
		ModeratorSecret: mod, SpeakerSecret: spk, RecordingSecret: rec,
	}
	for _, e := range edits {
		e(&r)
	}
	require.NoError(t, st.InsertRoom(ctx, &r))
	return r
}

// updateRoom changes a stored room.
func updateRoom(t *testing.T, st store.Store, id string, edit func(*store.Room)) {
	t.Helper()
	ctx := ctxT(t, 10*time.Second)
	r, err := st.GetRoom(ctx, id)
	require.NoError(t, err)
	edit(r)
	require.NoError(t, st.UpdateRoom(ctx, r, r.Version))
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

// ---------------------------------------------------------------- role

func TestQueryRole(t *testing.T) {
	t.Parallel()
	b := setupQueries(t, queryOpts{})
	ctx := ctxT(t, 30*time.Second)
	room := insertRoom(ctx, t, b.Store, "Role-000000000000001")
	mod, pub := room.ModeratorSecret, room.SpeakerSecret

	for secret, want := range map[string]string{mod: events.RoleModerator, pub: events.RoleSpeaker} {
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

	// A record not yet migrated (publisher secret, no speaker secret) still
	// admits its speaker.
	old := insertRoom(ctx, t, b.Store, "Role-000000000000002", func(r *store.Room) {
		r.PublisherSecret, r.SpeakerSecret = r.SpeakerSecret, ""
	})
	role, err := b.Client.Role(ctx, old.RoomID, old.PublisherSecret)
	require.NoError(t, err)
	require.Equal(t, events.RoleSpeaker, role)
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

// Recording tokens follow the room's roles: a link's role retrieves when it
// may list or play recordings and deletes when it may delete them; the
// anonymous recording link, while enabled, only retrieves. A closed room
// keeps its recordings readable.
func TestQueryRecordingToken(t *testing.T) {
	t.Parallel()
	b := setupQueries(t, queryOpts{worker: true, tokens: tokenSigner(t)})
	ctx := ctxT(t, 60*time.Second)

	type want struct{ retrieve, canDelete bool }
	token := func(t *testing.T, room events.Room, secret, role string, w want) {
		t.Helper()
		var reply events.TokenReply
		requireReply(t, events.APIRecordingToken, b.request(t, events.APIRecordingToken,
			`{"roomId":"`+room.RoomID+`","secret":"`+secret+`"}`), &reply)
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
		require.Equal(t, w.retrieve, md.RecordingPermissions.CanRetrieveRecordings, "%s retrieve", role)
		require.Equal(t, w.canDelete, md.RecordingPermissions.CanDeleteRecordings, "%s delete", role)
	}
	links := func(room events.Room) (moderator, speaker, recording string) {
		a := room.Access.Anonymous
		return secretOf(t, a.Moderator.URL), secretOf(t, a.Speaker.URL), secretOf(t, a.Recording.URL)
	}

	t.Run("default roles", func(t *testing.T) {
		room := b.create(t, "rec-default", events.CreateRoom{})
		mod, spk, rec := links(room)
		token(t, room, mod, events.RoleModerator, want{true, true})
		token(t, room, spk, events.RoleSpeaker, want{true, false})
		token(t, room, rec, events.RoleRecording, want{true, false})
		_, err := b.Client.RecordingToken(ctx, room.RoomID, "not-"+mod)
		requireCode(t, err, events.CodeInvalidSecret)

		// Closed, the room keeps its recordings readable.
		status, err := b.Client.UpdateStatus(ctx, "rec-close", events.UpdateStatus{RoomID: room.RoomID, Status: events.StatusClosed})
		require.NoError(t, err)
		require.Equal(t, events.StatusClosed, status.Status)
		token(t, room, rec, events.RoleRecording, want{true, false})
	})

	t.Run("roles without recordings", func(t *testing.T) {
		room := b.create(t, "rec-roles", events.CreateRoom{Roles: &events.RolesOptions{
			Moderator: &events.RoleOptions{Permissions: map[string]bool{"recordingDelete": false}},
			Speaker:   &events.RoleOptions{Permissions: map[string]bool{"recordingList": false, "recordingPlay": false}},
		}})
		mod, spk, _ := links(room)
		token(t, room, mod, events.RoleModerator, want{true, false})
		token(t, room, spk, events.RoleSpeaker, want{false, false})
	})

	t.Run("recording link off", func(t *testing.T) {
		off := &events.SwitchOptions{Enabled: false}
		room := b.create(t, "rec-link-off", events.CreateRoom{Access: &events.AccessOptions{
			Anonymous: &events.AnonymousAccessOptions{Recording: off}}})
		_, _, rec := links(room)
		_, err := b.Client.RecordingToken(ctx, room.RoomID, rec)
		requireCode(t, err, events.CodeInvalidSecret)
	})

	t.Run("no such room", func(t *testing.T) {
		_, err := b.Client.RecordingToken(ctx, "Nope-000000000000000", "whatever")
		requireCode(t, err, events.CodeNotFound)
	})
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
			room := insertRoom(ctx, t, b.Store, "Lk-000000000000001")
			require.NoError(t, b.Store.PutArchivedRoom(ctx, &store.ArchivedRoom{
				RoomID: room.RoomID, RoomName: room.RoomName, Preferences: events.DefaultPreferences(),
				ModeratorSecret: room.ModeratorSecret, PublisherSecret: room.SpeakerSecret,
			}))
			msg := b.request(t, events.APIParticipantToken, fmt.Sprintf(`{"roomId":%q,"secret":%q,"participantName":"x"}`, room.RoomID, room.ModeratorSecret))
			e := requireQueryError(t, msg, events.CodeUnavailable)
			require.NotContains(t, e.Message, "127.0.0.1", "no internals in the reply")
			if name != "unreachable" {
				_, err := b.Client.RecordingToken(ctx, room.RoomID, room.SpeakerSecret)
				requireCode(t, err, events.CodeUnavailable)
			}
			// Role needs no LiveKit.
			role, err := b.Client.Role(ctx, room.RoomID, room.SpeakerSecret)
			require.NoError(t, err)
			require.Equal(t, events.RoleSpeaker, role)
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
	for _, subject := range []string{events.APIGet, events.APIList, events.APIConfig, events.APIRole, events.APIRecordingToken, events.APIParticipantToken, events.APICommands, events.APIHistory} {
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
	require.Len(t, info.Endpoints, 8)

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
	room := insertRoom(ctx, t, b.Store, "Slow-000000000000001")
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
func (*slowTokens) GrantToken(string, string, string, livekit.Grant, string) (string, error) {
	return "token", nil
}
func (*slowTokens) RecordingToken(string, string, bool, bool) (string, error) { return "token", nil }
func (*slowTokens) URL() string                                               { return "ws://lk" }
func (*slowTokens) Detached() bool                                            { return false }

func storedIDs(rooms []store.Room) []string {
	out := make([]string, len(rooms))
	for i, r := range rooms {
		out[i] = r.RoomID
	}
	return out
}
