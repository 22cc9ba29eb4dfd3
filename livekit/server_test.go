package livekit_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	lkproto "github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/stretchr/testify/require"

	lktest "github.com/roomkeeper/roomkeeper/internal/testenv/livekit"
	"github.com/roomkeeper/roomkeeper/livekit"
)

var roomSeq atomic.Int64

// roomName is a room name unique within the test binary.
func roomName(t *testing.T) string {
	return fmt.Sprintf("R-%d-%d", time.Now().UnixNano()%1e6, roomSeq.Add(1))
}

func newClient(t *testing.T, srv *lktest.Server, mutate ...func(*livekit.Config)) *livekit.Client {
	t.Helper()
	cfg := livekit.Config{
		URL:              srv.URL,
		APIKey:           srv.APIKey,
		APISecret:        srv.APISecret,
		EmptyTimeout:     30 * time.Second,
		DepartureTimeout: 7 * time.Second,
		RequestTimeout:   3 * time.Second,
	}
	for _, m := range mutate {
		m(&cfg)
	}
	c, err := livekit.New(cfg)
	require.NoError(t, err)
	return c
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestAgainstServer runs the adapter against one real livekit-server; the
// subtests use rooms of their own and run in parallel.
func TestAgainstServer(t *testing.T) {
	t.Parallel()
	srv := lktest.Start(t, lktest.Options{})
	c := newClient(t, srv)

	t.Run("EnsureRoom", func(t *testing.T) {
		t.Parallel()
		ctx := testCtx(t)
		room := roomName(t)
		opts := map[string]any{"roomName": "My Room", "preferences": map[string]any{"chatPreferences": map[string]any{"enabled": true}}}

		exists, err := c.RoomExists(ctx, room)
		require.NoError(t, err)
		require.False(t, exists)

		require.NoError(t, c.EnsureRoom(ctx, room, opts))
		rooms, err := c.ListRooms(ctx, []string{room, "never-created-" + room})
		require.NoError(t, err)
		require.Len(t, rooms, 1)
		got := rooms[0]
		require.Equal(t, room, got.Name)
		require.Equal(t, 30*time.Second, got.EmptyTimeout)
		require.Equal(t, 7*time.Second, got.DepartureTimeout)
		require.WithinDuration(t, time.Now(), got.CreatedAt, 10*time.Second)
		var md livekit.RoomMetadata
		require.NoError(t, json.Unmarshal([]byte(got.Metadata), &md))
		require.Equal(t, "roomkeeper", md.CreatedBy)
		require.JSONEq(t, `{"roomName":"My Room","preferences":{"chatPreferences":{"enabled":true}}}`, string(md.RoomOptions))

		exists, err = c.RoomExists(ctx, room)
		require.NoError(t, err)
		require.True(t, exists)

		// Idempotent: the same room, untouched (same SID, same metadata).
		require.NoError(t, c.EnsureRoom(ctx, room, map[string]any{"roomName": "Other"}))
		again, err := c.ListRooms(ctx, []string{room})
		require.NoError(t, err)
		require.Len(t, again, 1)
		require.Equal(t, got.SID, again[0].SID)
		require.Equal(t, got.Metadata, again[0].Metadata)

		// Created and empty: no active meeting.
		active, err := c.HasActiveMeeting(ctx, room)
		require.NoError(t, err)
		require.False(t, active)
	})

	t.Run("MeetingStart", func(t *testing.T) {
		t.Parallel()
		ctx := testCtx(t)
		room := roomName(t)

		_, sid, ok, err := c.MeetingStart(ctx, room)
		require.NoError(t, err)
		require.False(t, ok, "a room LiveKit does not have")
		require.Empty(t, sid)

		before := time.Now()
		require.NoError(t, c.EnsureRoom(ctx, room, nil))
		start, sid, ok, err := c.MeetingStart(ctx, room)
		require.NoError(t, err)
		require.True(t, ok)
		require.WithinDuration(t, before, start, 2*time.Second, "the LiveKit room's creation")
		rooms, err := c.ListRooms(ctx, []string{room})
		require.NoError(t, err)
		require.Equal(t, rooms[0].SID, sid)

		// A later meeting of the same room is another LiveKit room.
		require.NoError(t, c.DeleteRoom(ctx, room))
		require.NoError(t, c.EnsureRoom(ctx, room, nil))
		_, again, ok, err := c.MeetingStart(ctx, room)
		require.NoError(t, err)
		require.True(t, ok)
		require.NotEqual(t, sid, again)
	})

	t.Run("HasActiveMeeting", func(t *testing.T) {
		t.Parallel()
		ctx := testCtx(t)
		room := roomName(t)

		active, err := c.HasActiveMeeting(ctx, room)
		require.NoError(t, err)
		require.False(t, active, "a room LiveKit does not have")

		p := lktest.Join(t, srv, room, "alice")
		active, err = c.HasActiveMeeting(ctx, room)
		require.NoError(t, err)
		require.True(t, active)

		p.Leave()
		require.Eventually(t, func() bool {
			active, err := c.HasActiveMeeting(ctx, room)
			return err == nil && !active
		}, 5*time.Second, 50*time.Millisecond, "the meeting ends when its only participant leaves")
		// The room waits out its departure timeout: it exists, with no meeting.
		exists, err := c.RoomExists(ctx, room)
		require.NoError(t, err)
		require.True(t, exists)
	})

	t.Run("DeleteRoom", func(t *testing.T) {
		t.Parallel()
		ctx := testCtx(t)
		room := roomName(t)
		require.NoError(t, c.EnsureRoom(ctx, room, nil))
		p := lktest.Join(t, srv, room, "alice")

		require.NoError(t, c.DeleteRoom(ctx, room))
		p.WaitDisconnected(t, 5*time.Second)
		require.Equal(t, lkproto.DisconnectReason_ROOM_DELETED, p.Room.DisconnectReason())

		exists, err := c.RoomExists(ctx, room)
		require.NoError(t, err)
		require.False(t, exists)
		active, err := c.HasActiveMeeting(ctx, room)
		require.NoError(t, err)
		require.False(t, active)

		require.NoError(t, c.DeleteRoom(ctx, room), "a second delete is fine")
		require.NoError(t, c.DeleteRoom(ctx, "never-created-"+room))
	})

	t.Run("SendData", func(t *testing.T) {
		t.Parallel()
		ctx := testCtx(t)
		room := roomName(t)
		alice := lktest.Join(t, srv, room, "alice")
		bob := lktest.Join(t, srv, room, "bob")

		payload := []byte(`{"roomId":"` + room + `","preferences":{"chatPreferences":{"enabled":false}}}`)
		require.NoError(t, c.SendData(ctx, room, "MEET_ROOM_PREFERENCES_UPDATED", payload))
		for _, p := range []*lktest.Participant{alice, bob} {
			msg := p.WaitData(t, "MEET_ROOM_PREFERENCES_UPDATED", 5*time.Second)
			require.JSONEq(t, string(payload), string(msg.Payload))
			require.Empty(t, msg.From, "sent by the server, not a participant")
		}

		// A room LiveKit does not have: an answer at once, not a timeout.
		start := time.Now()
		err := c.SendData(ctx, "never-created-"+room, "MEET_ROOM_PREFERENCES_UPDATED", payload)
		require.True(t, errors.Is(err, livekit.ErrRoomNotFound), "got %v", err)
		require.False(t, errors.Is(err, livekit.ErrUnavailable))
		require.Less(t, time.Since(start), time.Second)
	})

	t.Run("ParticipantTokenJoins", func(t *testing.T) {
		t.Parallel()
		ctx := testCtx(t)
		room := roomName(t)
		require.NoError(t, c.EnsureRoom(ctx, room, nil))
		for _, tc := range []struct {
			role, identity string
			admin          bool
		}{
			{livekit.RoleModerator, "mod", true},
			{livekit.RolePublisher, "pub", false},
		} {
			token, err := c.ParticipantToken(room, tc.identity, "Name "+tc.identity, tc.role, `{"role":"`+tc.role+`"}`)
			require.NoError(t, err)
			p := lktest.JoinWithToken(t, srv, token)
			require.Equal(t, tc.identity, p.Identity)
			require.Equal(t, room, p.Room.Name())
		}

		rs := lksdk.NewRoomServiceClient(srv.URL, srv.APIKey, srv.APISecret)
		res, err := rs.ListParticipants(ctx, &lkproto.ListParticipantsRequest{Room: room})
		require.NoError(t, err)
		require.Len(t, res.Participants, 2)
		for _, info := range res.Participants {
			role := map[string]string{"mod": livekit.RoleModerator, "pub": livekit.RolePublisher}[info.Identity]
			require.NotEmpty(t, role, info.Identity)
			require.Equal(t, "Name "+info.Identity, info.Name)
			require.JSONEq(t, `{"role":"`+role+`"}`, info.Metadata)
			perm := info.Permission
			require.True(t, perm.CanPublish)
			require.True(t, perm.CanSubscribe)
			require.True(t, perm.CanPublishData)
		}

		// A recording token names the room but cannot enter it.
		rec, err := c.RecordingToken(room, livekit.RoleModerator, true, true)
		require.NoError(t, err)
		_, err = lktest.Connect(t, srv, rec)
		require.Error(t, err)
	})

	t.Run("ModeratorIsRoomAdmin", func(t *testing.T) {
		t.Parallel()
		ctx := testCtx(t)
		room := roomName(t)
		lktest.Join(t, srv, room, "someone")
		for role, admin := range map[string]bool{livekit.RoleModerator: true, livekit.RolePublisher: false} {
			token, err := c.ParticipantToken(room, "as-"+role, "", role, "")
			require.NoError(t, err)
			// A participant token used as an API token: only a room admin
			// may list the room's participants.
			req, err := http.NewRequestWithContext(ctx, http.MethodPost,
				srv.HTTPURL+"/twirp/livekit.RoomService/ListParticipants", strings.NewReader(`{"room":"`+room+`"}`))
			require.NoError(t, err)
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+token)
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			_ = resp.Body.Close()
			if admin {
				require.Equal(t, http.StatusOK, resp.StatusCode, role)
			} else {
				require.Equal(t, http.StatusUnauthorized, resp.StatusCode, role)
			}
		}
	})

	t.Run("WrongSecret", func(t *testing.T) {
		t.Parallel()
		ctx := testCtx(t)
		bad := newClient(t, srv, func(cfg *livekit.Config) { cfg.APISecret = "not-the-secret-not-the-secret-not-the-s" })
		_, err := bad.RoomExists(ctx, roomName(t))
		require.True(t, errors.Is(err, livekit.ErrUnauthorized), "got %v", err)
		require.False(t, errors.Is(err, livekit.ErrUnavailable))
	})

	t.Run("ExtraLatency", func(t *testing.T) {
		t.Parallel()
		ctx := testCtx(t)
		slow := newClient(t, srv, func(cfg *livekit.Config) { cfg.ExtraLatency = 150 * time.Millisecond })
		start := time.Now()
		_, err := slow.RoomExists(ctx, roomName(t))
		require.NoError(t, err)
		require.GreaterOrEqual(t, time.Since(start), 150*time.Millisecond)
	})
}

// TestUnreachable checks that an unreachable or hanging server gives
// ErrUnavailable, within the request timeout.
func TestUnreachable(t *testing.T) {
	t.Parallel()

	t.Run("RefusedPort", func(t *testing.T) {
		t.Parallel()
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		addr := l.Addr().String()
		require.NoError(t, l.Close()) // nothing listens there now

		c, err := livekit.New(livekit.Config{URL: "ws://" + addr, APIKey: "k", APISecret: "s", RequestTimeout: 2 * time.Second})
		require.NoError(t, err)
		checkUnavailable(t, c, 2*time.Second)
	})

	t.Run("HangingServer", func(t *testing.T) {
		t.Parallel()
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		t.Cleanup(func() { _ = l.Close() })
		go func() {
			// Accept and never answer.
			var conns []net.Conn
			defer func() {
				for _, c := range conns {
					_ = c.Close()
				}
			}()
			for {
				conn, err := l.Accept()
				if err != nil {
					return
				}
				conns = append(conns, conn)
			}
		}()
		c, err := livekit.New(livekit.Config{URL: "ws://" + l.Addr().String(), APIKey: "k", APISecret: "s", RequestTimeout: 300 * time.Millisecond})
		require.NoError(t, err)
		checkUnavailable(t, c, 2*time.Second)
	})
}

func checkUnavailable(t *testing.T, c *livekit.Client, within time.Duration) {
	t.Helper()
	ctx := context.Background()
	for name, call := range map[string]func() error{
		"HasActiveMeeting": func() error { _, err := c.HasActiveMeeting(ctx, "R-1"); return err },
		"RoomExists":       func() error { _, err := c.RoomExists(ctx, "R-1"); return err },
		"EnsureRoom":       func() error { return c.EnsureRoom(ctx, "R-1", nil) },
		"DeleteRoom":       func() error { return c.DeleteRoom(ctx, "R-1") },
		"SendData":         func() error { return c.SendData(ctx, "R-1", "t", []byte("{}")) },
	} {
		start := time.Now()
		err := call()
		took := time.Since(start)
		require.Error(t, err, name)
		require.True(t, errors.Is(err, livekit.ErrUnavailable), "%s: got %v", name, err)
		require.Less(t, took, within, name)
	}
}
