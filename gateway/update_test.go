package gateway_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

// PUT /rooms/{roomId}/config, /roles, /access and /status, from upstream's
// update tests.
func TestUpdateRoom(t *testing.T) {
	t.Parallel()
	b := setup(t, opts{})
	id := b.create(t, map[string]any{"roomName": "changing"})["roomId"].(string)
	put := func(path string, body any, header ...string) resp {
		return b.do(t, req{Method: http.MethodPut, Path: "/api/v1/rooms/" + id + path, Body: body, Header: pairs(header)})
	}
	putOK := func(path string, body any) map[string]any {
		t.Helper()
		r := put(path, body)
		require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
		return r.JSON(t)
	}

	t.Run("config", func(t *testing.T) {
		cfg := putOK("/config", map[string]any{"config": map[string]any{
			"chat": map[string]any{"enabled": false}, "recording": map[string]any{"encoding": "H264_1080P_60"}}})
		require.Equal(t, false, cfg["chat"].(map[string]any)["enabled"])
		require.Equal(t, "H264_1080P_60", cfg["recording"].(map[string]any)["encoding"])
		require.Equal(t, "grid", cfg["recording"].(map[string]any)["layout"], "partial update keeps the rest")
		require.Equal(t, cfg, b.get(t, "/api/v1/rooms/"+id+"/config").JSON(t), "the answer is the stored config")
		cfg = putOK("/config", map[string]any{"config": map[string]any{"e2ee": map[string]any{"enabled": true}}})
		require.Equal(t, false, cfg["recording"].(map[string]any)["enabled"], "e2ee turns recording off")
		requireInvalid(t, put("/config", map[string]any{"config": map[string]any{"chat": map[string]any{"enabled": "yes"}}}), "enabled")
		requireInvalid(t, put("/config", map[string]any{"config": map[string]any{"recording": map[string]any{"encoding": map[string]any{}}}}), "encoding")
		requireInvalid(t, put("/config", map[string]any{"config": "all"}), "config")
		requireError(t, put("/config", `{"config":`), http.StatusBadRequest, "Bad Request")
	})

	t.Run("roles", func(t *testing.T) {
		roles := putOK("/roles", map[string]any{"roles": map[string]any{"speaker": map[string]any{"permissions": map[string]any{"recordingControl": true, "chatWrite": false}}}})
		speaker := roles["speaker"].(map[string]any)["permissions"].(map[string]any)
		require.Equal(t, true, speaker["recordingControl"])
		require.Equal(t, false, speaker["chatWrite"])
		require.Equal(t, true, speaker["chatRead"], "partial update keeps the rest")
		require.Equal(t, true, roles["moderator"].(map[string]any)["permissions"].(map[string]any)["chatWrite"])
		requireInvalid(t, put("/roles", map[string]any{"roles": map[string]any{"speaker": map[string]any{"permissions": map[string]any{"chatWrite": "no"}}}}), "chatWrite")
		requireInvalid(t, put("/roles", map[string]any{}), "roles")
	})

	t.Run("access", func(t *testing.T) {
		access := putOK("/access", map[string]any{"access": map[string]any{"anonymous": map[string]any{"speaker": map[string]any{"enabled": false}}}})
		anon := access["anonymous"].(map[string]any)
		require.Equal(t, false, anon["speaker"].(map[string]any)["enabled"])
		require.Equal(t, true, anon["moderator"].(map[string]any)["enabled"], "partial update keeps the rest")
		require.NotEmpty(t, anon["moderator"].(map[string]any)["url"])
		requireInvalid(t, put("/access", map[string]any{"access": map[string]any{"anonymous": map[string]any{"speaker": map[string]any{"enabled": 1}}}}), "enabled")
		requireInvalid(t, put("/access", map[string]any{}), "access")
	})

	t.Run("status", func(t *testing.T) {
		r := put("/status", map[string]any{"status": "closed"})
		require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
		room := r.JSON(t)
		require.Equal(t, "closed", room["status"])
		require.NotContains(t, room, "config")
		require.Equal(t, []any{"config", "roles"}, room["_extraFields"])
		r = put("/status", map[string]any{"status": "open"}, "X-Fields", "roomId,status", "X-ExtraFields", "roles")
		require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
		require.ElementsMatch(t, []string{"roomId", "status", "roles", "_extraFields"}, keys(r.JSON(t)))
		require.Equal(t, "open", r.JSON(t)["status"])
		requireInvalid(t, put("/status", map[string]any{"status": "paused"}), "status")
		requireInvalid(t, put("/status", map[string]any{"status": "active_meeting"}), "status")
	})

	t.Run("404", func(t *testing.T) {
		for path, body := range map[string]any{
			"/config": map[string]any{"config": map[string]any{}},
			"/roles":  map[string]any{"roles": map[string]any{}},
			"/access": map[string]any{"access": map[string]any{}},
			"/status": map[string]any{"status": "closed"},
		} {
			r := b.do(t, req{Method: http.MethodPut, Path: "/api/v1/rooms/missing-000000000000000" + path, Body: body})
			m := requireError(t, r, http.StatusNotFound, "Room Error")
			// Upstream's errorRoomNotFound, as GET and DELETE answer it.
			require.Equal(t, "Room 'missing-000000000000000' does not exist", m["message"], "PUT %s", path)
		}
	})
}
