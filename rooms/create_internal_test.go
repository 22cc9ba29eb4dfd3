package rooms

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/handler"
	"github.com/roomkeeper/roomkeeper/schemas"
)

// A plan stored by the previous version (no recording secret, the speaker
// secret under its old name) builds the same room on every run, with a
// recording secret of its own.
func TestCreateFromAnOldPlanConverges(t *testing.T) {
	t.Parallel()
	var p createPlan
	require.NoError(t, json.Unmarshal([]byte(`{"suffix":"abcdefghijklmno","moderatorSecret":"MODMODMODMODMODMODMODMODMO","publisherSecret":"SPKSPKSPKSPKSPKSPKSPKSPKSP","creationDate":1764000000000}`), &p))
	require.Equal(t, "SPKSPKSPKSPKSPKSPKSPKSPKSP", p.SpeakerSecret)
	sec := derivedRecordingSecret(p)
	require.Equal(t, sec, derivedRecordingSecret(p))
	require.Regexp(t, `^[A-Z2-7]{26}$`, sec, "128 bits, written as the other secrets are")
	require.NotEqual(t, p.ModeratorSecret, sec)
	require.NotEqual(t, p.SpeakerSecret, sec)
	other := p
	other.Suffix = "zzzzzzzzzzzzzzz"
	require.NotEqual(t, sec, derivedRecordingSecret(other))

	h := createHandler{&Rooms{BaseURL: "http://x"}}
	p.RecordingSecret = sec
	r := h.build(events.CreateRoom{}, p)
	require.Equal(t, "http://x/room/room-abcdefghijklmno/recordings?secret="+sec, r.Access.Anonymous.Recording.URL)
	require.Equal(t, sec, r.RecordingSecret)
}

// FuzzCreateBuildsValidRooms: any body the worker accepts (schema, then
// Validate) builds a room that matches the contract's room schema.
func FuzzCreateBuildsValidRooms(f *testing.F) {
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"roomName":"  Reunión   de Niños ","autoDeletionDate":4000000000000,"autoDeletionPolicy":{"withMeeting":"force"}}`))
	f.Add([]byte(`{"config":{"e2ee":{"enabled":true},"recording":{"layout":"speaker","encoding":{"video":{"width":1,"height":1,"framerate":1,"codec":"VP8","bitrate":1,"keyFrameInterval":0,"depth":1},"audio":{"codec":"AAC","bitrate":1,"frequency":1}}},"maxParticipants":30,"maxDurationMinutes":null}}`))
	f.Add([]byte(`{"roles":{"moderator":{"permissions":{"canRetrieveRecordings":false}},"speaker":{"permissions":{"chatWrite":false}}},"access":{"anonymous":{"moderator":{"enabled":false}},"user":{"enabled":false}}}`))
	f.Add([]byte(`{"roomName":"🎉","preferences":{"chatPreferences":{"enabled":false},"recordingPreferences":{"enabled":false},"virtualBackgroundPreferences":{"enabled":true}}}`))
	h := createHandler{&Rooms{BaseURL: "http://localhost:8080", MinAutoDeletionDelay: time.Hour}}
	now := time.UnixMilli(1_764_000_000_000)
	plan := createPlan{Suffix: "abcdefghijklmno", ModeratorSecret: "M", SpeakerSecret: "S", RecordingSecret: "R", CreationDate: now.UnixMilli()}
	f.Fuzz(func(t *testing.T, body []byte) {
		c, err := handler.DecodeJSON[events.CreateRoom](events.SubjectCreate, body)
		if err != nil {
			return
		}
		if h.Validate(c, now) != nil {
			return
		}
		r := h.build(c, plan)
		raw, err := json.Marshal(r.View())
		require.NoError(t, err)
		require.NoError(t, schemas.Validate("meetroom", raw), "%s -> %s", body, raw)
	})
}
