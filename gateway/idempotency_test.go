package gateway_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/roomkeeper/roomkeeper/internal/workertest"
)

// A retried write with the same Idempotency-Key answers the same and has
// one effect.
func TestIdempotencyKey(t *testing.T) {
	t.Parallel()
	b := setup(t, opts{})
	key := randomKey()
	create := req{Method: http.MethodPost, Path: "/api/v1/rooms", Body: map[string]any{"roomName": "once"},
		Header: map[string]string{"Idempotency-Key": key}}
	first := b.do(t, create)
	require.Equal(t, http.StatusCreated, first.Status, "%s", first.Body)
	require.Equal(t, key, first.Header.Get("Idempotency-Key"))
	second := b.do(t, create)
	require.Equal(t, first.Status, second.Status)
	require.JSONEq(t, string(first.Body), string(second.Body), "the same response")
	require.Equal(t, first.Header.Get("Location"), second.Header.Get("Location"))
	require.EqualValues(t, 1, b.CountRooms(t), "one room")

	t.Run("a different body under the same key is the first command", func(t *testing.T) {
		other := create
		other.Body = map[string]any{"roomName": "twice"}
		r := b.do(t, other)
		require.JSONEq(t, string(first.Body), string(r.Body))
		require.EqualValues(t, 1, b.CountRooms(t))
	})

	t.Run("a key of another kind of command", func(t *testing.T) {
		id := first.JSON(t)["roomId"].(string)
		r := b.do(t, req{Method: http.MethodPut, Path: "/api/v1/rooms/" + id + "/status", Body: map[string]any{"status": "closed"},
			Header: map[string]string{"Idempotency-Key": key}})
		requireInvalid(t, r, "Idempotency-Key")
		require.Equal(t, "open", b.get(t, "/api/v1/rooms/"+id).JSON(t)["status"])
	})

	t.Run("invalid keys", func(t *testing.T) {
		for _, bad := range []string{"has space", "sweep-123", "seq-1-abc", "é"} {
			r := b.do(t, req{Method: http.MethodPost, Path: "/api/v1/rooms", Body: map[string]any{},
				Header: map[string]string{"Idempotency-Key": bad}})
			requireInvalid(t, r, "Idempotency-Key")
		}
		require.EqualValues(t, 1, b.CountRooms(t))
	})

	t.Run("deletes and updates too", func(t *testing.T) {
		id := b.create(t, map[string]any{"roomName": "gone"})["roomId"].(string)
		del := req{Method: http.MethodDelete, Path: "/api/v1/rooms/" + id, Header: map[string]string{"Idempotency-Key": randomKey()}}
		first := b.do(t, del)
		require.Equal(t, http.StatusOK, first.Status, "%s", first.Body)
		second := b.do(t, del)
		require.Equal(t, http.StatusOK, second.Status, "the retry answers the first result, not a 404")
		require.JSONEq(t, string(first.Body), string(second.Body))
	})
}

// With no worker, a write answers 503 with its command ID; the retry with
// that ID, once a worker runs, gets the result, and there is one room.
func TestNoWorkerAnswers503ThenTheRetryGetsTheResult(t *testing.T) {
	t.Parallel()
	b := setup(t, opts{noWorker: true, timeout: 500 * time.Millisecond})
	start := time.Now()
	r := b.do(t, req{Method: http.MethodPost, Path: "/api/v1/rooms", Body: map[string]any{"roomName": "later"}})
	require.Less(t, time.Since(start), 5*time.Second, "bounded by the command timeout")
	m := requireError(t, r, http.StatusServiceUnavailable, "Service Unavailable")
	id, _ := m["commandId"].(string)
	require.NotEmpty(t, id)
	require.Equal(t, id, r.Header.Get("Idempotency-Key"))
	require.NotEmpty(t, r.Header.Get("Retry-After"))
	require.Contains(t, m["message"], id)

	b.Start(t, workertest.WorkerOpts{})
	var retry resp
	require.Eventually(t, func() bool {
		retry = b.do(t, req{Method: http.MethodPost, Path: "/api/v1/rooms", Body: map[string]any{"roomName": "later"},
			Header: map[string]string{"Idempotency-Key": id}})
		return retry.Status != http.StatusServiceUnavailable
	}, 30*time.Second, 100*time.Millisecond)
	require.Equal(t, http.StatusCreated, retry.Status, "%s", retry.Body)
	require.Equal(t, "later", retry.JSON(t)["roomName"])
	require.EqualValues(t, 1, b.CountRooms(t), "the first publish and the retry are one command")
}

// With no query service, a read answers 503 at once.
func TestNoQueryServiceAnswers503(t *testing.T) {
	t.Parallel()
	b := setup(t, opts{noWorker: true, noQueries: true})
	for _, path := range []string{"/api/v1/rooms", "/api/v1/rooms/some-000000000000000", "/api/v1/rooms/some-000000000000000/config"} {
		requireError(t, b.get(t, path), http.StatusServiceUnavailable, "Service Unavailable")
	}
}
