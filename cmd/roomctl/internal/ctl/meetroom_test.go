package ctl_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/roomkeeper/roomkeeper/cmd/roomctl/internal/ctl"
	"github.com/roomkeeper/roomkeeper/events"
)

// The create options and the four updates of OpenVidu Meet's model, from
// the command line to the stored room and back.
func TestMeetRoomCommands(t *testing.T) {
	t.Parallel()
	url := embedded(t)

	r := roomctl(t, url, "create", "--name", "Board", "--auto-deletion-date", time.Now().Add(2*time.Hour).UTC().Format(time.RFC3339),
		"--with-meeting", "force", "--config", `{"recording":{"layout":"speaker"},"maxParticipants":8}`,
		"--roles", `{"speaker":{"permissions":{"canShareScreen":false}}}`, "--access", `{"anonymous":{"recording":{"enabled":false}}}`)
	require.Equal(t, ctl.ExitOK, r.code, "%s%s", r.out, r.errOut)
	res := r.result(t)
	require.Equal(t, 201, res.Status)
	var room events.Room
	require.NoError(t, json.Unmarshal(res.Data, &room))
	require.Regexp(t, `^board-[a-z0-9]{15}$`, room.RoomID)
	require.Equal(t, &events.AutoDeletionPolicy{WithMeeting: events.PolicyForce, WithRecordings: events.PolicyClose}, room.AutoDeletionPolicy)
	require.Equal(t, events.LayoutSpeaker, room.Config.Recording.Layout)
	require.Equal(t, 8, *room.Config.MaxParticipants)
	require.False(t, room.Roles.Speaker.Permissions.MediaShareScreen)
	require.False(t, room.Access.Anonymous.Recording.Enabled)

	r = roomctl(t, url, "update-config", room.RoomID, "--config", `{"maxParticipants":null,"chat":{"enabled":false}}`)
	require.Equal(t, ctl.ExitOK, r.code, "%s%s", r.out, r.errOut)
	var cfg events.Config
	require.NoError(t, json.Unmarshal(r.result(t).Data, &cfg))
	require.Nil(t, cfg.MaxParticipants)
	require.False(t, cfg.Chat.Enabled)
	require.Equal(t, events.LayoutSpeaker, cfg.Recording.Layout)

	r = roomctl(t, url, "update-roles", room.RoomID, "--roles", `{"moderator":{"permissions":{"meetingEnd":false}}}`)
	require.Equal(t, ctl.ExitOK, r.code, "%s%s", r.out, r.errOut)
	var roles events.Roles
	require.NoError(t, json.Unmarshal(r.result(t).Data, &roles))
	require.False(t, roles.Moderator.Permissions.MeetingEnd)
	require.False(t, roles.Speaker.Permissions.MediaShareScreen)

	r = roomctl(t, url, "update-access", room.RoomID, "--access", `{"anonymous":{"recording":{"enabled":true}}}`)
	require.Equal(t, ctl.ExitOK, r.code, "%s%s", r.out, r.errOut)
	var access events.Access
	require.NoError(t, json.Unmarshal(r.result(t).Data, &access))
	require.Equal(t, room.Access.Anonymous.Recording.URL, access.Anonymous.Recording.URL)
	require.True(t, access.Anonymous.Recording.Enabled)

	r = roomctl(t, url, "update-status", room.RoomID, "closed")
	require.Equal(t, ctl.ExitOK, r.code, "%s%s", r.out, r.errOut)
	res = r.result(t)
	require.Equal(t, 200, res.Status)
	var closed events.Room
	require.NoError(t, json.Unmarshal(res.Data, &closed))
	require.Equal(t, events.StatusClosed, closed.Status)

	// An error result exits 1 and prints upstream's error.
	r = roomctl(t, url, "update-status", "gone-aaaaaaaaaaaaaaa", "open")
	require.Equal(t, ctl.ExitErrorResult, r.code)
	res = r.result(t)
	require.Equal(t, 404, res.Status)
	require.Equal(t, "Room 'gone-aaaaaaaaaaaaaaa' does not exist", res.Error.Message)
}
