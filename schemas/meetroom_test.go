package schemas_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/schemas"
	"github.com/roomkeeper/roomkeeper/store"
)

// The create and update validations of upstream's tests (create-room,
// e2ee-room-config, update-room-*), judged by the JSON Schemas alone; what
// the worker checks beyond them is tested in package rooms.
func TestValidateMeetRoomCommands(t *testing.T) {
	t.Parallel()
	video := `"video":{"width":1280,"height":720,"framerate":30,"codec":"H264_MAIN","bitrate":3000,"keyFrameInterval":4,"depth":24}`
	audio := `"audio":{"codec":"OPUS","bitrate":128,"frequency":44100}`
	full := `{"roomName":"Full","autoDeletionDate":1900000000000,"autoDeletionPolicy":{"withMeeting":"force","withRecordings":"force"},
		"config":{"chat":{"enabled":false},"recording":{"enabled":true,"layout":"speaker","encoding":"H264_1080P_30"},
		"virtualBackground":{"enabled":false},"e2ee":{"enabled":false},"captions":{"enabled":false},"maxParticipants":30,"maxDurationMinutes":1440},
		"roles":{"moderator":{"permissions":{"recordingControl":false}},"speaker":{"permissions":{"canShareScreen":false}}},
		"access":{"anonymous":{"moderator":{"enabled":true},"speaker":{"enabled":false},"recording":{"enabled":false}},"user":{"enabled":false}}}`
	tests := []struct {
		name, subject, body string
		field, message      string // field "" when valid
	}{
		{"full payload", events.SubjectCreate, full, "", ""},
		{"partial config", events.SubjectCreate, `{"config":{"recording":{"enabled":false}}}`, "", ""},
		{"partial config, two fields", events.SubjectCreate, `{"config":{"recording":{"enabled":false},"chat":{"enabled":false}}}`, "", ""},
		{"advanced encoding", events.SubjectCreate, `{"config":{"recording":{"encoding":{` + video + `,` + audio + `}}}}`, "", ""},
		{"portrait preset", events.SubjectCreate, `{"config":{"recording":{"encoding":"PORTRAIT_H264_720P_30"}}}`, "", ""},
		{"no limits", events.SubjectCreate, `{"config":{"maxParticipants":null,"maxDurationMinutes":null}}`, "", ""},
		{"policy without date (ignored)", events.SubjectCreate, `{"autoDeletionPolicy":{"withMeeting":"force"}}`, "", ""},

		{"autoDeletionPolicy a string", events.SubjectCreate, `{"autoDeletionPolicy":"force"}`, "autoDeletionPolicy", "must be an object"},
		{"autoDeletionPolicy invalid value", events.SubjectCreate, `{"autoDeletionPolicy":{"withMeeting":"later"}}`, "autoDeletionPolicy.withMeeting", "must be one of force, when_meeting_ends"},
		{"withMeeting fail", events.SubjectCreate, `{"autoDeletionPolicy":{"withMeeting":"fail"}}`, "autoDeletionPolicy.withMeeting", "must be one of force, when_meeting_ends"},
		{"withRecordings fail", events.SubjectCreate, `{"autoDeletionPolicy":{"withRecordings":"fail"}}`, "autoDeletionPolicy.withRecordings", "must be one of force, close"},
		{"config a string", events.SubjectCreate, `{"config":"all"}`, "config", "must be an object"},
		{"config invalid structure", events.SubjectCreate, `{"config":{"recording":{"enabled":"yes"}}}`, "config.recording.enabled", "must be a boolean"},
		{"e2ee not an object", events.SubjectCreate, `{"config":{"e2ee":true}}`, "config.e2ee", "must be an object"},
		{"e2ee.enabled not a boolean", events.SubjectCreate, `{"config":{"e2ee":{"enabled":"true"}}}`, "config.e2ee.enabled", "must be a boolean"},
		{"layout unknown", events.SubjectCreate, `{"config":{"recording":{"layout":"mosaic"}}}`, "config.recording.layout", "must be one of grid, speaker, single-speaker"},
		{"video-only encoding", events.SubjectCreate, `{"config":{"recording":{"encoding":{` + video + `}}}}`, "config.recording.encoding.audio", "is required"},
		{"audio-only encoding", events.SubjectCreate, `{"config":{"recording":{"encoding":{` + audio + `}}}}`, "config.recording.encoding.video", "is required"},
		{"preset unknown", events.SubjectCreate, `{"config":{"recording":{"encoding":"H264_4K"}}}`, "config.recording.encoding", "must be one of"},
		{"video missing fields", events.SubjectCreate, `{"config":{"recording":{"encoding":{"video":{"width":1280},` + audio + `}}}}`, "config.recording.encoding.video.height", "is required"},
		{"audio missing fields", events.SubjectCreate, `{"config":{"recording":{"encoding":{` + video + `,"audio":{"codec":"OPUS"}}}}}`, "config.recording.encoding.audio.bitrate", "is required"},
		{"encoding empty object", events.SubjectCreate, `{"config":{"recording":{"encoding":{}}}}`, "config.recording.encoding.video", "is required"},
		{"encoding invalid types", events.SubjectCreate, `{"config":{"recording":{"encoding":{"video":{"width":"1280","height":720,"framerate":30,"codec":"H264_MAIN","bitrate":3000,"keyFrameInterval":4,"depth":24},` + audio + `}}}}`, "config.recording.encoding.video.width", "must be an integer"},
		{"maxParticipants 0", events.SubjectCreate, `{"config":{"maxParticipants":0}}`, "config.maxParticipants", "must be at least 1"},
		{"maxParticipants 31", events.SubjectCreate, `{"config":{"maxParticipants":31}}`, "config.maxParticipants", "must be at most 30"},
		{"maxParticipants a fraction", events.SubjectCreate, `{"config":{"maxParticipants":2.5}}`, "config.maxParticipants", "must be null or an integer"},
		{"maxDurationMinutes 0", events.SubjectCreate, `{"config":{"maxDurationMinutes":0}}`, "config.maxDurationMinutes", "must be at least 1"},
		{"maxDurationMinutes 1441", events.SubjectCreate, `{"config":{"maxDurationMinutes":1441}}`, "config.maxDurationMinutes", "must be at most 1440"},
		{"unknown permission", events.SubjectCreate, `{"roles":{"speaker":{"permissions":{"canFly":true}}}}`, "roles.speaker.permissions.canFly", "is not allowed"},
		{"permission not a boolean", events.SubjectCreate, `{"roles":{"speaker":{"permissions":{"chatWrite":"no"}}}}`, "roles.speaker.permissions.chatWrite", "must be a boolean"},
		{"access enabled not a boolean", events.SubjectCreate, `{"access":{"anonymous":{"speaker":{"enabled":"no"}}}}`, "access.anonymous.speaker.enabled", "must be a boolean"},
		{"roomName too long", events.SubjectCreate, `{"roomName":"` + strings.Repeat("é", 51) + `"}`, "roomName", "must be at most 50 characters"},

		{"update_config", events.SubjectUpdateConfig, `{"roomId":"r-123456789012345","config":{"recording":{"encoding":"H264_1080P_60"}}}`, "", ""},
		{"update_config without config", events.SubjectUpdateConfig, `{"roomId":"r"}`, "config", "is required"},
		{"update_config incorrect types", events.SubjectUpdateConfig, `{"roomId":"r","config":{"chat":{"enabled":"yes"}}}`, "config.chat.enabled", "must be a boolean"},
		{"update_config empty encoding", events.SubjectUpdateConfig, `{"roomId":"r","config":{"recording":{"encoding":{}}}}`, "config.recording.encoding.audio", "is required"},
		{"update_status open", events.SubjectUpdateStatus, `{"roomId":"r","status":"open"}`, "", ""},
		{"update_status closed", events.SubjectUpdateStatus, `{"roomId":"r","status":"closed"}`, "", ""},
		{"update_status active_meeting", events.SubjectUpdateStatus, `{"roomId":"r","status":"active_meeting"}`, "status", "must be one of open, closed"},
		{"update_status invalid", events.SubjectUpdateStatus, `{"roomId":"r","status":"ajar"}`, "status", "must be one of open, closed"},
		{"update_status without roomId", events.SubjectUpdateStatus, `{"status":"open"}`, "roomId", "is required"},
		{"update_roles", events.SubjectUpdateRoles, `{"roomId":"r","roles":{"speaker":{"permissions":{"canRetrieveRecordings":false}}}}`, "", ""},
		{"update_roles without roles", events.SubjectUpdateRoles, `{"roomId":"r"}`, "roles", "is required"},
		{"update_roles incorrect type", events.SubjectUpdateRoles, `{"roomId":"r","roles":{"moderator":{"permissions":{"meetingEnd":1}}}}`, "roles.moderator.permissions.meetingEnd", "must be a boolean"},
		{"update_access", events.SubjectUpdateAccess, `{"roomId":"r","access":{"anonymous":{"recording":{"enabled":false}}}}`, "", ""},
		{"update_access without access", events.SubjectUpdateAccess, `{"roomId":"r"}`, "access", "is required"},
		{"update_access incorrect types", events.SubjectUpdateAccess, `{"roomId":"r","access":{"anonymous":{"moderator":{"enabled":"true"}}}}`, "access.anonymous.moderator.enabled", "must be a boolean"},
		{"update_access switch without enabled", events.SubjectUpdateAccess, `{"roomId":"r","access":{"user":{}}}`, "access.user.enabled", "is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := schemas.ValidateCommand(tt.subject, []byte(tt.body))
			if tt.field == "" {
				require.NoError(t, err)
				return
			}
			e, ok := events.AsError(err)
			require.True(t, ok, "want a validation error, got %v", err)
			require.Equal(t, events.CodeInvalidArgument, e.Code)
			for _, d := range e.Details {
				if d.Field == tt.field && strings.Contains(d.Message, tt.message) {
					return
				}
			}
			t.Fatalf("no detail %s %q in %+v", tt.field, tt.message, e.Details)
		})
	}
}

// sampleMeetRoom is a stored room of OpenVidu Meet's model with every
// field set.
func sampleMeetRoom() store.Room {
	expires := int64(1764100000000)
	limit := 10
	cfg := events.DefaultConfig()
	cfg.MaxParticipants = &limit
	url := "http://localhost:8080/room/my_room-3kq9x2m4p7a1b8c"
	return store.Room{
		RoomID: "my_room-3kq9x2m4p7a1b8c", RoomName: "My Room", CreationDate: 1764000000000,
		AutoDeletionDate: &expires, SchemaVersion: store.RoomSchemaVersion, Owner: events.OwnerAdmin,
		AutoDeletionPolicy: &events.AutoDeletionPolicy{WithMeeting: events.PolicyForce, WithRecordings: events.PolicyClose},
		Config:             cfg,
		Roles:              events.DefaultRoles(),
		Access: events.Access{
			Anonymous: events.AnonymousAccess{
				Moderator: events.Link{Enabled: true, URL: url + "?secret=never-in-json-1"},
				Speaker:   events.Link{Enabled: true, URL: url + "?secret=never-in-json-2"},
				Recording: events.Link{Enabled: false, URL: url + "/recordings?secret=never-in-json-3"},
			},
			User: events.Link{URL: url},
		},
		Status: events.StatusActiveMeeting, RolesUpdatedAt: 1764000000001, MeetingEndAction: events.EndActionClose,
		ModeratorSecret: "never-in-json-1", SpeakerSecret: "never-in-json-2", RecordingSecret: "never-in-json-3",
		Version: 3, Applied: []string{"c1"},
	}
}

func TestRoundTripMeetRoom(t *testing.T) {
	t.Parallel()
	full := sampleMeetRoom()
	noExpiry := sampleMeetRoom()
	noExpiry.AutoDeletionDate, noExpiry.AutoDeletionPolicy = nil, nil
	advanced := sampleMeetRoom()
	advanced.Config.Recording.Encoding = json.RawMessage(`{"video":{"width":1280,"height":720,"framerate":30,"codec":"H264_MAIN","bitrate":3000,"keyFrameInterval":4,"depth":24},"audio":{"codec":"OPUS","bitrate":128,"frequency":44100}}`)
	for name, r := range map[string]store.Room{"full": full, "no expiry": noExpiry, "advanced encoding": advanced} {
		v := r.View()
		raw := mustJSON(t, v)
		require.NoError(t, schemas.Validate("meetroom", raw), name)
		require.NotContains(t, strings.ReplaceAll(string(raw), "secret=never-in-json", ""), "never-in-json", "secrets only inside the URLs")
		ok := func(typ string, data any) []byte {
			return mustJSON(t, events.Result{CommandID: "c", Type: typ, OK: true, Status: 200, Data: mustJSON(t, data)})
		}
		require.NoError(t, schemas.Validate(schemas.Result, ok(events.SubjectCreate, v)), name)
		require.NoError(t, schemas.Validate(schemas.Result, ok(events.SubjectUpdateStatus, v)), name)
		require.NoError(t, schemas.Validate(schemas.Result, ok(events.SubjectUpdateConfig, v.Config)), name)
		require.NoError(t, schemas.Validate(schemas.Result, ok(events.SubjectUpdateRoles, v.Roles)), name)
		require.NoError(t, schemas.Validate(schemas.Result, ok(events.SubjectUpdateAccess, v.Access)), name)
		requireField(t, schemas.Validate(schemas.Result, ok(events.SubjectUpdateConfig, v)), "data.roomId", "is not allowed")
	}
	// A record of the old shape reads with the model's defaults.
	old := store.Room{RoomID: "Old-3kq9x2m4p7a1b8c", RoomName: "Old"}
	v := old.View()
	require.Equal(t, events.OwnerAdmin, v.Owner)
	require.Equal(t, events.StatusOpen, v.Status)
	require.Equal(t, events.EndActionNone, v.MeetingEndAction)
}

// sampleMeetView is sampleMeetRoom as other services see it.
func sampleMeetView() events.Room {
	r := sampleMeetRoom()
	return r.View()
}
