package livekit_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/stretchr/testify/require"

	lktest "github.com/roomkeeper/roomkeeper/internal/testenv/livekit"
)

func TestServerJoinAndData(t *testing.T) {
	t.Parallel()
	srv := lktest.Start(t, lktest.Options{EmptyTimeout: 5 * time.Second, DepartureTimeout: 2 * time.Second})
	require.Regexp(t, `^ws://127\.0\.0\.1:\d+$`, srv.URL)

	p := lktest.Join(t, srv, "helper-room", "alice")
	require.Equal(t, "alice", p.Identity)

	rs := lksdk.NewRoomServiceClient(srv.URL, srv.APIKey, srv.APISecret)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res, err := rs.ListParticipants(ctx, &livekit.ListParticipantsRequest{Room: "helper-room"})
	require.NoError(t, err)
	require.Len(t, res.Participants, 1)
	require.Equal(t, "alice", res.Participants[0].Identity)

	topic := "hello"
	_, err = rs.SendData(ctx, &livekit.SendDataRequest{
		Room: "helper-room", Data: []byte(`{"x":1}`), Kind: livekit.DataPacket_RELIABLE, Topic: &topic,
	})
	require.NoError(t, err)
	msg := p.WaitData(t, "hello", 5*time.Second)
	require.JSONEq(t, `{"x":1}`, string(msg.Payload))
	require.Empty(t, msg.From)

	_, err = rs.DeleteRoom(ctx, &livekit.DeleteRoomRequest{Room: "helper-room"})
	require.NoError(t, err)
	p.WaitDisconnected(t, 5*time.Second)
}

func TestServerStop(t *testing.T) {
	t.Parallel()
	srv := lktest.Start(t, lktest.Options{})
	srv.Stop()
	select {
	case <-srv.Stopped():
	default:
		t.Fatal("server still running after Stop")
	}
	_, err := http.Get(srv.HTTPURL)
	require.Error(t, err)
	srv.Stop() // idempotent
}

func TestParallelServersGetDistinctPorts(t *testing.T) {
	t.Parallel()
	a := lktest.Start(t, lktest.Options{})
	b := lktest.Start(t, lktest.Options{})
	require.NotEqual(t, a.Port, b.Port)
	require.NotEqual(t, a.APIKey, b.APIKey)
}

// A killed server comes back on the same URL and keys, without the rooms it
// had (LiveKit keeps them in memory).
func TestServerKillRestart(t *testing.T) {
	t.Parallel()
	srv := lktest.Start(t, lktest.Options{EmptyTimeout: time.Minute})
	rs := lksdk.NewRoomServiceClient(srv.URL, srv.APIKey, srv.APISecret)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := rs.CreateRoom(ctx, &livekit.CreateRoomRequest{Name: "kept-in-memory"})
	require.NoError(t, err)

	srv.Kill()
	_, err = http.Get(srv.HTTPURL)
	require.Error(t, err, "killed")
	require.NoError(t, srv.Restart(20*time.Second))
	res, err := rs.ListRooms(ctx, &livekit.ListRoomsRequest{})
	require.NoError(t, err, "same URL and keys")
	require.Empty(t, res.Rooms, "the rooms went with the process")

	srv.Stop()
	<-srv.Stopped()
	require.NoError(t, srv.Restart(time.Second), "nothing to restart after Stop")
	_, err = http.Get(srv.HTTPURL)
	require.Error(t, err, "stays stopped")
}
