package rooms

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/roomkeeper/roomkeeper/events"
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
