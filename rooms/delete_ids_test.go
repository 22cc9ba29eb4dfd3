package rooms_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/handler"
	"github.com/roomkeeper/roomkeeper/internal/workertest"
	"github.com/roomkeeper/roomkeeper/rooms"
)

func distinctIDs(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("Room-%07d", i)
	}
	return out
}

func TestDeleteRoomIDsSanitisedOnceInOrder(t *testing.T) {
	t.Parallel()
	require.Equal(t, []string{"a", "Bc", "d-e"},
		rooms.RoomIDs([]string{"a", "$$", "B c", "a", "  ", "d--e", "Bc", "d-e!"}))
	require.Empty(t, rooms.RoomIDs([]string{"$", " "}))

	reg := handler.NewRegistry()
	require.NoError(t, (&rooms.Rooms{MinAutoDeletionDelay: time.Hour}).Register(reg))
	msg, _, err := workertest.Decode(reg, events.SubjectDelete, []byte(`{"roomIds":["x","x ","$x$","y"]}`), time.Now())
	require.NoError(t, err)
	require.Equal(t, []string{"x", "y"}, msg.(events.DeleteRooms).RoomIDs, "the handler gets the list made once at decoding")
}

// Deduplicating was quadratic: 40,000 distinct IDs cost seconds of CPU.
// Twenty times the IDs must cost about twenty times as much, not four
// hundred (the bound leaves room for a busy machine and cache effects).
func TestDeleteRoomIDsLinear(t *testing.T) {
	small, large := distinctIDs(2_000), distinctIDs(40_000)
	cost := func(ids []string) float64 {
		r := testing.Benchmark(func(b *testing.B) {
			for b.Loop() {
				rooms.RoomIDs(ids)
			}
		})
		return float64(r.NsPerOp())
	}
	cs, cl := cost(small), cost(large)
	t.Logf("2,000 IDs: %.2f ms; 40,000 IDs: %.2f ms; ratio %.1f", cs/1e6, cl/1e6, cl/cs)
	require.Less(t, cl/cs, 100.0, "40,000 IDs cost %.1f× 2,000 IDs: not linear", cl/cs)
}

// A delete lists at most events.MaxDeleteRoomIDs room IDs.
func TestDeleteRoomIDsCapped(t *testing.T) {
	t.Parallel()
	reg := handler.NewRegistry()
	require.NoError(t, (&rooms.Rooms{MinAutoDeletionDelay: time.Hour}).Register(reg))
	body := func(n int) []byte {
		raw, err := json.Marshal(events.DeleteRooms{RoomIDs: distinctIDs(n)})
		require.NoError(t, err)
		return raw
	}

	msg, _, err := workertest.Decode(reg, events.SubjectDelete, body(events.MaxDeleteRoomIDs), time.Now())
	require.NoError(t, err)
	require.Len(t, msg.(events.DeleteRooms).RoomIDs, events.MaxDeleteRoomIDs)

	for _, n := range []int{events.MaxDeleteRoomIDs + 1, 40_000} {
		_, _, err = workertest.Decode(reg, events.SubjectDelete, body(n), time.Now())
		e, ok := events.AsError(err)
		require.True(t, ok, "%d IDs: %v", n, err)
		require.Equal(t, events.CodeInvalidArgument, e.Code)
		require.Equal(t, []events.FieldError{{Field: "roomIds", Message: fmt.Sprintf("must hold at most %d items", events.MaxDeleteRoomIDs)}}, e.Details)
	}
}

// End to end: the result of a delete over the cap is invalid_argument on
// roomIds, and nothing is deleted.
func TestDeleteOverTheCapIsInvalid(t *testing.T) {
	t.Parallel()
	b := setup(t, workertest.SetupOpts{})
	b.Start(t, workertest.WorkerOpts{})
	room := b.createRoom(t, "cap-create", events.CreateRoom{})
	ids := append(distinctIDs(events.MaxDeleteRoomIDs), room.RoomID)
	_, err := b.Client.DeleteRooms(ctxT(t, 30*time.Second), "cap-delete", events.DeleteRooms{RoomIDs: ids})
	e, ok := events.AsError(err)
	require.True(t, ok, "%v", err)
	require.Equal(t, events.CodeInvalidArgument, e.Code)
	require.Equal(t, "roomIds", e.Details[0].Field)
	require.EqualValues(t, 1, b.CountRooms(t))
}
