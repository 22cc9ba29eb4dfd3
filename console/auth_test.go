package console_test

import (
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/roomkeeper/roomkeeper/console"
	"github.com/roomkeeper/roomkeeper/events"
)

func TestNoSessionRedirectsToLogin(t *testing.T) {
	t.Parallel()
	e := setup(t, nil)
	c := e.browser(t)
	for _, path := range []string{"/ui/rooms", "/ui/dead", "/ui/streams", "/ui/events", "/ui/events/stream"} {
		resp, _ := e.get(t, c, path)
		assert.Equal(t, http.StatusSeeOther, resp.StatusCode, path)
		assert.Equal(t, "/ui/login", resp.Header.Get("Location"), path)
	}
	// A forged cookie is no session.
	u, _ := url.Parse(e.srv.URL + "/ui/")
	c.Jar.SetCookies(u, []*http.Cookie{{Name: "roomkeeper_console", Value: "99999999999.abc.AAAA"}})
	resp, _ := e.get(t, c, "/ui/rooms")
	assert.Equal(t, http.StatusSeeOther, resp.StatusCode)
	// A POST without a session changes nothing.
	resp, _ = e.post(t, c, "/ui/rooms", url.Values{"roomName": {"x"}}, nil)
	assert.Equal(t, http.StatusSeeOther, resp.StatusCode)
	assert.Zero(t, e.b.CountRooms(t))
}

func TestLoginWithWrongKeyIsRefused(t *testing.T) {
	t.Parallel()
	e := setup(t, func(c *console.Config) { c.Password = "a-console-password" })
	c := e.browser(t)
	for _, wrong := range []string{"", "nope", testKey + "x", "a-console-passwor"} {
		resp, page := e.post(t, c, "/ui/login", url.Values{"secret": {wrong}}, nil)
		assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, wrong)
		assert.Contains(t, page, "neither an API key nor the console password")
		assert.Empty(t, resp.Cookies(), wrong)
	}
	resp, _ := e.get(t, c, "/ui/rooms")
	assert.Equal(t, http.StatusSeeOther, resp.StatusCode)

	// The right key from a page of another origin (login CSRF).
	resp, _ = e.post(t, c, "/ui/login", url.Values{"secret": {testKey}}, http.Header{"Origin": {"http://evil.example"}})
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)
	assert.Empty(t, resp.Cookies())

	for _, right := range []string{testKey, "a-console-password"} {
		c := e.browser(t)
		resp, _ := e.post(t, c, "/ui/login", url.Values{"secret": {right}}, nil)
		require.Equal(t, http.StatusSeeOther, resp.StatusCode)
		ck := resp.Cookies()
		require.Len(t, ck, 1)
		assert.True(t, ck[0].HttpOnly)
		assert.Equal(t, http.SameSiteStrictMode, ck[0].SameSite)
		assert.Equal(t, "/ui", ck[0].Path)
		assert.False(t, ck[0].Secure, "plain HTTP on loopback")
		resp, page := e.get(t, c, "/ui/rooms")
		assert.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Contains(t, page, "New room")
		assert.NotContains(t, page, "open-banner")

		// Logout ends the session.
		resp, _ = e.post(t, c, "/ui/logout", url.Values{"csrf": {csrfOf(t, page)}}, nil)
		assert.Equal(t, http.StatusSeeOther, resp.StatusCode)
		resp, _ = e.get(t, c, "/ui/rooms")
		assert.Equal(t, http.StatusSeeOther, resp.StatusCode)
	}

	// Behind a proxy that ended TLS, the cookie is Secure.
	for _, h := range []http.Header{
		{"X-Forwarded-Proto": {"https"}},
		{"Forwarded": {`for=192.0.2.60;proto=https;by=203.0.113.43`}},
	} {
		resp, _ := e.post(t, e.browser(t), "/ui/login", url.Values{"secret": {testKey}}, h)
		require.Equal(t, http.StatusSeeOther, resp.StatusCode)
		require.Len(t, resp.Cookies(), 1)
		assert.True(t, resp.Cookies()[0].Secure, "%v", h)
	}
}

func TestPostWithoutCSRFTokenIsForbidden(t *testing.T) {
	t.Parallel()
	e := setup(t, nil)
	c := e.browser(t)
	tok := e.login(t, c, testKey)

	resp, _ := e.post(t, c, "/ui/rooms", url.Values{"roomName": {"no token"}}, nil)
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)
	resp, _ = e.post(t, c, "/ui/rooms", url.Values{"roomName": {"wrong token"}, "csrf": {strings.Repeat("0", 32)}}, nil)
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)
	// Another session's token is no good either.
	other := e.browser(t)
	otherTok := e.login(t, other, testKey)
	require.NotEqual(t, tok, otherTok)
	resp, _ = e.post(t, c, "/ui/rooms", url.Values{"roomName": {"other token"}, "csrf": {otherTok}}, nil)
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)
	// The right token from another origin.
	resp, _ = e.post(t, c, "/ui/rooms", url.Values{"roomName": {"cross"}, "csrf": {tok}}, http.Header{"Origin": {"http://evil.example"}})
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)
	assert.Zero(t, e.b.CountRooms(t))

	// The form field or the htmx header.
	resp, _ = e.post(t, c, "/ui/rooms", url.Values{"roomName": {"With Token"}, "csrf": {tok}}, nil)
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	assert.Contains(t, resp.Header.Get("Location"), "/ui/rooms/with_token")
	resp, _ = e.post(t, c, "/ui/rooms", url.Values{"roomName": {"With Header"}}, http.Header{"X-Csrf-Token": {tok}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	assert.EqualValues(t, 2, e.b.CountRooms(t))
}

func TestOpenConsoleOnlyOnLoopback(t *testing.T) {
	t.Parallel()
	e := setup(t, func(c *console.Config) { c.Keys, c.Loopback = nil, true })
	_, err := console.New(console.Config{Conn: e.b.NC})
	require.ErrorIs(t, err, console.ErrNoAuth)

	c := e.browser(t)
	resp, page := e.get(t, c, "/ui/rooms")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, page, `id="open-banner"`)
	// Still CSRF-safe: the session it started carries the token.
	resp, _ = e.post(t, c, "/ui/rooms", url.Values{"roomName": {"open"}}, nil)
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)
	resp, _ = e.post(t, c, "/ui/rooms", url.Values{"roomName": {"open"}, "csrf": {csrfOf(t, page)}}, nil)
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	// A page of another site that a DNS name rebound to 127.0.0.1 sends
	// its Host: the open console does not answer it (it would hand that
	// page the CSRF token).
	for _, host := range []string{"evil.example", "evil.example:80", "10.0.0.1:8080"} {
		req, err := http.NewRequest(http.MethodGet, e.srv.URL+"/ui/rooms", nil)
		require.NoError(t, err)
		req.Host = host
		resp, err := c.Do(req)
		require.NoError(t, err)
		page := body(t, resp)
		assert.Equal(t, http.StatusForbidden, resp.StatusCode, host)
		assert.NotContains(t, page, `name="csrf"`, host)
	}
	for _, host := range []string{"localhost", "LOCALHOST:8080", "127.0.0.1:80", "[::1]:8080"} {
		req, err := http.NewRequest(http.MethodGet, e.srv.URL+"/ui/rooms", nil)
		require.NoError(t, err)
		req.Host = host
		resp, err := c.Do(req)
		require.NoError(t, err)
		_ = body(t, resp)
		assert.Equal(t, http.StatusOK, resp.StatusCode, host)
	}
	id := strings.TrimPrefix(strings.SplitN(resp.Header.Get("Location"), "?", 2)[0], "/ui/rooms/")
	room, err := e.b.Client.GetRoom(ctxT(t, 10*time.Second), id)
	require.NoError(t, err)
	assert.Equal(t, "open", room.RoomName)
	assert.Equal(t, events.StatusOpen, room.Status)
}

// Failed logins from one address are throttled: after LoginBurst failures
// even the right secret gets 429 with Retry-After, until the limit refills;
// another address is not held back.
func TestFailedLoginsAreThrottled(t *testing.T) {
	t.Parallel()
	e := setup(t, func(c *console.Config) {
		c.Password = "a-console-password"
		c.LoginBurst, c.LoginEvery = 3, time.Minute
	})
	c := e.browser(t)
	for range 3 {
		resp, _ := e.post(t, c, "/ui/login", url.Values{"secret": {"guess"}}, nil)
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	}
	resp, page := e.post(t, c, "/ui/login", url.Values{"secret": {"a-console-password"}}, nil)
	require.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
	require.Empty(t, resp.Cookies(), "no session while throttled")
	retry, err := strconv.Atoi(resp.Header.Get("Retry-After"))
	require.NoError(t, err)
	require.InDelta(t, 60, retry, 2)
	require.Contains(t, page, "Too many failed logins")

	// Another client address (loopback 127.0.0.2) logs in.
	other := e.browser(t)
	other.Transport = &http.Transport{DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}}).DialContext}
	resp, _ = e.post(t, other, "/ui/login", url.Values{"secret": {"a-console-password"}}, nil)
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	require.Len(t, resp.Cookies(), 1)
}
