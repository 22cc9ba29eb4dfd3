package rooms_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/internal/testenv/ferret"
	"github.com/roomkeeper/roomkeeper/internal/workertest"
	"github.com/roomkeeper/roomkeeper/store/mongo"
)

// A create with every option and each update, on the MongoDB store
// (FerretDB here, TEST_MONGO_URI when set): what the command answers is
// what the store keeps.
func TestCreateAndUpdatesOnMongoStore(t *testing.T) {
	t.Parallel()
	st, err := mongo.Open(context.Background(), mongo.Config{URI: ferret.MongoURI(t), Database: ferret.DatabaseName(t)})
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	b := setup(t, workertest.SetupOpts{Store: st})
	b.Start(t, workertest.WorkerOpts{})

	date := int64(4_000_000_000_000)
	room := b.create(t, "m-create", events.CreateRoom{
		RoomName: ptr("Sala Mongo"), AutoDeletionDate: &date,
		AutoDeletionPolicy: &events.AutoDeletionPolicyOptions{WithRecordings: events.PolicyForce},
		Config: &events.ConfigOptions{
			Recording:       &events.RecordingOptions{Encoding: json.RawMessage(`{"video":{"width":640,"height":360,"framerate":15,"codec":"VP8","bitrate":800,"keyFrameInterval":2,"depth":24},"audio":{"codec":"OPUS","bitrate":64,"frequency":48000}}`)},
			MaxParticipants: events.Some(5),
		},
		Roles:  &events.RolesOptions{Speaker: &events.RoleOptions{Permissions: map[string]bool{"canPublishVideo": false}}},
		Access: &events.AccessOptions{Anonymous: &events.AnonymousAccessOptions{Moderator: &events.SwitchOptions{}}},
	})
	require.Regexp(t, `^sala_mongo-[a-z0-9]{15}$`, room.RoomID)
	stored := b.storedRoom(t, room.RoomID)
	require.JSONEq(t, string(mustJSON(t, room)), string(mustJSON(t, stored.View())), "every field kept")

	okData[events.Config](t, b, "m-config", events.UpdateConfig{RoomID: room.RoomID, Config: events.ConfigOptions{MaxParticipants: events.Null[int]()}}, 200)
	okData[events.Roles](t, b, "m-roles", events.UpdateRoles{RoomID: room.RoomID, Roles: events.RolesOptions{Moderator: &events.RoleOptions{Permissions: map[string]bool{"meetingEnd": false}}}}, 200)
	okData[events.Access](t, b, "m-access", events.UpdateAccess{RoomID: room.RoomID, Access: events.AccessOptions{Anonymous: &events.AnonymousAccessOptions{Moderator: &events.SwitchOptions{Enabled: true}}}}, 200)
	b.setStatus(t, room.RoomID, events.StatusActiveMeeting)
	got := okData[events.Room](t, b, "m-status", events.UpdateStatus{RoomID: room.RoomID, Status: events.StatusClosed}, 202)

	stored = b.storedRoom(t, room.RoomID)
	require.Nil(t, stored.Config.MaxParticipants)
	require.False(t, stored.Roles.Moderator.Permissions.MeetingEnd)
	require.False(t, stored.Roles.Speaker.Permissions.MediaPublishVideo)
	require.True(t, stored.Access.Anonymous.Moderator.Enabled)
	require.Equal(t, events.EndActionClose, stored.MeetingEndAction)
	require.JSONEq(t, string(mustJSON(t, got)), string(mustJSON(t, stored.View())))
}
