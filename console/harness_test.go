package console_test

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/roomkeeper/roomkeeper/console"
	"github.com/roomkeeper/roomkeeper/internal/workertest"
	"github.com/roomkeeper/roomkeeper/queries"
)

const testKey = "console-test-key-0123456789"

// env is a console in front of a real worker, the rooms.api.* queries and
// NATS, served by an httptest server.
type env struct {
	b   *workertest.Bundle
	c   *console.Console
	srv *httptest.Server
}

// setup starts the servers; change edits the console's config (API key
// testKey by default).
func setup(t *testing.T, change func(*console.Config)) *env {
	t.Helper()
	b := workertest.Setup(t, workertest.SetupOpts{})
	b.Start(t, workertest.WorkerOpts{})
	q, err := queries.New(queries.Config{Store: b.Store, Log: b.Log})
	require.NoError(t, err)
	_, err = q.Start(b.NC)
	require.NoError(t, err)
	t.Cleanup(func() { _ = q.Close() })
	cfg := console.Config{Conn: b.NC, Keys: func(k string) bool { return k == testKey }, Log: b.Log}
	if change != nil {
		change(&cfg)
	}
	c, err := console.New(cfg)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = c.Sample(ctx); close(done) }()
	mux := http.NewServeMux()
	mux.Handle("/ui/", c)
	srv := httptest.NewServer(mux)
	t.Cleanup(func() { cancel(); srv.Close(); <-done })
	return &env{b: b, c: c, srv: srv}
}

// browser is an HTTP client with a cookie jar that does not follow
// redirects.
func (e *env) browser(t *testing.T) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	return &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func (e *env) get(t *testing.T, c *http.Client, path string) (*http.Response, string) {
	t.Helper()
	resp, err := c.Get(e.srv.URL + path)
	require.NoError(t, err)
	return resp, body(t, resp)
}

func (e *env) post(t *testing.T, c *http.Client, path string, form url.Values, header http.Header) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.srv.URL+path, strings.NewReader(form.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := c.Do(req)
	require.NoError(t, err)
	return resp, body(t, resp)
}

func body(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(b)
}

// login signs in with secret and returns the CSRF token of the session.
func (e *env) login(t *testing.T, c *http.Client, secret string) string {
	t.Helper()
	resp, _ := e.post(t, c, "/ui/login", url.Values{"secret": {secret}}, nil)
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	_, page := e.get(t, c, "/ui/rooms")
	return csrfOf(t, page)
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`)

func csrfOf(t *testing.T, page string) string {
	t.Helper()
	m := csrfRE.FindStringSubmatch(page)
	require.NotNil(t, m, "no CSRF token in the page")
	return m[1]
}

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
