package gateway_test

import (
	"context"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/roomkeeper/roomkeeper/apispec"
	"github.com/roomkeeper/roomkeeper/internal/apikeys"
)

// 401s with upstream's body; keys from API_KEYS_FILE; the room secret of
// an anonymous link reads its room.
func TestAuthentication(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "keys")
	require.NoError(t, os.WriteFile(file, []byte("# the ops key\nfile-key\n"), 0o600))
	keys, err := apikeys.New(testKey, file)
	require.NoError(t, err)
	b := setup(t, opts{keys: keys})
	room := b.create(t, map[string]any{"roomName": "guarded"})
	id := room["roomId"].(string)

	routes := []req{
		{Method: http.MethodPost, Path: "/api/v1/rooms", Body: map[string]any{}},
		{Method: http.MethodGet, Path: "/api/v1/rooms"},
		{Method: http.MethodDelete, Path: "/api/v1/rooms?roomIds=" + id},
		{Method: http.MethodGet, Path: "/api/v1/rooms/" + id},
		{Method: http.MethodDelete, Path: "/api/v1/rooms/" + id},
		{Method: http.MethodGet, Path: "/api/v1/rooms/" + id + "/config"},
		{Method: http.MethodPut, Path: "/api/v1/rooms/" + id + "/config", Body: map[string]any{"config": map[string]any{}}},
		{Method: http.MethodPut, Path: "/api/v1/rooms/" + id + "/status", Body: map[string]any{"status": "closed"}},
		{Method: http.MethodPut, Path: "/api/v1/rooms/" + id + "/roles", Body: map[string]any{"roles": map[string]any{}}},
		{Method: http.MethodPut, Path: "/api/v1/rooms/" + id + "/access", Body: map[string]any{"access": map[string]any{}}},
	}
	for _, key := range []string{"-", "wrong-key", testKey + "x"} {
		for _, r := range routes {
			r.Key = key
			m := requireError(t, b.do(t, r), http.StatusUnauthorized, "Authentication Error")
			require.Equal(t, "Unauthorized", m["message"], "%s %s", r.Method, r.Path)
		}
	}
	require.True(t, b.Exists(t, id), "no request without a key had an effect")
	require.Equal(t, "open", b.get(t, "/api/v1/rooms/"+id).JSON(t)["status"])

	r := b.do(t, req{Method: http.MethodGet, Path: "/api/v1/rooms/" + id, Key: "file-key"})
	require.Equal(t, http.StatusOK, r.Status, "a key of API_KEYS_FILE")

	t.Run("room secret", func(t *testing.T) {
		access := room["access"].(map[string]any)["anonymous"].(map[string]any)
		secret := func(role string) string {
			u, err := url.Parse(access[role].(map[string]any)["url"].(string))
			require.NoError(t, err)
			return u.Query().Get("secret")
		}
		mod, spk := secret("moderator"), secret("speaker")

		r := b.do(t, req{Method: http.MethodGet, Path: "/api/v1/rooms/" + id + "?secret=" + mod, Key: "-"})
		require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
		require.Contains(t, r.JSON(t)["access"].(map[string]any)["anonymous"].(map[string]any)["speaker"], "url",
			"a moderator may share the links")
		r = b.do(t, req{Method: http.MethodGet, Path: "/api/v1/rooms/" + id + "?secret=" + spk, Key: "-"})
		require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
		require.NotContains(t, r.JSON(t)["access"].(map[string]any)["anonymous"].(map[string]any)["speaker"], "url",
			"a speaker does not see the links (no roomShareAccessLinks)")
		r = b.do(t, req{Method: http.MethodGet, Path: "/api/v1/rooms/" + id + "/config?secret=" + spk, Key: "-"})
		require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
		require.Contains(t, r.JSON(t), "chat")

		requireError(t, b.do(t, req{Method: http.MethodGet, Path: "/api/v1/rooms/" + id + "?secret=guess", Key: "-"}), http.StatusUnauthorized, "Authentication Error")
		requireError(t, b.do(t, req{Method: http.MethodGet, Path: "/api/v1/rooms/" + id + "/config?secret=guess", Key: "-"}), http.StatusUnauthorized, "Authentication Error")
		requireError(t, b.do(t, req{Method: http.MethodGet, Path: "/api/v1/rooms/missing-000000000000000?secret=" + mod, Key: "-"}), http.StatusNotFound, "Room Error")
		requireError(t, b.do(t, req{Method: http.MethodGet, Path: "/api/v1/rooms/missing-000000000000000/config?secret=" + mod, Key: "-"}), http.StatusNotFound, "Room Error")
		requireError(t, b.do(t, req{Method: http.MethodGet, Path: "/api/v1/rooms?secret=" + mod, Key: "-"}), http.StatusUnauthorized, "Authentication Error")
		requireError(t, b.do(t, req{Method: http.MethodPut, Path: "/api/v1/rooms/" + id + "/status?secret=" + mod, Key: "-",
			Body: map[string]any{"status": "closed"}}), http.StatusUnauthorized, "Authentication Error")
		requireError(t, b.do(t, req{Method: http.MethodGet, Path: "/api/v1/rooms/" + id + "?secret=" + mod, Key: "wrong"}),
			http.StatusUnauthorized, "Authentication Error")
	})

	t.Run("the spec is public", func(t *testing.T) {
		r := b.do(t, req{Method: http.MethodGet, Path: "/api/v1/openapi.yaml", Key: "-"})
		require.Equal(t, http.StatusOK, r.Status)
		require.Equal(t, apispec.YAML(), r.Body)
	})
}

// Routes the API does not have: JSON 404, and 405 with Allow for a method
// a path does not take, the methods the spec has for the path.
func TestUnknownRoutes(t *testing.T) {
	t.Parallel()
	b := setup(t, opts{noWorker: true, noQueries: true})
	doc, err := apispec.Load(context.Background())
	require.NoError(t, err)
	for path := range doc.Paths.Map() {
		// No path of the spec takes PATCH; apispectest.Unrouted checks Allow.
		path = "/api/v1" + strings.ReplaceAll(path, "{roomId}", "x")
		requireError(t, b.do(t, req{Method: http.MethodPatch, Path: path, Unrouted: true}), http.StatusMethodNotAllowed, "Method Not Allowed")
	}
	requireError(t, b.do(t, req{Method: http.MethodGet, Path: "/api/v1/rooms/x/members", Unrouted: true}), http.StatusNotFound, "Not Found")
	r := b.do(t, req{Method: http.MethodPatch, Path: "/api/v1/rooms", Unrouted: true})
	requireError(t, r, http.StatusMethodNotAllowed, "Method Not Allowed")
	require.Equal(t, "GET, POST, DELETE", r.Header.Get("Allow"))
	r = b.do(t, req{Method: http.MethodPost, Path: "/api/v1/rooms/x/status", Unrouted: true})
	requireError(t, r, http.StatusMethodNotAllowed, "Method Not Allowed")
	require.Equal(t, "PUT", r.Header.Get("Allow"))
	requireError(t, b.do(t, req{Method: http.MethodGet, Path: "/api/v1/recordings", Unrouted: true}), http.StatusNotFound, "Not Found")
}
