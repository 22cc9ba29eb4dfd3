package workers_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/internal/testenv/ferret"
	"github.com/roomkeeper/roomkeeper/internal/workertest"
	"github.com/roomkeeper/roomkeeper/store"
	"github.com/roomkeeper/roomkeeper/store/mongo"
)

// The pipeline on the production store: MongoDB's wire protocol through the
// official driver (FerretDB here, TEST_MONGO_URI when set).
func TestCreateAndDeleteOnMongoStore(t *testing.T) {
	t.Parallel()
	st, err := mongo.Open(context.Background(), mongo.Config{URI: ferret.MongoURI(t), Database: ferret.DatabaseName(t)})
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	b := setup(t, workertest.SetupOpts{Store: st})
	b.Start(t, workertest.WorkerOpts{})

	b.Send(t, "m-create", events.CreateRoom{RoomName: ptr("on mongo")})
	b.Send(t, "m-create", events.CreateRoom{RoomName: ptr("on mongo")})
	b.SendRaw(t, "m-bad", events.SubjectCreate, `{"roomName": 7}`)
	room := roomOf(t, b.Result(t, "m-create"))
	require.Equal(t, events.CodeInvalidArgument, b.Result(t, "m-bad").Error.Code)
	got, err := st.GetRoom(ctxT(t, 10*time.Second), room.RoomID)
	require.NoError(t, err)
	require.Equal(t, "on mongo", got.RoomName)
	rec, err := st.GetCommand(ctxT(t, 10*time.Second), "m-create")
	require.NoError(t, err)
	require.Equal(t, store.StatusDone, rec.Status)

	b.Send(t, "m-delete", events.DeleteRooms{RoomIDs: []string{room.RoomID}})
	res := b.Result(t, "m-delete")
	var dr events.DeleteResult
	require.NoError(t, json.Unmarshal(res.Data, &dr))
	require.Len(t, dr.Deleted, 1)
	require.Equal(t, room.RoomID, dr.Deleted[0].RoomID)
	require.EqualValues(t, 0, b.CountRooms(t))
	require.Len(t, b.StreamMsgs(t, events.StreamEvents, "rooms.events.>"), 2, "one created, one deleted")
	require.Len(t, b.StreamMsgs(t, events.StreamDead, "rooms.dead.>"), 1)
}
