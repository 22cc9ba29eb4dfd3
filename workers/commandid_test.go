package workers_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/internal/workertest"
)

// A command ID names one command: a delete sent with the ID of a create
// does not get the create's result as its own, and deletes nothing.
func TestDoWithTheIDOfAnotherCommandIsInvalid(t *testing.T) {
	t.Parallel()
	b := setup(t, workertest.SetupOpts{})
	w := b.Start(t, workertest.WorkerOpts{})
	const id = "shared-id-1"
	room, err := b.Client.CreateRoom(ctxT(t, 30*time.Second), id, events.CreateRoom{RoomName: ptr("Shared")})
	require.NoError(t, err)
	w.Stop(t) // the stored result answers the second command

	res, err := b.Client.DeleteRooms(ctxT(t, 30*time.Second), id, events.DeleteRooms{RoomIDs: []string{room.RoomID}})
	require.Nil(t, res)
	e, ok := events.AsError(err)
	require.True(t, ok, "error %v is not an *events.Error", err)
	require.Equal(t, events.CodeInvalidArgument, e.Code)
	require.Equal(t, "command ID shared-id-1 belongs to a create command", e.Message)

	_, err = b.Store.GetRoom(ctxT(t, 10*time.Second), room.RoomID)
	require.NoError(t, err, "the room is still there")
}
