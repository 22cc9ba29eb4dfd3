package app_test

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/roomkeeper/roomkeeper/events"
)

func noRedirects() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(b)
}

// With API_KEYS the console at /ui asks for a login, and takes a key.
func TestConsoleBehindAPIKeys(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	cfg.APIKeys = "console-app-key-0123456789"
	p := serve(t, cfg)
	base := "http://" + p.app.HTTPAddr()
	c := noRedirects()
	resp, err := c.Get(base + "/ui")
	require.NoError(t, err)
	_ = readAll(t, resp)
	assert.Equal(t, "/ui/", resp.Header.Get("Location"))
	resp, err = c.Get(base + "/ui/rooms")
	require.NoError(t, err)
	_ = readAll(t, resp)
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	assert.Equal(t, "/ui/login", resp.Header.Get("Location"))
	resp, err = c.PostForm(base+"/ui/login", url.Values{"secret": {cfg.APIKeys}})
	require.NoError(t, err)
	_ = readAll(t, resp)
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	resp, err = c.Get(base + "/ui/rooms")
	require.NoError(t, err)
	page := readAll(t, resp)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.NotContains(t, page, "open-banner")

	// Another process with the same settings (a restart here; a replica
	// behind the same address alike) takes the same session.
	p.stop(t)
	p2 := serve(t, cfg)
	resp, err = c.Get("http://" + p2.app.HTTPAddr() + "/ui/rooms")
	require.NoError(t, err)
	_ = readAll(t, resp)
	assert.Equal(t, http.StatusOK, resp.StatusCode, "the session holds in another process")

	// Other keys: the session ends.
	p2.stop(t)
	cfg.APIKeys = "console-app-key-rotated-0123456789"
	p3 := serve(t, cfg)
	resp, err = c.Get("http://" + p3.app.HTTPAddr() + "/ui/rooms")
	require.NoError(t, err)
	_ = readAll(t, resp)
	assert.Equal(t, http.StatusSeeOther, resp.StatusCode, "keys changed: sign in again")
}

// With neither keys nor password, on a loopback HTTP_ADDR, the console is
// open and says so; its live event stream outlives HTTP_WRITE_TIMEOUT and
// does not hold up the shutdown.
func TestConsoleOpenOnLoopbackAndItsEventStream(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	cfg.HTTPReadHeaderTimeout, cfg.HTTPReadTimeout = time.Second, time.Second
	cfg.HTTPWriteTimeout = 6 * time.Second // the least allowed
	p := serve(t, cfg)
	base := "http://" + p.app.HTTPAddr()
	c := noRedirects()
	resp, err := c.Get(base + "/ui/rooms")
	require.NoError(t, err)
	page := readAll(t, resp)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, page, `id="open-banner"`)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/ui/events/stream", nil)
	require.NoError(t, err)
	resp, err = c.Do(req)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	lines := bufio.NewScanner(resp.Body)
	require.True(t, lines.Scan())
	require.Equal(t, "event: ready", lines.Text())

	time.Sleep(cfg.HTTPWriteTimeout + time.Second)
	client, _ := appClient(t, p.app)
	room, err := client.CreateRoom(ctxT(t, 30*time.Second), cmdID("create"), events.CreateRoom{})
	require.NoError(t, err)
	found := false
	for !found && lines.Scan() {
		found = strings.HasPrefix(lines.Text(), "data: ") && strings.Contains(lines.Text(), room.RoomID)
	}
	require.True(t, found, "the event of %s never came: %v", room.RoomID, lines.Err())

	// The open stream does not make the shutdown wait (15 s at most).
	start := time.Now()
	p.stop(t)
	assert.Less(t, time.Since(start), 5*time.Second)
	for lines.Scan() { // the server ended the stream
	}
}
