package apispectest_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/roomkeeper/roomkeeper/apispec/apispectest"
)

// recorder is a testing.TB that keeps what Errorf reports, so that a test
// can check that a mismatch is reported.
type recorder struct {
	testing.TB
	mu   sync.Mutex
	errs []string
}

func (r *recorder) Helper() {}

func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func (r *recorder) reported() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.errs...)
}

// answer is what the test server answers to one request.
type answer struct {
	status      int
	contentType string
	header      map[string]string
	body        string
}

const room = `{"roomId":"room-123456789012345","roomName":"room","owner":"admin","creationDate":1620000000000,
"autoDeletionPolicy":{"withMeeting":"when_meeting_ends","withRecordings":"close"},
"access":{"anonymous":{"moderator":{"enabled":true,"url":"http://127.0.0.1/room/room-123456789012345?secret=1"},
"speaker":{"enabled":true,"url":"http://127.0.0.1/room/room-123456789012345?secret=2"},
"recording":{"enabled":true,"url":"http://127.0.0.1/room/room-123456789012345/recordings?secret=3"}},
"user":{"enabled":false,"url":"http://127.0.0.1/room/room-123456789012345"}},
"status":"open","rolesUpdatedAt":1620000000000,"meetingEndAction":"none","_extraFields":["config","roles"]}`

// serve starts a test server that answers every request with a.
func serve(t *testing.T, a answer) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		ct := a.contentType
		if ct == "" {
			ct = "application/json"
		}
		w.Header().Set("Content-Type", ct)
		for k, v := range a.header {
			w.Header().Set(k, v)
		}
		w.WriteHeader(a.status)
		_, _ = io.WriteString(w, a.body)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// do sends one request through the checking transport and returns the body
// the caller reads.
func do(t *testing.T, tb testing.TB, method, url, body string, header map[string]string) (int, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	require.NoError(t, err)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	client := &http.Client{Transport: apispectest.Transport(tb, nil)}
	resp, err := client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

func TestTransportSmoke(t *testing.T) {
	rec := &recorder{TB: t}
	url := serve(t, answer{status: 201, header: map[string]string{"Location": "/api/v1/rooms/room-123456789012345"}, body: room})
	status, body := do(t, rec, http.MethodPost, url+"/api/v1/rooms", `{"roomName":"room"}`, nil)
	require.Equal(t, 201, status)
	require.JSONEq(t, room, body)
	require.Empty(t, rec.reported())
}
