package webhooks

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/roomkeeper/roomkeeper/internal/testenv"
)

// Authorization modes of FuzzReceiver.
const (
	fuzzSigned      = iota // signed for the body with the right key pair
	fuzzWrongSecret        // signed for the body with another secret
	fuzzOtherBody          // signed for header (as a body) with the right pair
	fuzzRawHeader          // header sent as the Authorization value itself
	fuzzNone               // no Authorization
	fuzzModes
)

// FuzzReceiver: whatever the body and Authorization, the receiver never
// panics, answers 200, 400, 401, 413 or 503, and stores nothing unless it
// answers 200. Valid signatures are made at run time (a committed token
// would expire), so the fuzzer reaches the decoding and publishing paths.
func FuzzReceiver(f *testing.F) {
	n := testenv.StartNATS(f)
	b := setupFuzz(f, n)

	f.Add([]byte(`{"event":"room_finished","id":"EV_seed","room":{"name":"r1"}}`), uint8(fuzzSigned), "")
	f.Add([]byte(`{"event":"room.finished","id":"EV_seed2"}`), uint8(fuzzSigned), "")
	f.Add([]byte(`{"id":"EV_seed3"}`), uint8(fuzzSigned), "")
	f.Add([]byte(`{"event":"room_started","id":"EV_seed4"}`), uint8(fuzzWrongSecret), "")
	f.Add([]byte(`{"event":"room_started","id":"EV_seed5"}`), uint8(fuzzOtherBody), `{"event":"room_started","id":"EV_seed6"}`)
	f.Add([]byte(`{}`), uint8(fuzzRawHeader), "eyJhbGciOiJIUzI1NiJ9.e30.x")
	f.Add([]byte(nil), uint8(fuzzNone), "")

	f.Fuzz(func(t *testing.T, body []byte, mode uint8, header string) {
		var authorization string
		switch mode % fuzzModes {
		case fuzzSigned:
			authorization = sign(t, testKey, testSecret, body)
		case fuzzWrongSecret:
			authorization = sign(t, testKey, "other-secret", body)
		case fuzzOtherBody:
			authorization = sign(t, testKey, testSecret, []byte(header))
		case fuzzRawHeader:
			authorization = header
		}
		req := httptest.NewRequest(http.MethodPost, Path, bytes.NewReader(body))
		if authorization != "" {
			// the server would refuse a header value with control bytes
			// before the handler; the handler must not care either way
			req.Header["Authorization"] = []string{authorization}
		}
		before := b.stored(t)
		w := httptest.NewRecorder()
		b.rc.ServeHTTP(w, req)

		switch w.Code {
		case http.StatusOK:
			require.LessOrEqual(t, b.stored(t), before+1)
		case http.StatusBadRequest, http.StatusUnauthorized, http.StatusRequestEntityTooLarge, http.StatusServiceUnavailable:
			require.Equal(t, before, b.stored(t), "status %d stored something", w.Code)
		default:
			t.Fatalf("status %d: %s", w.Code, w.Body)
		}
	})
}

// setupFuzz is setupOn for a *testing.F, with a small MaxBody so the
// fuzzer reaches 413.
func setupFuzz(f *testing.F, n *testenv.NATS) *testBundle {
	f.Helper()
	_, js := n.Bootstrap(f, nil)
	rc, err := New(Config{APIKey: testKey, APISecret: testSecret, MaxBody: 4 << 10}, js, nil)
	require.NoError(f, err)
	return &testBundle{nats: n, js: js, rc: rc}
}
