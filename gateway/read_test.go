package gateway_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"
)

// GET /rooms/{roomId} and GET /rooms/{roomId}/config.
func TestGetRoom(t *testing.T) {
	t.Parallel()
	b := setup(t, opts{})
	room := b.create(t, map[string]any{"roomName": "get me", "config": map[string]any{"chat": map[string]any{"enabled": false}}})
	id := room["roomId"].(string)

	r := b.get(t, "/api/v1/rooms/"+id)
	require.Equal(t, http.StatusOK, r.Status)
	got := r.JSON(t)
	require.Equal(t, room, got, "get answers what create answered")
	require.NotContains(t, got, "config")

	got = b.get(t, "/api/v1/rooms/"+id+"?extraFields=roles").JSON(t)
	require.Contains(t, got, "roles")
	require.NotContains(t, got, "config")

	got = b.get(t, "/api/v1/rooms/"+id+"?fields=roomId,status").JSON(t)
	require.ElementsMatch(t, []string{"roomId", "status", "_extraFields"}, keys(got))

	t.Run("headers merge with the query parameters", func(t *testing.T) {
		got := b.get(t, "/api/v1/rooms/"+id+"?fields=roomId", "X-Fields", "roomName").JSON(t)
		require.ElementsMatch(t, []string{"roomId", "roomName", "_extraFields"}, keys(got))
		got = b.get(t, "/api/v1/rooms/"+id+"?extraFields=config", "X-ExtraFields", "roles").JSON(t)
		require.Contains(t, got, "config")
		require.Contains(t, got, "roles")
		got = b.get(t, "/api/v1/rooms/"+id, "X-Fields", "roomId", "X-ExtraFields", "config").JSON(t)
		require.ElementsMatch(t, []string{"roomId", "config", "_extraFields"}, keys(got))
		got = b.get(t, "/api/v1/rooms/"+id+"?fields=roomName", "X-Fields", "nonsense").JSON(t)
		require.ElementsMatch(t, []string{"roomName", "_extraFields"}, keys(got), "an invalid header value falls back to the query")
	})

	t.Run("sanitised ID, 404, empty after sanitising", func(t *testing.T) {
		require.Equal(t, http.StatusOK, b.get(t, "/api/v1/rooms/"+url.PathEscape(id+"!")).Status)
		m := requireError(t, b.get(t, "/api/v1/rooms/nope-000000000000000"), http.StatusNotFound, "Room Error")
		require.Contains(t, m["message"], "does not exist")
		requireInvalid(t, b.get(t, "/api/v1/rooms/"+url.PathEscape("!!!")), "roomId")
	})

	t.Run("config", func(t *testing.T) {
		r := b.get(t, "/api/v1/rooms/"+id+"/config")
		require.Equal(t, http.StatusOK, r.Status)
		cfg := r.JSON(t)
		require.Equal(t, false, cfg["chat"].(map[string]any)["enabled"])
		require.Equal(t, "H264_720P_30", cfg["recording"].(map[string]any)["encoding"])
		requireError(t, b.get(t, "/api/v1/rooms/nope-000000000000000/config"), http.StatusNotFound, "Room Error")
	})
}

// GET /rooms, from upstream's get-rooms tests.
func TestListRooms(t *testing.T) {
	t.Parallel()
	b := setup(t, opts{})
	list := func(query string, header ...string) map[string]any {
		t.Helper()
		r := b.get(t, "/api/v1/rooms"+query, header...)
		require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
		return r.JSON(t)
	}
	names := func(page map[string]any) []string {
		var out []string
		for _, r := range page["rooms"].([]any) {
			out = append(out, r.(map[string]any)["roomName"].(string))
		}
		return out
	}

	empty := list("")
	require.Empty(t, empty["rooms"])
	require.Equal(t, false, empty["pagination"].(map[string]any)["isTruncated"])

	for _, n := range []string{"alpha", "Alpha two", "beta", "gamma", "delta"} {
		b.create(t, map[string]any{"roomName": n})
	}
	all := list("")
	require.Len(t, all["rooms"], 5)
	require.Equal(t, []string{"delta", "gamma", "beta", "Alpha two", "alpha"}, names(all), "newest first")
	require.Equal(t, []any{"config", "roles"}, all["_extraFields"])
	require.NotContains(t, all["rooms"].([]any)[0], "config")

	t.Run("filters", func(t *testing.T) {
		require.Equal(t, []string{"alpha"}, names(list("?roomName=alpha")))
		require.Equal(t, []string{"alpha"}, names(list("?roomName=al&roomNameMatchMode=prefix")))
		require.Equal(t, []string{"Alpha two", "alpha"}, names(list("?roomName=alpha&roomNameMatchMode=prefix&roomNameCaseInsensitive=true")))
		require.Equal(t, []string{"beta"}, names(list("?roomName=et&roomNameMatchMode=partial")))
		require.Equal(t, []string{"beta", "alpha"}, names(list("?roomName="+url.QueryEscape("^(alpha|beta)$")+"&roomNameMatchMode=regex")))
		require.Equal(t, []string{"alpha"}, names(list("?roomName=ALPHA&roomNameCaseInsensitive=true")))
		require.Len(t, list("?owner=admin")["rooms"], 5)
		require.Empty(t, list("?owner=someone")["rooms"])
		require.Empty(t, list("?member=someone")["rooms"])
		require.Len(t, list("?userAccess=false")["rooms"], 5)
		require.Empty(t, list("?userAccess=true")["rooms"])

		gamma := list("?roomName=gamma")["rooms"].([]any)[0].(map[string]any)["roomId"].(string)
		r := b.do(t, req{Method: http.MethodPut, Path: "/api/v1/rooms/" + gamma + "/status", Body: map[string]any{"status": "closed"}})
		require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
		require.Equal(t, []string{"gamma"}, names(list("?status=closed")))
		require.Len(t, list("?status=open")["rooms"], 4)
	})

	t.Run("fields and extraFields", func(t *testing.T) {
		for _, room := range list("?fields=roomId")["rooms"].([]any) {
			require.Equal(t, []string{"roomId"}, keys(room.(map[string]any)))
		}
		for _, room := range list("?extraFields=config")["rooms"].([]any) {
			require.Contains(t, room, "config")
			require.NotContains(t, room, "roles")
		}
		for _, room := range list("?fields=roomName", "X-Fields", "roomId", "X-ExtraFields", "roles")["rooms"].([]any) {
			require.ElementsMatch(t, []string{"roomId", "roomName", "roles"}, keys(room.(map[string]any)))
		}
		require.Len(t, list("?extraFields=bogus")["rooms"], 5, "invalid extra fields do not fail")
	})

	t.Run("sorting", func(t *testing.T) {
		require.Equal(t, []string{"Alpha two", "alpha", "beta", "delta", "gamma"}, names(list("?sortField=roomName&sortOrder=asc")))
		require.Equal(t, []string{"gamma", "delta", "beta", "alpha", "Alpha two"}, names(list("?sortField=roomName&sortOrder=desc")))
		require.Equal(t, []string{"alpha", "Alpha two", "beta", "gamma", "delta"}, names(list("?sortField=creationDate&sortOrder=asc")))
	})

	t.Run("pagination", func(t *testing.T) {
		var got []string
		query := "?maxItems=2&sortField=roomName&sortOrder=asc"
		for pages := 0; ; pages++ {
			require.Less(t, pages, 5)
			page := list(query)
			p := page["pagination"].(map[string]any)
			require.Equal(t, float64(2), p["maxItems"])
			got = append(got, names(page)...)
			if truncated, _ := p["isTruncated"].(bool); !truncated {
				break
			}
			query = "?maxItems=2&sortField=roomName&sortOrder=asc&nextPageToken=" + url.QueryEscape(p["nextPageToken"].(string))
		}
		require.Equal(t, []string{"Alpha two", "alpha", "beta", "delta", "gamma"}, got)
		require.Equal(t, float64(100), list("?maxItems=500")["pagination"].(map[string]any)["maxItems"], "capped")
		require.Len(t, list("?maxItems=1.7")["rooms"], 1, "floored")
	})

	t.Run("validation failures", func(t *testing.T) {
		for query, field := range map[string]string{
			"?roomName=a&roomNameMatchMode=fuzzy":                            "roomNameMatchMode",
			"?roomNameCaseInsensitive=yes":                                   "roomNameCaseInsensitive",
			"?roomName=" + url.QueryEscape("(") + "&roomNameMatchMode=regex": "roomName",
			"?owner=":             "owner",
			"?member=":            "member",
			"?userAccess=perhaps": "userAccess",
			"?status=deleted":     "status",
			"?maxItems=many":      "maxItems",
			"?maxItems=-1":        "maxItems",
			"?maxItems=0":         "maxItems",
			"?sortField=size":     "sortField",
			"?sortOrder=up":       "sortOrder",
		} {
			requireInvalid(t, b.get(t, "/api/v1/rooms"+query), field)
		}
	})
}
