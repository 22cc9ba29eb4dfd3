package livekit_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/livekit/protocol/auth"
	"github.com/stretchr/testify/require"

	"github.com/roomkeeper/roomkeeper/livekit"
)

const (
	testKey    = "APItestkey"
	testSecret = "test-secret-test-secret-test-secret-0123"
)

func tokenClient(t *testing.T) *livekit.Client {
	t.Helper()
	c, err := livekit.New(livekit.Config{URL: "ws://127.0.0.1:7880", APIKey: testKey, APISecret: testSecret})
	require.NoError(t, err)
	return c
}

// verify parses and verifies a token the way LiveKit does and returns its
// grants and expiry.
func verify(t *testing.T, token, secret string) (*auth.ClaimGrants, time.Time) {
	t.Helper()
	v, err := auth.ParseAPIToken(token)
	require.NoError(t, err)
	require.Equal(t, testKey, v.APIKey())
	claims, grants, err := v.Verify(secret)
	require.NoError(t, err)
	return grants, claims.ExpiresAt.Time
}

func TestParticipantToken(t *testing.T) {
	t.Parallel()
	c := tokenClient(t)
	for _, tc := range []struct {
		role  string
		admin bool
	}{
		{livekit.RoleModerator, true},
		{livekit.RolePublisher, false},
	} {
		token, err := c.ParticipantToken("MyRoom-abc", "alice", "Alice A.", tc.role, `{"selectedRole":"`+tc.role+`"}`)
		require.NoError(t, err)
		grants, exp := verify(t, token, testSecret)
		require.Equal(t, "alice", grants.Identity)
		require.Equal(t, "Alice A.", grants.Name)
		require.JSONEq(t, `{"selectedRole":"`+tc.role+`"}`, grants.Metadata)
		require.NotNil(t, grants.Video)
		require.True(t, grants.Video.RoomJoin)
		require.Equal(t, "MyRoom-abc", grants.Video.Room)
		require.Equal(t, tc.admin, grants.Video.RoomAdmin, tc.role)
		require.True(t, grants.Video.GetCanPublish())
		require.True(t, grants.Video.GetCanSubscribe())
		require.True(t, grants.Video.GetCanPublishData())
		require.False(t, grants.Video.RoomCreate)
		require.False(t, grants.Video.RoomList)
		require.WithinDuration(t, time.Now().Add(livekit.DefaultTokenTTL), exp, 5*time.Second)
	}

	// The name defaults to the identity.
	token, err := c.ParticipantToken("MyRoom-abc", "bob", "", livekit.RolePublisher, "")
	require.NoError(t, err)
	grants, _ := verify(t, token, testSecret)
	require.Equal(t, "bob", grants.Name)
	require.Empty(t, grants.Metadata)

	// Another secret does not verify it.
	v, err := auth.ParseAPIToken(token)
	require.NoError(t, err)
	_, _, err = v.Verify("another-secret-another-secret-another-se")
	require.Error(t, err)
}

func TestParticipantTokenTTL(t *testing.T) {
	t.Parallel()
	c, err := livekit.New(livekit.Config{URL: "ws://127.0.0.1:7880", APIKey: testKey, APISecret: testSecret, TokenTTL: 10 * time.Minute})
	require.NoError(t, err)
	token, err := c.ParticipantToken("R-1", "alice", "", livekit.RolePublisher, "")
	require.NoError(t, err)
	_, exp := verify(t, token, testSecret)
	require.WithinDuration(t, time.Now().Add(10*time.Minute), exp, 5*time.Second)
}

func TestRecordingToken(t *testing.T) {
	t.Parallel()
	c := tokenClient(t)
	token, err := c.RecordingToken("MyRoom-abc", livekit.RoleModerator, true, true)
	require.NoError(t, err)
	grants, exp := verify(t, token, testSecret)
	require.WithinDuration(t, time.Now().Add(2*time.Hour), exp, 5*time.Second)
	require.JSONEq(t, `{"role":"moderator","recordingPermissions":{"canRetrieveRecordings":true,"canDeleteRecordings":true}}`, grants.Metadata)
	require.Equal(t, "MyRoom-abc", grants.Video.Room)
	require.False(t, grants.Video.RoomJoin, "a recording token must not join a meeting")
	require.False(t, grants.Video.RoomAdmin)
	require.False(t, grants.Video.GetCanPublish())
	require.False(t, grants.Video.GetCanSubscribe())
	require.False(t, grants.Video.GetCanPublishData())

	token, err = c.RecordingToken("MyRoom-abc", livekit.RolePublisher, true, false)
	require.NoError(t, err)
	grants, _ = verify(t, token, testSecret)
	var md livekit.RecordingTokenMetadata
	require.NoError(t, json.Unmarshal([]byte(grants.Metadata), &md))
	require.Equal(t, livekit.RecordingTokenMetadata{
		Role:                 livekit.RolePublisher,
		RecordingPermissions: livekit.RecordingPermissions{CanRetrieveRecordings: true},
	}, md)
}

func TestTokenArguments(t *testing.T) {
	t.Parallel()
	c := tokenClient(t)
	invalid := func(_ string, err error) {
		t.Helper()
		require.True(t, errors.Is(err, livekit.ErrInvalidArgument), "got %v", err)
	}
	invalid(c.ParticipantToken("", "alice", "", livekit.RolePublisher, ""))
	invalid(c.ParticipantToken("R-1", "", "", livekit.RolePublisher, ""))
	invalid(c.ParticipantToken("R-1", "alice", "", "admin", ""))
	invalid(c.RecordingToken("", livekit.RolePublisher, true, false))
	invalid(c.RecordingToken("R-1", "owner", true, false))
}
