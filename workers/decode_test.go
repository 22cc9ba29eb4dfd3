package workers_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/handler"
	"github.com/roomkeeper/roomkeeper/internal/workertest"
)

const prefsEveryone = `{"chatPreferences":{"enabled":true},"recordingPreferences":{"enabled":true,"allowAccessTo":"everyone"},"virtualBackgroundPreferences":{"enabled":true}}`

// The schema matches property names exactly and ignores unknown ones;
// encoding/json matched them in any letter case, so a body the schema
// accepted set fields to values it never checked. Such properties are now
// ignored, as unknown properties are.
func TestDecodeMatchesPropertyNamesExactly(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 10_000)

	t.Run("top level", func(t *testing.T) {
		c, err := handler.DecodeJSON[events.CreateRoom](events.SubjectCreate, []byte(`{"ROOMNAME":"`+long+`","Preferences":`+prefsEveryone+`,"AutoDeletionDate":-5}`))
		require.NoError(t, err)
		require.Nil(t, c.RoomName)
		require.Nil(t, c.Preferences)
		require.Nil(t, c.AutoDeletionDate)
	})
	t.Run("beside the exact name", func(t *testing.T) {
		// encoding/json takes the last of the two.
		c, err := handler.DecodeJSON[events.CreateRoom](events.SubjectCreate, []byte(`{"roomName":"Mine","roomname":"`+long+`"}`))
		require.NoError(t, err)
		require.Equal(t, "Mine", *c.RoomName)
	})
	t.Run("nested", func(t *testing.T) {
		body := `{"roomId":"r","preferences":{"chatPreferences":{"enabled":true},"recordingPreferences":{"enabled":true,"allowAccessTo":"admin","ALLOWACCESSTO":"everyone"},"virtualBackgroundPreferences":{"enabled":true,"Enabled":false}}}`
		c, err := handler.DecodeJSON[events.UpdatePreferences](events.SubjectUpdatePreferences, []byte(body))
		require.NoError(t, err)
		require.Equal(t, events.AccessAdmin, c.Preferences.RecordingPreferences.AllowAccessTo)
		require.True(t, c.Preferences.VirtualBackgroundPreferences.Enabled)
	})
	t.Run("in arrays", func(t *testing.T) {
		c, err := handler.DecodeJSON[events.DeleteRooms](events.SubjectDelete, []byte(`{"roomIds":["a","b"],"FORCE":true,"RoomIds":["c"]}`))
		require.NoError(t, err)
		require.Equal(t, []string{"a", "b"}, c.RoomIDs)
		require.False(t, c.Force)
	})
	t.Run("numbers kept as they came", func(t *testing.T) {
		c, err := handler.DecodeJSON[events.CreateRoom](events.SubjectCreate, []byte(`{"autoDeletionDate":8640000000000000}`))
		require.NoError(t, err)
		require.Equal(t, int64(8_640_000_000_000_000), *c.AutoDeletionDate)
	})
	t.Run("still invalid", func(t *testing.T) {
		_, err := handler.DecodeJSON[events.CreateRoom](events.SubjectCreate, []byte(`{"roomName":"`+long+`"}`))
		e, ok := events.AsError(err)
		require.True(t, ok, "%v", err)
		require.Equal(t, events.CodeInvalidArgument, e.Code)
		require.Equal(t, "roomName", e.Details[0].Field)
	})
}

// End to end: a create whose name is under a key in other letters creates
// a room with the default name and preferences.
func TestCreateIgnoresNamesInOtherLetterCase(t *testing.T) {
	t.Parallel()
	b := setup(t, workertest.SetupOpts{})
	b.Start(t, workertest.WorkerOpts{})
	long := strings.Repeat("x", 10_000)
	b.SendRaw(t, "case-1", events.SubjectCreate, `{"ROOMNAME":"`+long+`","Preferences":`+prefsEveryone+`}`)
	room := workertest.RoomOf(t, b.Result(t, "case-1"))
	require.Equal(t, "Room", room.RoomName)
	require.Equal(t, events.DefaultConfig(), room.Config)

	stored, err := b.Store.GetRoom(ctxT(t, 10*time.Second), room.RoomID)
	require.NoError(t, err)
	require.Equal(t, "Room", stored.RoomName)
	require.Equal(t, events.DefaultPreferences(), stored.Preferences)
}
