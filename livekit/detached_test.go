package livekit_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/roomkeeper/roomkeeper/livekit"
)

func TestDetached(t *testing.T) {
	t.Parallel()
	// A key and secret without a URL still make a detached client.
	c, err := livekit.New(livekit.Config{APIKey: "k", APISecret: "s"})
	require.NoError(t, err)
	require.True(t, c.Detached())
	ctx := context.Background()

	active, err := c.HasActiveMeeting(ctx, "Room-abc")
	require.NoError(t, err)
	require.False(t, active)

	exists, err := c.RoomExists(ctx, "Room-abc")
	require.NoError(t, err)
	require.False(t, exists)

	rooms, err := c.ListRooms(ctx, []string{"Room-abc"})
	require.NoError(t, err)
	require.Empty(t, rooms)

	require.NoError(t, c.DeleteRoom(ctx, "Room-abc"))

	unavailable := func(err error) {
		t.Helper()
		require.Error(t, err)
		require.True(t, errors.Is(err, livekit.ErrUnavailable), "got %v", err)
	}
	unavailable(c.EnsureRoom(ctx, "Room-abc", map[string]any{"x": 1}))
	unavailable(c.SendData(ctx, "Room-abc", "topic", []byte("{}")))
	_, err = c.ParticipantToken("Room-abc", "alice", "Alice", livekit.RoleModerator, "")
	unavailable(err)
	_, err = c.RecordingToken("Room-abc", livekit.RolePublisher, true, false)
	unavailable(err)
}
