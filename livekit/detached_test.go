package livekit_test

import (
	"context"
	"errors"
	"testing"
	"time"

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

	_, _, ok, err := c.MeetingStart(ctx, "Room-abc")
	require.NoError(t, err)
	require.False(t, ok)

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

func TestDetachedExtraLatency(t *testing.T) {
	t.Parallel()
	const d = 30 * time.Millisecond
	c, err := livekit.New(livekit.Config{ExtraLatency: d})
	require.NoError(t, err)
	ctx := context.Background()
	for name, call := range map[string]func() error{
		"HasActiveMeeting": func() error { _, err := c.HasActiveMeeting(ctx, "Room-abc"); return err },
		"RoomExists":       func() error { _, err := c.RoomExists(ctx, "Room-abc"); return err },
		"DeleteRoom":       func() error { return c.DeleteRoom(ctx, "Room-abc") },
	} {
		start := time.Now()
		require.NoError(t, call(), name)
		require.GreaterOrEqual(t, time.Since(start), d, name)
	}
	// A context that ends first cuts the wait short, as for a real call.
	short, cancel := context.WithTimeout(ctx, time.Millisecond)
	defer cancel()
	c2, err := livekit.New(livekit.Config{ExtraLatency: time.Minute})
	require.NoError(t, err)
	_, err = c2.HasActiveMeeting(short, "Room-abc")
	require.ErrorIs(t, err, livekit.ErrUnavailable)
}
