package roomlink_test

import (
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/internal/workertest"
	"github.com/roomkeeper/roomkeeper/livekit"
	"github.com/roomkeeper/roomkeeper/queries"
	"github.com/roomkeeper/roomkeeper/roomlink"
)

const frontend = "https://meet.example.com"

// serve runs a worker and the rooms.api.* queries on real NATS and SQLite
// (whose rooms' links start with base), and the pages (handing over to
// frontend) on an HTTP server.
func serve(t *testing.T, base, frontend string) (*workertest.Bundle, *httptest.Server) {
	t.Helper()
	b := workertest.Setup(t, workertest.SetupOpts{})
	b.Rooms.BaseURL = base
	b.Start(t, workertest.WorkerOpts{})
	// Attached to a LiveKit URL (never called: tokens are signed here),
	// so that the recordings link's token query answers.
	lk, err := livekit.New(livekit.Config{URL: "ws://127.0.0.1:9", APIKey: workertest.TokenKey, APISecret: workertest.TokenSecret})
	require.NoError(t, err)
	q, err := queries.New(queries.Config{Store: b.Store, Tokens: lk, Log: b.Log})
	require.NoError(t, err)
	_, err = q.Start(b.NC)
	require.NoError(t, err)
	t.Cleanup(func() { _ = q.Close() })
	pages, err := roomlink.New(roomlink.Config{Queries: b.Client, BaseURL: frontend, Log: b.Log})
	require.NoError(t, err)
	mux := http.NewServeMux()
	pages.Mount(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return b, srv
}

// fetch GETs link's path and query from srv.
func fetch(t *testing.T, srv *httptest.Server, link string) (int, http.Header, string) {
	t.Helper()
	u, err := url.Parse(link)
	require.NoError(t, err)
	res, err := srv.Client().Get(srv.URL + u.RequestURI())
	require.NoError(t, err)
	defer func() { _ = res.Body.Close() }()
	body, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res.StatusCode, res.Header, string(body)
}

var (
	roleRe = regexp.MustCompile(`id="role">([^<]*)<`)
	nameRe = regexp.MustCompile(`id="room-name">([^<]*)<`)
	joinRe = regexp.MustCompile(`id="join" href="([^"]*)"`)
)

func match(t *testing.T, re *regexp.Regexp, body string) string {
	t.Helper()
	m := re.FindStringSubmatch(body)
	require.NotNil(t, m, "%s not in %s", re, body)
	return html.UnescapeString(m[1])
}

// The links a created room holds, opened on roomkeeper: a page with the
// room's name and the link's role and a join link to the same link at the
// frontend; a wrong secret or an unknown room gets a 404 page.
func TestRoomLinksAnswered(t *testing.T) {
	t.Parallel()
	b, srv := serve(t, frontend, frontend)
	name := "Weekly <sync> & review"
	room, err := b.Client.CreateRoom(workertest.Ctx(t, 30*time.Second), "create-link", events.CreateRoom{RoomName: &name})
	require.NoError(t, err)
	a := room.Access.Anonymous

	for role, link := range map[string]string{"moderator": a.Moderator.URL, "speaker": a.Speaker.URL} {
		require.True(t, strings.HasPrefix(link, frontend+"/room/"+room.RoomID+"?secret="), link)
		code, h, body := fetch(t, srv, link)
		require.Equal(t, http.StatusOK, code, body)
		require.Equal(t, "text/html; charset=utf-8", h.Get("Content-Type"))
		require.Equal(t, "no-referrer", h.Get("Referrer-Policy"), "the link holds a secret")
		require.Equal(t, name, match(t, nameRe, body), "the name, escaped")
		require.NotContains(t, body, "<sync>", "HTML-escaped")
		require.Equal(t, role, match(t, roleRe, body))
		require.Equal(t, link, match(t, joinRe, body), "join hands the same link over to the frontend")
	}

	code, _, body := fetch(t, srv, a.Recording.URL)
	require.Equal(t, http.StatusOK, code, body)
	require.Equal(t, a.Recording.URL, match(t, joinRe, body))

	code, _, body = fetch(t, srv, room.Access.User.URL)
	require.Equal(t, http.StatusOK, code, body)
	require.Contains(t, match(t, roleRe, body), "signs in at the frontend")

	for what, link := range map[string]string{
		"wrong secret":            frontend + "/room/" + room.RoomID + "?secret=not-a-secret",
		"unknown room":            frontend + "/room/nosuchroom-abcdefghijklmno?secret=x",
		"unknown room, no secret": frontend + "/room/nosuchroom-abcdefghijklmno",
		"recordings, no secret":   frontend + "/room/" + room.RoomID + "/recordings",
		"recordings, bad secret":  frontend + "/room/" + room.RoomID + "/recordings?secret=nope",
	} {
		code, _, body := fetch(t, srv, link)
		require.Equal(t, http.StatusNotFound, code, "%s: %s", what, body)
		require.Contains(t, body, "Room link not found", what)
		require.NotContains(t, body, room.RoomName, what)
	}
}

// With BASE_URL pointing at roomkeeper itself the page says so instead of
// a join link that would lead back to it.
func TestRoomLinkSelfBase(t *testing.T) {
	t.Parallel()
	b := workertest.Setup(t, workertest.SetupOpts{})
	b.Start(t, workertest.WorkerOpts{})
	q, err := queries.New(queries.Config{Store: b.Store, Log: b.Log})
	require.NoError(t, err)
	_, err = q.Start(b.NC)
	require.NoError(t, err)
	t.Cleanup(func() { _ = q.Close() })
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	pages, err := roomlink.New(roomlink.Config{Queries: b.Client, BaseURL: srv.URL, Log: b.Log})
	require.NoError(t, err)
	pages.Mount(mux)
	b.Rooms.BaseURL = srv.URL

	name := "self"
	room, err := b.Client.CreateRoom(workertest.Ctx(t, 30*time.Second), "create-self", events.CreateRoom{RoomName: &name})
	require.NoError(t, err)
	code, _, body := fetch(t, srv, room.Access.Anonymous.Speaker.URL)
	require.Equal(t, http.StatusOK, code, body)
	require.NotRegexp(t, joinRe, body)
	require.Contains(t, body, "points at roomkeeper itself")

	// The default BASE_URL names localhost; the link opened on 127.0.0.1
	// (the default HTTP_ADDR) reaches the same server.
	u, err := url.Parse(srv.URL)
	require.NoError(t, err)
	local, err := roomlink.New(roomlink.Config{Queries: b.Client, BaseURL: "http://localhost:" + u.Port(), Log: b.Log})
	require.NoError(t, err)
	rec := httptest.NewRecorder()
	lmux := http.NewServeMux()
	local.Mount(lmux)
	link, err := url.Parse(room.Access.Anonymous.Speaker.URL)
	require.NoError(t, err)
	lmux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "http://"+u.Host+link.RequestURI(), nil))
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.NotRegexp(t, joinRe, rec.Body.String(), "no join link back to this server")
	require.Contains(t, rec.Body.String(), "points at roomkeeper itself")
}

// No worker answering the queries: 503, not 404.
func TestRoomLinkWithoutWorker(t *testing.T) {
	t.Parallel()
	b := workertest.Setup(t, workertest.SetupOpts{})
	pages, err := roomlink.New(roomlink.Config{Queries: b.Client, BaseURL: frontend, Log: b.Log})
	require.NoError(t, err)
	mux := http.NewServeMux()
	pages.Mount(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	code, _, body := fetch(t, srv, frontend+"/room/r-abcdefghijklmno?secret=x")
	require.Equal(t, http.StatusServiceUnavailable, code, body)
}

func TestConfigValidation(t *testing.T) {
	_, err := roomlink.New(roomlink.Config{BaseURL: frontend})
	require.ErrorIs(t, err, roomlink.ErrConfig)
	_, err = roomlink.New(roomlink.Config{Queries: fakeQueries{}, BaseURL: "meet"})
	require.ErrorIs(t, err, roomlink.ErrConfig)
}
