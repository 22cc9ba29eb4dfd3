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

	"github.com/roomkeeper/roomkeeper/apispec"
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

// A conforming exchange is not reported, and the caller reads the body the
// server sent.
func TestTransportAcceptsConforming(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name         string
		method, path string
		body         string
		header       map[string]string
		answer       answer
	}{
		{"create", http.MethodPost, "/api/v1/rooms", `{"roomName":"room","config":{"chat":{"enabled":false}}}`,
			map[string]string{"Idempotency-Key": "k-1", "X-API-KEY": "key"},
			answer{status: 201, header: map[string]string{"Location": "http://127.0.0.1/api/v1/rooms/room-123456789012345"}, body: room}},
		{"create with deprecated permission names", http.MethodPost, "/api/v1/rooms",
			`{"roles":{"speaker":{"permissions":{"canRecord":true}}}}`, nil,
			answer{status: 201, header: map[string]string{"Location": "/api/v1/rooms/room-123456789012345"}, body: room}},
		{"create with no body (the default room)", http.MethodPost, "/api/v1/rooms", "", nil,
			answer{status: 201, header: map[string]string{"Location": "/api/v1/rooms/room-123456789012345"}, body: room}},
		{"a body over the limit", http.MethodPut, "/api/v1/rooms/r/config", `{"config":{}}`, nil,
			answer{status: 413, body: `{"error":"Payload Too Large","message":"the body is over 1048576 bytes"}`}},
		{"get with a room secret", http.MethodGet, "/api/v1/rooms/room-123456789012345?secret=1", "", nil,
			answer{status: 200, body: room}},
		{"a room secret that is not the room's", http.MethodGet, "/api/v1/rooms/r/config?secret=guess", "", nil,
			answer{status: 401, body: `{"error":"Authentication Error","message":"Unauthorized"}`}},
		{"get", http.MethodGet, "/api/v1/rooms/room-123456789012345?extraFields=config", "", nil,
			answer{status: 200, body: room}},
		{"get with fields", http.MethodGet, "/api/v1/rooms/room-123456789012345?fields=roomId", "", map[string]string{"X-Fields": "roomId"},
			answer{status: 200, body: `{"roomId":"room-123456789012345","_extraFields":["config","roles"]}`}},
		{"list", http.MethodGet, "/api/v1/rooms?maxItems=2&sortField=roomName&sortOrder=asc&roomNameCaseInsensitive=true", "", nil,
			answer{status: 200, body: `{"rooms":[{"roomId":"a-123456789012345"}],"_extraFields":["config","roles"],
"pagination":{"isTruncated":true,"nextPageToken":"t","maxItems":2}}`}},
		{"config", http.MethodGet, "/api/v1/rooms/r/config", "", nil,
			answer{status: 200, body: `{"chat":{"enabled":true},"recording":{"enabled":true,"layout":"grid","encoding":"H264_720P_30"},
"virtualBackground":{"enabled":true},"e2ee":{"enabled":false},"captions":{"enabled":true},"maxParticipants":null,"maxDurationMinutes":30}`}},
		{"not found", http.MethodGet, "/api/v1/rooms/nope", "", nil,
			answer{status: 404, body: `{"error":"Room Error","message":"Room \"nope\" does not exist"}`}},
		{"unauthorized", http.MethodDelete, "/api/v1/rooms/r", "", nil,
			answer{status: 401, body: `{"error":"Authentication Error","message":"Unauthorized"}`}},
		{"validation", http.MethodPost, "/api/v1/rooms", `{"roomName":7}`, nil,
			answer{status: 422, body: `{"error":"Unprocessable Entity","message":"Invalid request","details":[{"field":"roomName","message":"Expected string"}]}`}},
		{"invalid request refused", http.MethodPut, "/api/v1/rooms/r/access", `{"access":{"user":{"enabled":true}}}`, nil,
			answer{status: 422, body: `{"error":"Unprocessable Entity","message":"Invalid request"}`}},
		{"command time-out", http.MethodPut, "/api/v1/rooms/r/status", `{"status":"closed"}`, map[string]string{"Idempotency-Key": "k-2"},
			answer{status: 503, body: `{"error":"Service Unavailable","message":"retry","commandId":"k-2"}`}},
		{"close scheduled", http.MethodPut, "/api/v1/rooms/r/status", `{"status":"closed"}`, nil,
			answer{status: 202, body: `{"roomId":"r","status":"active_meeting","meetingEndAction":"close"}`}},
		{"delete", http.MethodDelete, "/api/v1/rooms/r?withMeeting=force&withRecordings=close", "", nil,
			answer{status: 200, body: `{"successCode":"room_deleted","message":"Room 'r' deleted successfully"}`}},
		{"bulk delete, mixed", http.MethodDelete, "/api/v1/rooms?roomIds=a,b", "", nil,
			answer{status: 400, body: `{"message":"1 room(s) failed to process while deleting",
"deleted":[{"roomId":"a","successCode":"room_deleted","message":"Room 'a' deleted successfully"}],
"failed":[{"roomId":"b","error":"Room Error","message":"Room 'b' not found"}]}`}},
		{"roles", http.MethodPut, "/api/v1/rooms/r/roles", `{"roles":{"moderator":{"permissions":{"recordingControl":false}}}}`, nil,
			answer{status: 409, body: `{"error":"Room Error","message":"Room \"r\" has an active meeting"}`}},
		{"the spec itself", http.MethodGet, "/api/v1/openapi.yaml", "", nil,
			answer{status: 200, contentType: "application/yaml", body: string(apispec.YAML())}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			rec := &recorder{TB: t}
			url := serve(t, c.answer)
			status, body := do(t, rec, c.method, url+c.path, c.body, c.header)
			require.Equal(t, c.answer.status, status)
			require.Equal(t, c.answer.body, body, "the caller reads the body the server sent")
			require.Empty(t, rec.reported())
		})
	}
}

// A non-conforming exchange is reported, naming the method, the path, the
// status and what is wrong.
func TestTransportRejectsNonConforming(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name         string
		method, path string
		body         string
		answer       answer
		want         string // in the report
	}{
		{"created without Location", http.MethodPost, "/api/v1/rooms", `{}`,
			answer{status: 201, body: room}, `Location`},
		{"a property the room does not have", http.MethodGet, "/api/v1/rooms/r", "",
			answer{status: 200, body: `{"roomId":"r","secret":"s"}`}, `secret`},
		{"a wrong type", http.MethodGet, "/api/v1/rooms/r", "",
			answer{status: 200, body: `{"roomId":"r","creationDate":"yesterday"}`}, `creationDate`},
		{"a status outside the enum", http.MethodGet, "/api/v1/rooms/r", "",
			answer{status: 200, body: `{"roomId":"r","status":"opened"}`}, `status`},
		{"an error without its message", http.MethodGet, "/api/v1/rooms/r", "",
			answer{status: 404, body: `{"error":"Room Error"}`}, `message`},
		{"a time-out without its command ID", http.MethodPost, "/api/v1/rooms", `{}`,
			answer{status: 503, body: `{"error":"Service Unavailable","message":"retry"}`}, `commandId`},
		{"a listed room with a property it does not have", http.MethodGet, "/api/v1/rooms", "",
			answer{status: 200, body: `{"rooms":[{"roomId":"r","secret":"s"}],"_extraFields":["config","roles"],"pagination":{"isTruncated":false,"maxItems":10}}`}, `secret`},
		{"a list without pagination", http.MethodGet, "/api/v1/rooms", "",
			answer{status: 200, body: `{"rooms":[],"_extraFields":["config","roles"]}`}, `pagination`},
		{"an undocumented status", http.MethodGet, "/api/v1/rooms/r", "",
			answer{status: http.StatusTeapot, body: `{"error":"x","message":"y"}`}, `status is not supported`},
		{"a 413 where there is no body", http.MethodGet, "/api/v1/rooms/r", "",
			answer{status: 413, body: `{"error":"Payload Too Large","message":"m"}`}, `status is not supported`},
		{"a 403 for a room secret", http.MethodGet, "/api/v1/rooms/r?secret=s", "",
			answer{status: 403, body: `{"error":"Authorization Error","message":"m"}`}, `status is not supported`},
		{"a 409 where there is none", http.MethodPut, "/api/v1/rooms/r/status", `{"status":"open"}`,
			answer{status: 409, body: `{"error":"Room Error","message":"m"}`}, `status is not supported`},
		{"not JSON", http.MethodGet, "/api/v1/rooms/r", "",
			answer{status: 200, contentType: "text/plain", body: `hello`}, `text/plain`},
		{"a route not in the spec", http.MethodGet, "/api/v1/rooms/r/members", "",
			answer{status: 200, body: `[]`}, `no route`},
		{"a method not in the spec", http.MethodPatch, "/api/v1/rooms/r", `{}`,
			answer{status: 200, body: `{}`}, `no route`},
		{"a path outside the server", http.MethodGet, "/rooms", "",
			answer{status: 200, body: `{}`}, `no route`},
		{"an invalid body accepted", http.MethodPost, "/api/v1/rooms", `{"roomName":7}`,
			answer{status: 201, header: map[string]string{"Location": "/api/v1/rooms/x"}, body: room}, `accepted a request the spec rejects`},
		{"user access accepted", http.MethodPut, "/api/v1/rooms/r/access", `{"access":{"user":{"enabled":true}}}`,
			answer{status: 200, body: `{"anonymous":{"moderator":{"enabled":true},"speaker":{"enabled":true},"recording":{"enabled":true}},"user":{"enabled":true}}`},
			`accepted a request the spec rejects`},
		{"an invalid query accepted", http.MethodGet, "/api/v1/rooms?sortOrder=up", "",
			answer{status: 200, body: `{"rooms":[],"_extraFields":["config","roles"],"pagination":{"isTruncated":false,"maxItems":10}}`},
			`accepted a request the spec rejects`},
		{"an empty owner accepted", http.MethodGet, "/api/v1/rooms?owner=", "",
			answer{status: 200, body: `{"rooms":[],"_extraFields":["config","roles"],"pagination":{"isTruncated":false,"maxItems":10}}`},
			`accepted a request the spec rejects`},
		{"bulk delete without roomIds accepted", http.MethodDelete, "/api/v1/rooms", "",
			answer{status: 200, body: `{"deleted":[],"failed":[]}`}, `accepted a request the spec rejects`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			rec := &recorder{TB: t}
			url := serve(t, c.answer)
			status, body := do(t, rec, c.method, url+c.path, c.body, nil)
			require.Equal(t, c.answer.status, status)
			require.Equal(t, c.answer.body, body, "the caller reads the body the server sent")
			errs := rec.reported()
			require.Len(t, errs, 1, "one report per exchange")
			require.Contains(t, errs[0], c.method+" "+c.path)
			require.Contains(t, errs[0], fmt.Sprint(c.answer.status))
			require.Contains(t, errs[0], c.want)
		})
	}
}

// The request body reaches the server whole, and the caller's request is not
// consumed twice (a client retry of a request with GetBody still works).
func TestTransportForwardsTheRequestBody(t *testing.T) {
	t.Parallel()
	var got string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got = string(b)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Location", "/api/v1/rooms/room-123456789012345")
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, room)
	}))
	t.Cleanup(srv.Close)
	rec := &recorder{TB: t}
	do(t, rec, http.MethodPost, srv.URL+"/api/v1/rooms", `{"roomName":"standup"}`, nil)
	require.Equal(t, `{"roomName":"standup"}`, got)
	require.Empty(t, rec.reported())
}

// doUnrouted sends one request through Unrouted and returns what it
// reported.
func doUnrouted(t *testing.T, method, url string) []string {
	t.Helper()
	rec := &recorder{TB: t}
	req, err := http.NewRequest(method, url, nil)
	require.NoError(t, err)
	resp, err := (&http.Client{Transport: apispectest.Unrouted(rec, nil)}).Do(req)
	require.NoError(t, err)
	_ = resp.Body.Close()
	return rec.reported()
}

// The spec's answer to a request outside it is not reported: 405 with the
// path's methods in Allow (in any order), 404 for a path it does not have.
func TestUnroutedAcceptsTheSpecsAnswer(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name         string
		method, path string
		answer       answer
	}{
		{"a method the collection does not take", http.MethodPatch, "/api/v1/rooms",
			answer{status: 405, header: map[string]string{"Allow": "GET, POST, DELETE"}, body: `{"error":"Method Not Allowed","message":"m"}`}},
		{"Allow in another order", http.MethodPost, "/api/v1/rooms/r/status",
			answer{status: 405, header: map[string]string{"Allow": "PUT"}, body: `{"error":"Method Not Allowed","message":"m"}`}},
		{"the document", http.MethodPut, "/api/v1/openapi.yaml",
			answer{status: 405, header: map[string]string{"Allow": "GET"}, body: `{"error":"Method Not Allowed","message":"m"}`}},
		{"a path the spec does not have", http.MethodGet, "/api/v1/recordings",
			answer{status: 404, contentType: "application/json; charset=utf-8", body: `{"error":"Not Found","message":"no route GET /api/v1/recordings"}`}},
		{"a path outside the server", http.MethodGet, "/rooms",
			answer{status: 404, body: `{"error":"Not Found","message":"m"}`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			require.Empty(t, doUnrouted(t, c.method, serve(t, c.answer)+c.path))
		})
	}
}

// Unrouted reports a route the spec has and any other answer than the
// spec's.
func TestUnroutedRejects(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name         string
		method, path string
		answer       answer
		want         string
	}{
		{"a route of the spec", http.MethodGet, "/api/v1/rooms/r",
			answer{status: 404, body: `{"error":"Room Error","message":"m"}`}, "send it through Transport"},
		{"404 for a path the spec has", http.MethodPatch, "/api/v1/rooms",
			answer{status: 404, body: `{"error":"Not Found","message":"m"}`}, "not 405"},
		{"405 without Allow", http.MethodPatch, "/api/v1/rooms",
			answer{status: 405, body: `{"error":"Method Not Allowed","message":"m"}`}, "not the spec's methods"},
		{"Allow with a method the path does not take", http.MethodPost, "/api/v1/rooms/r",
			answer{status: 405, header: map[string]string{"Allow": "GET, DELETE, PUT"}, body: `{"error":"Method Not Allowed","message":"m"}`}, "not the spec's methods"},
		{"Allow without a method the path takes", http.MethodPatch, "/api/v1/rooms",
			answer{status: 405, header: map[string]string{"Allow": "GET, POST"}, body: `{"error":"Method Not Allowed","message":"m"}`}, "not the spec's methods"},
		{"200 for a path the spec does not have", http.MethodGet, "/api/v1/recordings",
			answer{status: 200, body: `{"error":"Not Found","message":"m"}`}, "not 404"},
		{"405 for a path the spec does not have", http.MethodGet, "/api/v1/recordings",
			answer{status: 405, header: map[string]string{"Allow": "GET"}, body: `{"error":"Not Found","message":"m"}`}, "not 404"},
		{"a body without its message", http.MethodGet, "/api/v1/recordings",
			answer{status: 404, body: `{"error":"Not Found"}`}, "message"},
		{"a text body", http.MethodGet, "/api/v1/recordings",
			answer{status: 404, contentType: "text/plain; charset=utf-8", body: "404 page not found\n"}, "text/plain"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			errs := doUnrouted(t, c.method, serve(t, c.answer)+c.path)
			require.Len(t, errs, 1, "one report per exchange")
			require.Contains(t, errs[0], c.method+" "+c.path)
			require.Contains(t, errs[0], c.want)
		})
	}
}
