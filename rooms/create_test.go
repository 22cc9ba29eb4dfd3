package rooms_test

import (
	"encoding/json"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/handler"
	"github.com/roomkeeper/roomkeeper/internal/workertest"
	"github.com/roomkeeper/roomkeeper/natsapi"
	"github.com/roomkeeper/roomkeeper/rooms"
	"github.com/roomkeeper/roomkeeper/schemas"
)

// create sends a create and returns its room, checking the result as a
// client would: 201, valid against the contract.
func (b *bundle) create(t *testing.T, id string, c events.CreateRoom) events.Room {
	t.Helper()
	b.Send(t, id, c)
	res := b.Result(t, id)
	require.Equal(t, 201, res.Status)
	require.NoError(t, schemas.Validate(schemas.Result, mustJSON(t, res)))
	return roomOf(t, res)
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	raw, err := json.Marshal(v)
	require.NoError(t, err)
	return raw
}

// secretOf is the secret in a link's URL, checked to be one of at least
// 128 random bits (26 base32 characters: 130 bits).
func secretOf(t *testing.T, link string) string {
	t.Helper()
	u, err := url.Parse(link)
	require.NoError(t, err)
	s := u.Query().Get("secret")
	require.Regexp(t, `^[A-Z2-7]{26,}$`, s, "secret of %s", link)
	return s
}

var createdID = regexp.MustCompile(`^room-[a-z0-9]{15}$`)

func TestCreateDefaults(t *testing.T) {
	t.Parallel()
	b := setup(t, workertest.SetupOpts{})
	b.Start(t, workertest.WorkerOpts{})
	before := time.Now().UnixMilli()
	room := b.create(t, "c1", events.CreateRoom{})

	require.Regexp(t, createdID, room.RoomID)
	require.Equal(t, "Room", room.RoomName)
	require.Equal(t, events.OwnerAdmin, room.Owner)
	require.GreaterOrEqual(t, room.CreationDate, before)
	require.Nil(t, room.AutoDeletionDate)
	require.Nil(t, room.AutoDeletionPolicy, "no policy without a date")
	require.Equal(t, events.DefaultConfig(), room.Config)
	require.JSONEq(t, `"H264_720P_30"`, string(room.Config.Recording.Encoding), "the default encoding")
	require.Equal(t, events.LayoutGrid, room.Config.Recording.Layout)
	require.Nil(t, room.Config.MaxParticipants)
	require.Nil(t, room.Config.MaxDurationMinutes)
	require.Equal(t, events.DefaultRoles(), room.Roles)
	require.Equal(t, events.StatusOpen, room.Status)
	require.Equal(t, events.EndActionNone, room.MeetingEndAction)
	require.Equal(t, room.CreationDate, room.RolesUpdatedAt)

	// The links: base/room/<id>?secret=... for moderator and speaker,
	// base/room/<id>/recordings?secret=... for recordings, base/room/<id>
	// for users (off).
	base := "http://localhost:8080/room/" + room.RoomID
	an := room.Access.Anonymous
	require.True(t, an.Moderator.Enabled && an.Speaker.Enabled && an.Recording.Enabled)
	mod, spk, rec := secretOf(t, an.Moderator.URL), secretOf(t, an.Speaker.URL), secretOf(t, an.Recording.URL)
	require.Equal(t, base+"?secret="+mod, an.Moderator.URL)
	require.Equal(t, base+"?secret="+spk, an.Speaker.URL)
	require.Equal(t, base+"/recordings?secret="+rec, an.Recording.URL)
	require.Len(t, map[string]bool{mod: true, spk: true, rec: true}, 3, "three different secrets")
	require.Equal(t, events.Link{Enabled: false, URL: base}, room.Access.User)

	// Stored as answered, secrets included (read back through the store).
	stored := b.storedRoom(t, room.RoomID)
	require.Equal(t, room, stored.View())
	require.Equal(t, mod, stored.ModeratorSecret)
	require.Equal(t, spk, stored.SpeakerSecret)
	require.Equal(t, rec, stored.RecordingSecret)

	// The created event carries the same room.
	evs := b.eventsFor(t, events.EventCreated)
	require.Len(t, evs[room.RoomID], 1)
	res := b.Result(t, "c1")
	require.JSONEq(t, string(res.Data), string(evs[room.RoomID][0].Data))
	require.NoError(t, schemas.Validate(schemas.Event, mustJSON(t, evs[room.RoomID][0])))
}

func TestCreateFullPayload(t *testing.T) {
	t.Parallel()
	b := setup(t, workertest.SetupOpts{})
	b.Start(t, workertest.WorkerOpts{})
	date := time.Now().Add(2 * time.Hour).UnixMilli()
	body := `{"roomName":"  Reunión   de Niños ","autoDeletionDate":` + jsonInt(date) + `,
		"autoDeletionPolicy":{"withMeeting":"force"},
		"config":{"chat":{"enabled":false},"recording":{"layout":"single-speaker","encoding":{"video":{"width":1920,"height":1080,"framerate":60,"codec":"H264_HIGH","bitrate":6000,"keyFrameInterval":2,"depth":24},"audio":{"codec":"AAC","bitrate":192,"frequency":48000}}},
			"captions":{"enabled":false},"maxParticipants":12,"maxDurationMinutes":90},
		"roles":{"moderator":{"permissions":{"participantKick":false}},"speaker":{"permissions":{"canRetrieveRecordings":false,"mediaShareScreen":false}}},
		"access":{"anonymous":{"recording":{"enabled":false}},"user":{"enabled":false}}}`
	b.SendRaw(t, "c1", events.SubjectCreate, body)
	res := b.Result(t, "c1")
	require.Equal(t, 201, res.Status)
	room := roomOf(t, res)

	require.Equal(t, "Reunión de Niños", room.RoomName, "trimmed, whitespace collapsed, accents kept")
	require.Regexp(t, `^reunion_de_ninos-[a-z0-9]{15}$`, room.RoomID)
	require.Equal(t, &date, room.AutoDeletionDate)
	require.Equal(t, &events.AutoDeletionPolicy{WithMeeting: events.PolicyForce, WithRecordings: events.PolicyClose}, room.AutoDeletionPolicy,
		"the policy's absent field takes its default")

	want := events.DefaultConfig()
	want.Chat.Enabled = false
	want.Captions.Enabled = false
	want.Recording.Layout = events.LayoutSingleSpeaker
	want.Recording.Encoding = json.RawMessage(`{"video":{"width":1920,"height":1080,"framerate":60,"codec":"H264_HIGH","bitrate":6000,"keyFrameInterval":2,"depth":24},"audio":{"codec":"AAC","bitrate":192,"frequency":48000}}`)
	want.MaxParticipants, want.MaxDurationMinutes = ptr(12), ptr(90)
	require.JSONEq(t, string(mustJSON(t, want)), string(mustJSON(t, room.Config)), "partial config merged with the defaults")

	roles := events.DefaultRoles()
	roles.Moderator.Permissions.ParticipantKick = false
	sp := &roles.Speaker.Permissions
	sp.RecordingList, sp.RecordingPlay, sp.RecordingDownload, sp.MediaShareScreen = false, false, false, false
	require.Equal(t, roles, room.Roles, "deprecated canRetrieveRecordings sets its three replacements")

	require.False(t, room.Access.Anonymous.Recording.Enabled)
	require.True(t, room.Access.Anonymous.Moderator.Enabled)
	require.True(t, room.Access.Anonymous.Speaker.Enabled)
	secretOf(t, room.Access.Anonymous.Recording.URL) // a disabled link still has its URL

	stored := b.storedRoom(t, room.RoomID)
	require.Equal(t, room, stored.View(), "every field persisted")
}

func jsonInt(v int64) string { return string(mustJSONAny(v)) }

func mustJSONAny(v any) []byte {
	raw, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return raw
}

// A date alone gets the default policy; e2ee forces recording off; an
// encoding preset is kept; the deprecated preferences still set the
// switches.
func TestCreateDefaultsOfPartialOptions(t *testing.T) {
	t.Parallel()
	b := setup(t, workertest.SetupOpts{})
	b.Start(t, workertest.WorkerOpts{})

	date := time.Now().Add(90 * time.Minute).UnixMilli()
	dated := b.create(t, "c-date", events.CreateRoom{AutoDeletionDate: &date})
	require.Equal(t, ptr(events.DefaultAutoDeletionPolicy()), dated.AutoDeletionPolicy)

	undated := b.create(t, "c-policy", events.CreateRoom{AutoDeletionPolicy: &events.AutoDeletionPolicyOptions{WithMeeting: events.PolicyForce}})
	require.Nil(t, undated.AutoDeletionPolicy, "a policy without a date is dropped, as upstream does")

	e2ee := b.create(t, "c-e2ee", events.CreateRoom{Config: &events.ConfigOptions{
		E2EE: &events.EnabledOptions{Enabled: ptr(true)}, Recording: &events.RecordingOptions{Enabled: ptr(true)},
	}})
	require.True(t, e2ee.Config.E2EE.Enabled)
	require.False(t, e2ee.Config.Recording.Enabled, "e2ee turns recording off")

	preset := b.create(t, "c-preset", events.CreateRoom{Config: &events.ConfigOptions{
		Recording: &events.RecordingOptions{Encoding: json.RawMessage(`"PORTRAIT_H264_720P_30"`), Layout: ptr(events.LayoutSpeaker)},
	}})
	require.JSONEq(t, `"PORTRAIT_H264_720P_30"`, string(preset.Config.Recording.Encoding))
	require.Equal(t, events.LayoutSpeaker, preset.Config.Recording.Layout)
	require.True(t, preset.Config.Recording.Enabled)

	old := b.create(t, "c-prefs", events.CreateRoom{Preferences: &prefsOff})
	require.False(t, old.Config.Chat.Enabled)
	require.False(t, old.Config.Recording.Enabled)
	require.False(t, old.Config.VirtualBackground.Enabled)

	named := b.create(t, "c-emoji", events.CreateRoom{RoomName: ptr("🎉🥳")})
	require.Equal(t, "🎉🥳", named.RoomName)
	require.Regexp(t, createdID, named.RoomID, "nothing left of the name: prefix room")
	blank := b.create(t, "c-blank", events.CreateRoom{RoomName: ptr("   ")})
	require.Equal(t, "Room", blank.RoomName)
}

// Every create validation of upstream's tests, on the worker's decoding
// path (JSON Schema, then the handler's own checks): the field at fault as
// upstream names it.
func TestCreateValidation(t *testing.T) {
	t.Parallel()
	r := &rooms.Rooms{BaseURL: "http://localhost:8080", MinAutoDeletionDelay: time.Hour}
	reg := handler.NewRegistry()
	require.NoError(t, r.Register(reg))
	now := time.Now()
	soon := jsonInt(now.Add(59 * time.Minute).UnixMilli())
	video := `"video":{"width":1280,"height":720,"framerate":30,"codec":"H264_MAIN","bitrate":3000,"keyFrameInterval":4,"depth":24}`
	audio := `"audio":{"codec":"OPUS","bitrate":128,"frequency":44100}`
	for _, tc := range []struct{ name, body, field string }{
		{"autoDeletionDate negative", `{"autoDeletionDate":-5}`, "autoDeletionDate"},
		{"autoDeletionDate under an hour ahead", `{"autoDeletionDate":` + soon + `}`, "autoDeletionDate"},
		{"autoDeletionDate a string", `{"autoDeletionDate":"tomorrow"}`, "autoDeletionDate"},
		{"autoDeletionDate a boolean", `{"autoDeletionDate":true}`, "autoDeletionDate"},
		{"autoDeletionDate null", `{"autoDeletionDate":null}`, "autoDeletionDate"},
		{"autoDeletionPolicy a string", `{"autoDeletionPolicy":"force"}`, "autoDeletionPolicy"},
		{"autoDeletionPolicy invalid structure", `{"autoDeletionPolicy":{"withMeeting":{"x":1}}}`, "autoDeletionPolicy.withMeeting"},
		{"withMeeting fail", `{"autoDeletionPolicy":{"withMeeting":"fail"}}`, "autoDeletionPolicy.withMeeting"},
		{"withRecordings fail", `{"autoDeletionPolicy":{"withRecordings":"fail"}}`, "autoDeletionPolicy.withRecordings"},
		{"roomName a number", `{"roomName":42}`, "roomName"},
		{"roomName a boolean", `{"roomName":false}`, "roomName"},
		{"roomName too long", `{"roomName":"` + strings.Repeat("x", 51) + `"}`, "roomName"},
		{"config a string", `{"config":"on"}`, "config"},
		{"config invalid structure", `{"config":{"chat":"on"}}`, "config.chat"},
		{"invalid JSON", `{"roomName":"x",`, "body"},
		{"e2ee not an object", `{"config":{"e2ee":"on"}}`, "config.e2ee"},
		{"e2ee.enabled not a boolean", `{"config":{"e2ee":{"enabled":1}}}`, "config.e2ee.enabled"},
		{"video-only encoding", `{"config":{"recording":{"encoding":{` + video + `}}}}`, "config.recording.encoding.audio"},
		{"audio-only encoding", `{"config":{"recording":{"encoding":{` + audio + `}}}}`, "config.recording.encoding.video"},
		{"invalid preset", `{"config":{"recording":{"encoding":"H265_8K"}}}`, "config.recording.encoding"},
		{"video missing fields", `{"config":{"recording":{"encoding":{"video":{"width":1},` + audio + `}}}}`, "config.recording.encoding.video.codec"},
		{"audio missing fields", `{"config":{"recording":{"encoding":{` + video + `,"audio":{"bitrate":1}}}}}`, "config.recording.encoding.audio.frequency"},
		{"neither video nor audio", `{"config":{"recording":{"encoding":{}}}}`, "config.recording.encoding.video"},
		{"encoding invalid types", `{"config":{"recording":{"encoding":{"video":{"width":1280,"height":720,"framerate":30,"codec":"H264_MAIN","bitrate":"fast","keyFrameInterval":4,"depth":24},` + audio + `}}}}`, "config.recording.encoding.video.bitrate"},
		{"maxParticipants 0", `{"config":{"maxParticipants":0}}`, "config.maxParticipants"},
		{"maxParticipants 31", `{"config":{"maxParticipants":31}}`, "config.maxParticipants"},
		{"maxDurationMinutes 1441", `{"config":{"maxDurationMinutes":1441}}`, "config.maxDurationMinutes"},
		{"maxDurationMinutes a string", `{"config":{"maxDurationMinutes":"60"}}`, "config.maxDurationMinutes"},
		{"unknown permission", `{"roles":{"moderator":{"permissions":{"canFly":true}}}}`, "roles.moderator.permissions.canFly"},
		{"contradicting deprecated name", `{"roles":{"speaker":{"permissions":{"canRetrieveRecordings":true,"recordingPlay":false}}}}`, "roles.speaker.permissions.canRetrieveRecordings"},
		{"user access on", `{"access":{"user":{"enabled":true}}}`, "access.user.enabled"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, ok, err := workertest.Decode(reg, events.SubjectCreate, []byte(tc.body), now)
			require.True(t, ok)
			e, isErr := events.AsError(err)
			require.True(t, isErr, "want a validation error, got %v", err)
			require.Equal(t, events.CodeInvalidArgument, e.Code)
			require.Equal(t, 422, e.HTTPStatus())
			var fields []string
			for _, d := range e.Details {
				fields = append(fields, d.Field)
			}
			require.Contains(t, fields, tc.field, "%+v", e.Details)
		})
	}
	// Valid edges.
	for _, body := range []string{
		`{}`, `{"roomName":null}`, `{"roomName":"` + strings.Repeat("é", 50) + `"}`,
		`{"autoDeletionDate":` + jsonInt(now.Add(61*time.Minute).UnixMilli()) + `}`,
		`{"config":{"maxParticipants":1,"maxDurationMinutes":1440}}`, `{"config":{"maxParticipants":null}}`,
		`{"roles":{"speaker":{"permissions":{"canRetrieveRecordings":false,"recordingPlay":false}}}}`,
	} {
		_, _, err := workertest.Decode(reg, events.SubjectCreate, []byte(body), now)
		require.NoError(t, err, body)
	}
}

// An invalid create gets a result with 422 and the fields at fault.
func TestCreateInvalidResult(t *testing.T) {
	t.Parallel()
	b := setup(t, workertest.SetupOpts{})
	b.Start(t, workertest.WorkerOpts{})
	b.SendRaw(t, "bad", events.SubjectCreate, `{"autoDeletionPolicy":{"withRecordings":"fail"},"config":{"maxParticipants":50}}`)
	res := b.Result(t, "bad")
	require.False(t, res.OK)
	require.Equal(t, 422, res.Status)
	require.Equal(t, events.CodeInvalidArgument, res.Error.Code)
	var fields []string
	for _, d := range res.Error.Details {
		fields = append(fields, d.Field)
	}
	require.Equal(t, []string{"autoDeletionPolicy.withRecordings", "config.maxParticipants"}, fields)
	require.Zero(t, b.CountRooms(t))
}

// The room's ID and secrets are chosen before the claim and stored with
// it: a create whose worker crashes after claiming builds the same room on
// its redelivery, once.
func TestCreateCrashAfterClaimConverges(t *testing.T) {
	t.Parallel()
	for _, step := range []string{"claimed", "completed"} {
		t.Run(step, func(t *testing.T) {
			t.Parallel()
			b := setup(t, workertest.SetupOpts{Topology: func(top *natsapi.Topology) { top.AckWait = time.Second }})
			var crashed atomic.Bool
			b.Start(t, workertest.WorkerOpts{Fault: func(s, id string) bool {
				return s == step && id == "c-crash" && crashed.CompareAndSwap(false, true)
			}})
			b.Send(t, "c-crash", events.CreateRoom{RoomName: ptr("Crash")})
			res := b.Result(t, "c-crash")
			require.True(t, crashed.Load())
			room := roomOf(t, res)
			b.settle(t)
			require.EqualValues(t, 1, b.CountRooms(t))
			stored := b.storedRoom(t, room.RoomID)
			require.Equal(t, room, stored.View(), "the answered room is the stored one, secrets included")
		})
	}
}
