package gateway_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// POST /rooms, from upstream's create-room tests.
func TestCreateRoom(t *testing.T) {
	t.Parallel()
	b := setup(t, opts{})

	t.Run("defaults, Location, no extra fields", func(t *testing.T) {
		r := b.do(t, req{Method: http.MethodPost, Path: "/api/v1/rooms", Body: map[string]any{}})
		require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
		room := r.JSON(t)
		require.Regexp(t, `^room-[a-z0-9]{15}$`, room["roomId"])
		require.Equal(t, "Room", room["roomName"])
		require.Equal(t, "/api/v1/rooms/"+room["roomId"].(string), r.Header.Get("Location"))
		require.Equal(t, "open", room["status"])
		require.Equal(t, "admin", room["owner"])
		require.NotContains(t, room, "config")
		require.NotContains(t, room, "roles")
		require.NotContains(t, room, "autoDeletionDate")
		require.Equal(t, []any{"config", "roles"}, room["_extraFields"])
		require.True(t, strings.HasPrefix(r.Header.Get("Idempotency-Key"), "http-"), "the gateway names the command")
		// The room is there to read.
		got := b.get(t, "/api/v1/rooms/"+room["roomId"].(string))
		require.Equal(t, http.StatusOK, got.Status)
		require.Equal(t, room["roomName"], got.JSON(t)["roomName"])
	})

	t.Run("an empty body is the default room", func(t *testing.T) {
		// As upstream (express reads no body as {}).
		r := b.do(t, req{Method: http.MethodPost, Path: "/api/v1/rooms"})
		require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
	})

	t.Run("full payload with autoDeletionDate and partial config", func(t *testing.T) {
		when := time.Now().Add(2 * time.Hour).UnixMilli()
		room := b.create(t, map[string]any{
			"roomName": "Team Sync", "autoDeletionDate": when,
			"autoDeletionPolicy": map[string]any{"withMeeting": "force", "withRecordings": "force"},
			"config":             map[string]any{"chat": map[string]any{"enabled": false}, "recording": map[string]any{"layout": "speaker"}},
			"roles":              map[string]any{"speaker": map[string]any{"permissions": map[string]any{"recordingControl": true}}},
			"access":             map[string]any{"anonymous": map[string]any{"recording": map[string]any{"enabled": false}}},
		})
		require.Equal(t, float64(when), room["autoDeletionDate"])
		require.Equal(t, map[string]any{"withMeeting": "force", "withRecordings": "force"}, room["autoDeletionPolicy"])
		full := b.get(t, "/api/v1/rooms/"+room["roomId"].(string)+"?extraFields=config,roles").JSON(t)
		cfg := full["config"].(map[string]any)
		require.Equal(t, false, cfg["chat"].(map[string]any)["enabled"])
		require.Equal(t, "speaker", cfg["recording"].(map[string]any)["layout"])
		require.Equal(t, true, cfg["recording"].(map[string]any)["enabled"], "partial config keeps the defaults")
		require.Equal(t, true, full["roles"].(map[string]any)["speaker"].(map[string]any)["permissions"].(map[string]any)["recordingControl"])
		require.Equal(t, false, full["access"].(map[string]any)["anonymous"].(map[string]any)["recording"].(map[string]any)["enabled"])
	})

	t.Run("X-ExtraFields and X-Fields", func(t *testing.T) {
		r := b.do(t, req{Method: http.MethodPost, Path: "/api/v1/rooms", Body: map[string]any{"roomName": "extra"},
			Header: map[string]string{"X-ExtraFields": "config,roles"}})
		room := r.JSON(t)
		require.Contains(t, room, "config")
		require.Contains(t, room, "roles")
		require.Contains(t, room, "access")

		r = b.do(t, req{Method: http.MethodPost, Path: "/api/v1/rooms", Body: map[string]any{"roomName": "extra"},
			Header: map[string]string{"X-ExtraFields": "roles"}})
		room = r.JSON(t)
		require.NotContains(t, room, "config")
		require.Contains(t, room, "roles")

		r = b.do(t, req{Method: http.MethodPost, Path: "/api/v1/rooms", Body: map[string]any{"roomName": "fields"},
			Header: map[string]string{"X-Fields": "roomId,roomName"}})
		require.Equal(t, http.StatusCreated, r.Status)
		room = r.JSON(t)
		require.ElementsMatch(t, []string{"roomId", "roomName", "_extraFields"}, keys(room))
		require.NotEmpty(t, r.Header.Get("Location"), "Location also when roomId is not asked for")

		r = b.do(t, req{Method: http.MethodPost, Path: "/api/v1/rooms", Body: map[string]any{"roomName": "fields"},
			Header: map[string]string{"X-Fields": "roomId", "X-ExtraFields": "config"}})
		require.ElementsMatch(t, []string{"roomId", "config", "_extraFields"}, keys(r.JSON(t)), "extra fields even when fields filter")
	})

	t.Run("name sanitisation", func(t *testing.T) {
		for name, prefix := range map[string]string{
			"Sala de reunión": "sala_de_reunion",
			"Größe Über":      "groe_uber", // ß has no decomposition: dropped, as upstream drops it,
			"Crème Brûlée":    "creme_brulee",
			"UPPER":           "upper",
			"my-room":         "my_room",
			"a   b":           "a_b",
			"__x__":           "x",
			"Room 2024 #1!":   "room_2024_1",
			"会议室":             "room",
			"🎉🎉":              "room",
			"@#$%":            "room",
		} {
			room := b.create(t, map[string]any{"roomName": name})
			id := room["roomId"].(string)
			require.Regexp(t, "^"+regexp.QuoteMeta(prefix)+"-[a-z0-9]{15}$", id, "name %q", name)
		}
	})

	t.Run("validation failures", func(t *testing.T) {
		post := func(body any) resp {
			return b.do(t, req{Method: http.MethodPost, Path: "/api/v1/rooms", Body: body})
		}
		requireInvalid(t, post(map[string]any{"autoDeletionDate": -5}), "autoDeletionDate")
		requireInvalid(t, post(map[string]any{"autoDeletionDate": time.Now().Add(30 * time.Minute).UnixMilli()}), "autoDeletionDate")
		requireInvalid(t, post(map[string]any{"autoDeletionDate": "tomorrow"}), "autoDeletionDate")
		requireInvalid(t, post(map[string]any{"autoDeletionDate": true}), "autoDeletionDate")
		requireInvalid(t, post(map[string]any{"autoDeletionDate": nil}), "autoDeletionDate")
		requireInvalid(t, post(map[string]any{"autoDeletionPolicy": "force"}), "autoDeletionPolicy")
		requireInvalid(t, post(map[string]any{"autoDeletionDate": time.Now().Add(2 * time.Hour).UnixMilli(),
			"autoDeletionPolicy": map[string]any{"withMeeting": "fail"}}), "withMeeting")
		requireInvalid(t, post(map[string]any{"autoDeletionDate": time.Now().Add(2 * time.Hour).UnixMilli(),
			"autoDeletionPolicy": map[string]any{"withRecordings": "fail"}}), "withRecordings")
		requireInvalid(t, post(map[string]any{"roomName": 12}), "roomName")
		requireInvalid(t, post(map[string]any{"roomName": false}), "roomName")
		requireInvalid(t, post(map[string]any{"roomName": strings.Repeat("x", 51)}), "roomName")
		requireInvalid(t, post(map[string]any{"config": "big"}), "config")
		requireInvalid(t, post(map[string]any{"config": map[string]any{"recording": map[string]any{"encoding": "H264_9000P"}}}), "encoding")
		requireInvalid(t, post(`[1,2]`), "body")
		requireInvalid(t, post(`null`), "body")
		requireInvalid(t, post(`"room"`), "body")
		requireError(t, post(`{"roomName": "x",`), http.StatusBadRequest, "Bad Request")
		requireError(t, b.do(t, req{Method: http.MethodPost, Path: "/api/v1/rooms",
			Body: `{"roomName": "` + strings.Repeat("x", 2<<20) + `"}`}), http.StatusRequestEntityTooLarge, "Payload Too Large")
	})
}
