package webhooks

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/roomkeeper/roomkeeper/events"
)

// rawPost opens a connection to the receiver at rawURL and sends the
// request line and headers of a POST of contentLength bytes, then prefix of
// the body, and nothing more: the rest of the upload is the caller's.
func rawPost(t *testing.T, rawURL, authorization string, contentLength int, prefix []byte) net.Conn {
	t.Helper()
	u, err := url.Parse(rawURL)
	require.NoError(t, err)
	conn, err := net.DialTimeout("tcp", u.Host, 5*time.Second)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	var head strings.Builder
	fmt.Fprintf(&head, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/webhook+json\r\nContent-Length: %d\r\n", u.Path, u.Host, contentLength)
	if authorization != "" {
		fmt.Fprintf(&head, "Authorization: %s\r\n", authorization)
	}
	head.WriteString("\r\n")
	_, err = conn.Write(append([]byte(head.String()), prefix...))
	require.NoError(t, err)
	return conn
}

// answer reads the response on conn, waiting at most within.
func answer(t *testing.T, conn net.Conn, within time.Duration) (*http.Response, error) {
	t.Helper()
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(within)))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err == nil {
		_ = resp.Body.Close()
	}
	return resp, err
}

// TestRefusedBeforeBody: a request whose Authorization is missing or not
// valid is answered 401 while its body has not been sent at all: the
// receiver checks the token before it reads a byte of the body.
func TestRefusedBeforeBody(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	body := event(t, "room_finished", "EV_early", "r1")
	for name, authz := range map[string]string{
		"none":         "",
		"wrong secret": sign(t, testKey, "not-the-secret", body),
		"unknown key":  sign(t, "APIother", testSecret, body),
		"not a jwt":    "not-a-token",
	} {
		t.Run(name, func(t *testing.T) {
			conn := rawPost(t, b.url, authz, int(DefaultMaxBody), nil)
			resp, err := answer(t, conn, 3*time.Second)
			require.NoError(t, err, "no answer before the body was sent")
			require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
		})
	}
	require.Equal(t, 4, b.metrics.get(OutcomeUnauthorized))
	require.Zero(t, b.rc.InFlightBytes())
	require.EqualValues(t, 0, b.stored(t))
}

// TestStalledUploadCut: a signed upload that stalls is cut by the server's
// ReadTimeout, and the bytes it held return to the budget.
func TestStalledUploadCut(t *testing.T) {
	t.Parallel()
	n := setup(t, nil)
	srv := httptest.NewUnstartedServer(n.rc)
	srv.Config.ReadTimeout = 300 * time.Millisecond
	srv.Start()
	t.Cleanup(srv.Close)

	body := event(t, "room_finished", "EV_stalled", "r1")
	conn := rawPost(t, srv.URL+Path, sign(t, testKey, testSecret, body), len(body), body[:10])
	require.Eventually(t, func() bool { return n.rc.InFlightBytes() > 0 }, 2*time.Second, 5*time.Millisecond)
	start := time.Now()
	_, _ = answer(t, conn, 3*time.Second) // an answer or the close
	require.Less(t, time.Since(start), 2*time.Second, "the stalled upload was not cut")
	require.Eventually(t, func() bool { return n.rc.InFlightBytes() == 0 }, 2*time.Second, 5*time.Millisecond)
	require.EqualValues(t, 0, n.stored(t))
}

// TestInFlightBudget: stalled signed uploads hold at most MaxInFlightBytes
// together; the ones past the budget are answered 503 with a Retry-After at
// once, without their bodies being read, and the ones within it are stored
// when their bodies arrive. The bytes held go back to zero.
func TestInFlightBudget(t *testing.T) {
	t.Parallel()
	const maxBody, budget, uploads = 64 << 10, 256 << 10, 10
	b := setup(t, func(c *Config) { c.MaxBody, c.MaxInFlightBytes = maxBody, budget })

	type upload struct {
		conn net.Conn
		body []byte
	}
	var held []upload
	for i := range uploads {
		head := fmt.Sprintf(`{"event":"room_finished","id":"EV_budget_%d","room":{"name":"r1","metadata":"`, i)
		tail := `"}}`
		body := []byte(head + strings.Repeat("a", maxBody-len(head)-len(tail)) + tail)
		conn := rawPost(t, b.url, sign(t, testKey, testSecret, body), len(body), body[:1024])
		if i < budget/maxBody {
			want := int64(i+1) * maxBody
			require.Eventually(t, func() bool { return b.rc.InFlightBytes() == want }, 2*time.Second, 5*time.Millisecond)
			held = append(held, upload{conn, body})
			continue
		}
		resp, err := answer(t, conn, 3*time.Second)
		require.NoError(t, err, "upload %d past the budget got no answer", i)
		require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
		require.NotEmpty(t, resp.Header.Get("Retry-After"))
		require.LessOrEqual(t, b.rc.InFlightBytes(), int64(budget))
	}
	require.Equal(t, int64(budget), b.rc.InFlightBytes())
	require.Equal(t, uploads-budget/maxBody, b.metrics.get(OutcomeBusy))

	for i, u := range held {
		_, err := u.conn.Write(u.body[1024:])
		require.NoError(t, err)
		resp, err := answer(t, u.conn, 5*time.Second)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode, "held upload %d", i)
	}
	require.Zero(t, b.rc.InFlightBytes())
	require.EqualValues(t, len(held), b.stored(t))
}

// TestChunkedBody: a body without a Content-Length is read into a buffer
// that grows as it arrives: stored byte for byte up to exactly MaxBody,
// 413 past it, and the bytes held go back to zero either way.
func TestChunkedBody(t *testing.T) {
	t.Parallel()
	const maxBody = 20 << 10 // not a power of two: the last class is MaxBody itself
	b := setup(t, func(c *Config) { c.MaxBody = maxBody })
	sized := func(id string, size int) []byte {
		head := `{"event":"room_finished","id":"` + id + `","room":{"name":"r1","metadata":"`
		tail := `"}}`
		return []byte(head + strings.Repeat("a", size-len(head)-len(tail)) + tail)
	}
	postChunked := func(body []byte) int {
		// A reader of unknown length: the client sends it chunked.
		req, err := http.NewRequest(http.MethodPost, b.url, io.MultiReader(bytes.NewReader(body)))
		require.NoError(t, err)
		req.ContentLength = -1
		req.Header.Set("Authorization", sign(t, testKey, testSecret, body))
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		_ = resp.Body.Close()
		return resp.StatusCode
	}

	for i, size := range []int{100, 5000, 9 << 10, maxBody} {
		body := sized(fmt.Sprintf("EV_chunked_%d", i), size)
		require.Equal(t, http.StatusOK, postChunked(body), "size %d", size)
		require.Equal(t, body, b.last(t, events.SubjectRoomFinished).Data)
	}
	require.Equal(t, http.StatusRequestEntityTooLarge, postChunked(sized("EV_chunked_over", maxBody+1)))
	require.EqualValues(t, 4, b.stored(t))
	require.Zero(t, b.rc.InFlightBytes())
}
