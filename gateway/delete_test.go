package gateway_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	lktest "github.com/roomkeeper/roomkeeper/internal/testenv/livekit"
)

// DELETE /rooms/{roomId} without a meeting, from upstream's delete-room
// tests.
func TestDeleteRoom(t *testing.T) {
	t.Parallel()
	b := setup(t, opts{})
	del := func(id, query string, header ...string) resp {
		return b.do(t, req{Method: http.MethodDelete, Path: "/api/v1/rooms/" + id + query, Header: pairs(header)})
	}
	newRoom := func(recordings int) string {
		id := b.create(t, map[string]any{"roomName": "doomed"})["roomId"].(string)
		b.putRecordings(t, id, recordings)
		return id
	}

	id := newRoom(0)
	r := del(id, "")
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	require.Equal(t, map[string]any{"successCode": "room_deleted", "message": r.JSON(t)["message"]}, r.JSON(t))
	require.False(t, b.Exists(t, id))
	m := requireError(t, del(id, ""), http.StatusNotFound, "Room Error")
	require.Contains(t, m["message"], id)

	id = newRoom(2)
	m = requireError(t, del(id, ""), http.StatusConflict, "room_has_recordings")
	require.Contains(t, m["message"], "has recordings")
	require.True(t, b.Exists(t, id))
	r = del(id, "?withRecordings=force")
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	require.Equal(t, "room_and_recordings_deleted", r.JSON(t)["successCode"])

	id = newRoom(1)
	r = del(id, "?withRecordings=close")
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	body := r.JSON(t)
	require.Equal(t, "room_closed", body["successCode"])
	room := body["room"].(map[string]any)
	require.Equal(t, "closed", room["status"])
	require.NotContains(t, room, "config")
	require.Equal(t, []any{"config", "roles"}, room["_extraFields"])

	t.Run("X-Fields and X-ExtraFields on the room of the answer", func(t *testing.T) {
		id := newRoom(1)
		r := del(id, "?withRecordings=close&fields=roomId", "X-Fields", "status", "X-ExtraFields", "config")
		require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
		require.ElementsMatch(t, []string{"roomId", "status", "config", "_extraFields"}, keys(r.JSON(t)["room"].(map[string]any)))
		id = newRoom(0)
		r = del(id, "", "X-Fields", "roomId")
		require.NotContains(t, r.JSON(t), "room", "no room when it is gone")
	})

	t.Run("validation failures", func(t *testing.T) {
		id := newRoom(0)
		requireInvalid(t, del(id, "?withMeeting=sometimes"), "withMeeting")
		requireInvalid(t, del(id, "?withRecordings=keep"), "withRecordings")
		requireInvalid(t, del("%21%21%21", ""), "roomId")
		require.True(t, b.Exists(t, id))
	})
}

// DELETE /rooms, from upstream's bulk-delete-rooms tests.
func TestBulkDeleteRooms(t *testing.T) {
	t.Parallel()
	b := setup(t, opts{})
	bulk := func(query string, header ...string) resp {
		return b.do(t, req{Method: http.MethodDelete, Path: "/api/v1/rooms" + query, Header: pairs(header)})
	}
	newRoom := func(recordings int) string {
		id := b.create(t, map[string]any{"roomName": "bulk"})["roomId"].(string)
		b.putRecordings(t, id, recordings)
		return id
	}
	var body struct {
		Message string           `json:"message"`
		Deleted []map[string]any `json:"deleted"`
		Failed  []map[string]any `json:"failed"`
	}

	a, c := newRoom(0), newRoom(0)
	r := bulk("?roomIds=" + a + "," + c)
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	r.Into(t, &body)
	require.Len(t, body.Deleted, 2)
	require.Empty(t, body.Failed)
	require.False(t, b.Exists(t, a))
	require.False(t, b.Exists(t, c))

	a = newRoom(0)
	r = bulk("?roomIds=" + a + "," + a)
	require.Equal(t, http.StatusOK, r.Status, "the same ID twice: %s", r.Body)
	require.False(t, b.Exists(t, a))

	a, c = newRoom(0), newRoom(1)
	r = bulk("?roomIds=" + a + "," + c + ",missing-000000000000000")
	require.Equal(t, http.StatusBadRequest, r.Status, "%s", r.Body)
	body.Deleted, body.Failed = nil, nil
	r.Into(t, &body)
	require.Len(t, body.Deleted, 1)
	require.Len(t, body.Failed, 2)
	require.Contains(t, body.Message, "2 room(s) failed")
	errs := map[string]any{}
	for _, f := range body.Failed {
		errs[f["roomId"].(string)] = f["error"]
	}
	require.Equal(t, map[string]any{c: "room_has_recordings", "missing-000000000000000": "Room Error"}, errs)

	t.Run("policies and the rooms of the answer", func(t *testing.T) {
		a, c := newRoom(1), newRoom(1)
		r := bulk("?roomIds="+a+","+c+"&withRecordings=close&fields=roomId", "X-Fields", "status", "X-ExtraFields", "roles")
		require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
		body.Deleted, body.Failed = nil, nil
		r.Into(t, &body)
		for _, d := range body.Deleted {
			require.Equal(t, "room_closed", d["successCode"])
			require.ElementsMatch(t, []string{"roomId", "status", "roles", "_extraFields"}, keys(d["room"].(map[string]any)))
		}
	})

	t.Run("validation failures", func(t *testing.T) {
		a := newRoom(0)
		r := bulk("?roomIds=%21%21%21," + a)
		require.Equal(t, http.StatusOK, r.Status, "invalid IDs are ignored: %s", r.Body)
		require.False(t, b.Exists(t, a))
		requireInvalid(t, bulk("?roomIds=%21%21%21,%40%40"), "roomIds")
		requireInvalid(t, bulk("?roomIds="), "roomIds")
		requireInvalid(t, bulk(""), "roomIds")
		requireInvalid(t, bulk("?roomIds=x&withMeeting=sometimes"), "withMeeting")
		requireInvalid(t, bulk("?roomIds=x&withRecordings=keep"), "withRecordings")
	})
}

// The cells of the deletion matrix and the updates that need a live
// meeting, with a real livekit-server: a participant joins (LiveKit's
// room_started makes the room active_meeting), the request decides, and
// LiveKit's room_finished applies the room's meetingEndAction.
func TestWithALiveMeeting(t *testing.T) {
	t.Parallel()
	b := setup(t, opts{liveKit: true})
	live := func(t *testing.T, recordings int) (string, *lktest.Participant) {
		id := b.create(t, map[string]any{"roomName": "live"})["roomId"].(string)
		b.putRecordings(t, id, recordings)
		p := lktest.Join(t, b.lk, id, "alice")
		b.waitStatus(t, id, "active_meeting")
		return id, p
	}
	del := func(id, query string, header ...string) resp {
		return b.do(t, req{Method: http.MethodDelete, Path: "/api/v1/rooms/" + id + query, Header: pairs(header)})
	}

	t.Run("refusals: 409", func(t *testing.T) {
		id, p := live(t, 0)
		defer p.Leave()
		requireError(t, del(id, ""), http.StatusConflict, "room_has_active_meeting")
		for path, body := range map[string]any{
			"/config": map[string]any{"config": map[string]any{"chat": map[string]any{"enabled": false}}},
			"/roles":  map[string]any{"roles": map[string]any{"speaker": map[string]any{"permissions": map[string]any{"chatWrite": false}}}},
			"/access": map[string]any{"access": map[string]any{"anonymous": map[string]any{"speaker": map[string]any{"enabled": false}}}},
		} {
			requireError(t, b.do(t, req{Method: http.MethodPut, Path: "/api/v1/rooms/" + id + path, Body: body}), http.StatusConflict, "Room Error")
		}
		id2, p2 := live(t, 1)
		defer p2.Leave()
		requireError(t, del(id2, ""), http.StatusConflict, "room_with_recordings_has_active_meeting")
		requireError(t, del(id2, "?withMeeting=force"), http.StatusConflict, "room_with_active_meeting_has_recordings")
		requireError(t, del(id2, "?withMeeting=when_meeting_ends"), http.StatusConflict, "room_with_active_meeting_has_recordings_cannot_schedule_deletion")
		require.True(t, b.Exists(t, id))
		require.True(t, b.Exists(t, id2))
	})

	t.Run("when_meeting_ends and close: 202, closed when the meeting ends", func(t *testing.T) {
		id, p := live(t, 1)
		r := del(id, "?withMeeting=when_meeting_ends&withRecordings=close&fields=roomId", "X-Fields", "status", "X-ExtraFields", "config")
		require.Equal(t, http.StatusAccepted, r.Status, "%s", r.Body)
		body := r.JSON(t)
		require.Equal(t, "room_with_active_meeting_scheduled_to_be_closed", body["successCode"])
		room := body["room"].(map[string]any)
		require.ElementsMatch(t, []string{"roomId", "status", "config", "_extraFields"}, keys(room))
		require.Equal(t, "active_meeting", room["status"])
		p.Leave()
		b.waitStatus(t, id, "closed")
	})

	t.Run("when_meeting_ends: 202, gone when the meeting ends", func(t *testing.T) {
		id, p := live(t, 0)
		r := del(id, "?withMeeting=when_meeting_ends")
		require.Equal(t, http.StatusAccepted, r.Status, "%s", r.Body)
		require.Equal(t, "room_with_active_meeting_scheduled_to_be_deleted", r.JSON(t)["successCode"])
		require.True(t, b.Exists(t, id))
		p.Leave()
		b.waitStatus(t, id, "")
	})

	t.Run("force: 200, the meeting ends", func(t *testing.T) {
		id, p := live(t, 0)
		r := del(id, "?withMeeting=force")
		require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
		require.Equal(t, "room_with_active_meeting_deleted", r.JSON(t)["successCode"])
		p.WaitDisconnected(t, 20*time.Second)
		b.waitStatus(t, id, "")
	})

	t.Run("force and close: 200, closed", func(t *testing.T) {
		id, p := live(t, 1)
		r := b.do(t, req{Method: http.MethodDelete, Path: "/api/v1/rooms?roomIds=" + id + "&withMeeting=force&withRecordings=close"})
		require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
		require.Contains(t, string(r.Body), "room_with_active_meeting_closed")
		p.WaitDisconnected(t, 20*time.Second)
		b.waitStatus(t, id, "closed")
	})

	t.Run("closing during a meeting: 202, closed when it ends", func(t *testing.T) {
		id, p := live(t, 0)
		r := b.do(t, req{Method: http.MethodPut, Path: "/api/v1/rooms/" + id + "/status", Body: map[string]any{"status": "closed"},
			Header: map[string]string{"X-Fields": "status,meetingEndAction"}})
		require.Equal(t, http.StatusAccepted, r.Status, "%s", r.Body)
		require.Equal(t, map[string]any{"status": "active_meeting", "meetingEndAction": "close", "_extraFields": []any{"config", "roles"}}, r.JSON(t))
		p.Leave()
		b.waitStatus(t, id, "closed")
	})
}
