package queries_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"testing"
	"time"

	"github.com/livekit/protocol/auth"
	lkproto "github.com/livekit/protocol/livekit"
	"github.com/stretchr/testify/require"

	"github.com/roomkeeper/roomkeeper/events"
	lktest "github.com/roomkeeper/roomkeeper/internal/testenv/livekit"
	"github.com/roomkeeper/roomkeeper/livekit"
	"github.com/roomkeeper/roomkeeper/queries"
	"github.com/roomkeeper/roomkeeper/store"
)

var identityPattern = regexp.MustCompile(`^[a-z0-9_]+-[a-z0-9]{15}$`)

func TestParticipantIdentity(t *testing.T) {
	t.Parallel()
	for name, prefix := range map[string]string{
		"alice":             "alice",
		"Ana María":         "ana_maria",
		"--Bob__  Smith--":  "bob_smith",
		"Jürgen-Groß":       "jurgen_gro",
		"a!b":               "ab",
		"a - ! - b":         "a_b",
		"R2D2 🎉":            "r2d2",
		"李小龙":               "",
		"🎉🎉":                "",
		"  ":                "",
		"François O'Connor": "francois_oconnor",
	} {
		require.Equal(t, prefix, queries.IdentityPrefix(name), name)
		id, err := queries.ParticipantIdentity(name)
		require.NoError(t, err)
		require.Regexp(t, identityPattern, id, name)
		if prefix == "" {
			prefix = "participant"
		}
		require.Equal(t, prefix, id[:len(id)-16], name)
	}
	seen := map[string]bool{}
	for range 2000 {
		id, err := queries.ParticipantIdentity("alice")
		require.NoError(t, err)
		require.False(t, seen[id], "identity %s twice", id)
		seen[id] = true
	}
}

func TestGrantFollowsPermissions(t *testing.T) {
	t.Parallel()
	mod := queries.Grant(events.DefaultRoles().Moderator.Permissions)
	require.True(t, mod.Admin)
	require.ElementsMatch(t, []lkproto.TrackSource{lkproto.TrackSource_CAMERA, lkproto.TrackSource_MICROPHONE,
		lkproto.TrackSource_SCREEN_SHARE, lkproto.TrackSource_SCREEN_SHARE_AUDIO}, mod.Publish)
	spk := queries.Grant(events.DefaultRoles().Speaker.Permissions)
	require.False(t, spk.Admin)
	require.True(t, spk.Subscribe)
	audioOnly := queries.Grant(events.Permissions{MeetingJoin: true, MediaPublishAudio: true, ParticipantKick: true})
	require.Equal(t, []lkproto.TrackSource{lkproto.TrackSource_MICROPHONE}, audioOnly.Publish)
	require.True(t, audioOnly.Admin, "kicking takes the RoomService")
	require.Empty(t, queries.Grant(events.Permissions{MeetingJoin: true}).Publish)
}

// Participant tokens join a real livekit-server with the grants of their
// role's permissions; the LiveKit room is created with the room's options;
// two people of one name join side by side.
func TestQueryParticipantTokenJoinsLiveKit(t *testing.T) {
	t.Parallel()
	srv := lktest.Start(t, lktest.Options{})
	lk, err := livekit.New(livekit.Config{URL: srv.URL, APIKey: srv.APIKey, APISecret: srv.APISecret,
		EmptyTimeout: 40 * time.Second, DepartureTimeout: 9 * time.Second})
	require.NoError(t, err)
	b := setupQueries(t, queryOpts{tokens: lk})
	ctx := ctxT(t, 90*time.Second)
	roles := events.DefaultRoles()
	roles.Speaker.Permissions.MediaShareScreen = false
	roles.Speaker.Permissions.MediaPublishVideo = false
	room := insertRoom(ctx, t, b.Store, "live_room-000000000000001", func(r *store.Room) {
		r.RoomName = "Live Room"
		r.Roles = roles
		r.Config.Chat.Enabled = false
	})

	token := func(secret, name string) events.ParticipantTokenReply {
		t.Helper()
		msg := b.request(t, events.APIParticipantToken, fmt.Sprintf(`{"roomId":%q,"secret":%q,"participantName":%q}`, room.RoomID, secret, name))
		var reply events.ParticipantTokenReply
		requireReply(t, events.APIParticipantToken, msg, &reply)
		return reply
	}

	for _, tc := range []struct {
		role, secret string
		perms        events.Permissions
		sources      []lkproto.TrackSource
		admin        bool
	}{
		{events.RoleModerator, room.ModeratorSecret, roles.Moderator.Permissions, []lkproto.TrackSource{
			lkproto.TrackSource_CAMERA, lkproto.TrackSource_MICROPHONE, lkproto.TrackSource_SCREEN_SHARE, lkproto.TrackSource_SCREEN_SHARE_AUDIO}, true},
		{events.RoleSpeaker, room.SpeakerSecret, roles.Speaker.Permissions, []lkproto.TrackSource{lkproto.TrackSource_MICROPHONE}, false},
	} {
		reply := token(tc.secret, "Ann "+tc.role)
		require.Equal(t, tc.role, reply.Role)
		require.Equal(t, srv.URL, reply.LiveKitURL)
		require.Equal(t, tc.perms, reply.Permissions)
		require.Regexp(t, `^ann_`+tc.role+`-[a-z0-9]{15}$`, reply.ParticipantIdentity)

		p := lktest.JoinWithToken(t, srv, reply.Token)
		require.Equal(t, reply.ParticipantIdentity, p.Identity)
		require.Equal(t, "Ann "+tc.role, p.Room.LocalParticipant.Name())
		perm := p.Room.LocalParticipant.Permissions()
		require.NotNil(t, perm)
		require.True(t, perm.CanPublish, tc.role)
		require.ElementsMatch(t, tc.sources, perm.CanPublishSources, tc.role)
		require.True(t, perm.CanSubscribe, tc.role)
		require.True(t, perm.CanPublishData, tc.role)
		require.Equal(t, tc.admin, canAdminister(t, srv, room.RoomID, reply.Token), tc.role)

		var md events.ParticipantTokenMetadata
		require.NoError(t, json.Unmarshal([]byte(p.Room.LocalParticipant.Metadata()), &md))
		require.Equal(t, events.ParticipantTokenMetadata{RoomID: room.RoomID, Role: tc.role, Permissions: tc.perms}, md)
	}

	// Two people named alike both stay in: each join has its own identity
	// (with the name as identity, LiveKit let the second replace the first).
	first := lktest.JoinWithToken(t, srv, token(room.SpeakerSecret, "Sam").Token)
	second := lktest.JoinWithToken(t, srv, token(room.SpeakerSecret, "Sam").Token)
	select {
	case <-first.Disconnected():
		t.Fatal("the first Sam was disconnected by the second")
	case <-time.After(2 * time.Second):
	}
	require.NotEqual(t, first.Identity, second.Identity)
	require.Eventually(t, func() bool {
		for _, rp := range first.Room.GetRemoteParticipants() {
			if rp.Identity() == second.Identity {
				return true
			}
		}
		return false
	}, 10*time.Second, 20*time.Millisecond, "the first Sam sees the second one")

	rooms, err := lk.ListRooms(ctx, []string{room.RoomID})
	require.NoError(t, err)
	require.Len(t, rooms, 1)
	require.Equal(t, 40*time.Second, rooms[0].EmptyTimeout)
	require.Equal(t, 9*time.Second, rooms[0].DepartureTimeout)
	var md livekit.RoomMetadata
	require.NoError(t, json.Unmarshal([]byte(rooms[0].Metadata), &md))
	require.Equal(t, livekit.DefaultCreatedBy, md.CreatedBy)
	var opts map[string]any
	require.NoError(t, json.Unmarshal(md.RoomOptions, &opts))
	require.Equal(t, "Live Room", opts["roomName"])
	require.Equal(t, false, opts["config"].(map[string]any)["chat"].(map[string]any)["enabled"])
	require.NotContains(t, string(md.RoomOptions), room.ModeratorSecret, "every participant reads the metadata: no link secret in it")
	require.NotContains(t, string(md.RoomOptions), room.SpeakerSecret)

	// The client; a wrong secret; an unknown room.
	got, err := b.Client.ParticipantToken(ctx, events.ParticipantTokenRequest{RoomID: room.RoomID, Secret: room.SpeakerSecret, ParticipantName: "carol"})
	require.NoError(t, err)
	require.Equal(t, events.RoleSpeaker, got.Role)
	_, err = b.Client.ParticipantToken(ctx, events.ParticipantTokenRequest{RoomID: room.RoomID, Secret: "nope", ParticipantName: "eve"})
	requireCode(t, err, events.CodeInvalidSecret)
	_, err = b.Client.ParticipantToken(ctx, events.ParticipantTokenRequest{RoomID: "nope-000000000000000", Secret: "nope", ParticipantName: "eve"})
	requireCode(t, err, events.CodeNotFound)
	_ = requireQueryError(t, b.request(t, events.APIParticipantToken, `{"roomId":"`+room.RoomID+`","secret":"x"}`), events.CodeInvalidArgument)
}

// A closed room is not joined (upstream 409 with its message); a disabled
// link or a role without meetingJoin gets no token (403). The secret is
// checked first: a wrong one learns nothing of the room's state.
func TestQueryParticipantTokenRefusals(t *testing.T) {
	t.Parallel()
	b := setupQueries(t, queryOpts{tokens: signerOnly{tokenSigner(t)}})
	ctx := ctxT(t, 30*time.Second)
	room := insertRoom(ctx, t, b.Store, "refuse-000000000000001")
	ask := func(secret string) error {
		_, err := b.Client.ParticipantToken(ctx, events.ParticipantTokenRequest{RoomID: room.RoomID, Secret: secret, ParticipantName: "x"})
		return err
	}
	require.NoError(t, ask(room.ModeratorSecret))

	updateRoom(t, b.Store, room.RoomID, func(r *store.Room) { r.Status = events.StatusClosed })
	for _, s := range []string{room.ModeratorSecret, room.SpeakerSecret} {
		msg := b.request(t, events.APIParticipantToken, fmt.Sprintf(`{"roomId":%q,"secret":%q,"participantName":"x"}`, room.RoomID, s))
		e := requireQueryError(t, msg, events.CodeConflict)
		require.Equal(t, "Room 'refuse-000000000000001' is closed and cannot be joined", e.Message)
		require.Equal(t, "Room Error", e.Name)
	}
	requireCode(t, ask("wrong"), events.CodeInvalidSecret)

	// Open again, but the speaker link disabled: its secret joins nothing.
	updateRoom(t, b.Store, room.RoomID, func(r *store.Room) {
		r.Status = events.StatusOpen
		r.Access.Anonymous.Speaker.Enabled = false
	})
	requireCode(t, ask(room.SpeakerSecret), events.CodeForbidden)
	require.NoError(t, ask(room.ModeratorSecret))

	// An active meeting is joined.
	updateRoom(t, b.Store, room.RoomID, func(r *store.Room) {
		r.Status = events.StatusActiveMeeting
		r.Roles.Moderator.Permissions.MeetingJoin = false
	})
	requireCode(t, ask(room.ModeratorSecret), events.CodeForbidden)
	updateRoom(t, b.Store, room.RoomID, func(r *store.Room) { r.Roles.Moderator.Permissions.MeetingJoin = true })
	reply, err := b.Client.ParticipantToken(ctx, events.ParticipantTokenRequest{RoomID: room.RoomID, Secret: room.ModeratorSecret, ParticipantName: "x"})
	require.NoError(t, err)
	v, err := auth.ParseAPIToken(reply.Token)
	require.NoError(t, err)
	_, grants, err := v.Verify(tokenSecret)
	require.NoError(t, err)
	require.True(t, grants.Video.RoomJoin)
	require.Equal(t, room.RoomID, grants.Video.Room)
	require.Equal(t, reply.ParticipantIdentity, grants.Identity)
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

// signerOnly signs tokens and has every LiveKit room already.
type signerOnly struct{ *livekit.Client }

func (signerOnly) EnsureRoom(context.Context, string, any) error { return nil }

// config.maxParticipants is set on the LiveKit room the first token
// creates: LiveKit admits that many participants and refuses the next.
func TestQueryParticipantTokenRoomKeepsMaxParticipants(t *testing.T) {
	t.Parallel()
	srv := lktest.Start(t, lktest.Options{})
	lk, err := livekit.New(livekit.Config{URL: srv.URL, APIKey: srv.APIKey, APISecret: srv.APISecret})
	require.NoError(t, err)
	b := setupQueries(t, queryOpts{tokens: lk})
	ctx := ctxT(t, 60*time.Second)
	limited := insertRoom(ctx, t, b.Store, "limited-000000000000001", func(r *store.Room) { r.Config.MaxParticipants = ptr(2) })
	open := insertRoom(ctx, t, b.Store, "unlimited-000000000000001")

	join := func(room store.Room, name string) error {
		reply, err := b.Client.ParticipantToken(ctx, events.ParticipantTokenRequest{RoomID: room.RoomID, Secret: room.SpeakerSecret, ParticipantName: name})
		require.NoError(t, err)
		_, err = lktest.Connect(t, srv, reply.Token)
		return err
	}
	require.NoError(t, join(limited, "one"))
	require.NoError(t, join(limited, "two"))
	require.Error(t, join(limited, "three"), "LiveKit refuses the third")
	for i := range 3 {
		require.NoError(t, join(open, fmt.Sprint("p", i)), "no limit")
	}
}
