package ctl_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/stretchr/testify/require"

	"github.com/roomkeeper/roomkeeper/cmd/roomctl/internal/ctl"
	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/handler"
	"github.com/roomkeeper/roomkeeper/internal/testenv"
	"github.com/roomkeeper/roomkeeper/queries"
	"github.com/roomkeeper/roomkeeper/rooms"
	"github.com/roomkeeper/roomkeeper/store/sqlite"
	"github.com/roomkeeper/roomkeeper/workers"
)

// embedded runs what `roomkeeper serve` runs for roomctl to talk to: NATS
// with the streams, a SQLite store, a worker and the query service.
func embedded(t *testing.T) string {
	t.Helper()
	n := testenv.StartNATS(t)
	nc, js := n.Bootstrap(t, nil)
	st, err := sqlite.Open(context.Background(), sqlite.Config{Path: filepath.Join(t.TempDir(), "roomkeeper.db")})
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	log := logrus.New()
	log.SetLevel(logrus.WarnLevel)

	reg := handler.NewRegistry()
	domain := &rooms.Rooms{Store: st, BaseURL: "http://localhost:8080", MinAutoDeletionDelay: time.Hour}
	require.NoError(t, domain.Register(reg))
	w, err := workers.New(workers.Config{}, js, st, reg, log, nil)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); _ = w.Run(ctx) }()
	t.Cleanup(func() { cancel(); wg.Wait() })

	q, err := queries.New(queries.Config{Store: st, Log: log})
	require.NoError(t, err)
	_, err = q.Start(nc)
	require.NoError(t, err)
	t.Cleanup(func() { _ = q.Close() })
	return n.URL
}

type run struct {
	code        int
	out, errOut string
}

// roomctl runs the CLI with args against the NATS server at url.
func roomctl(t *testing.T, url string, args ...string) run {
	t.Helper()
	var out, errOut bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	code := ctl.Main(ctx, append([]string{"--nats-url", url, "--timeout", "20s"}, args...), &out, &errOut)
	return run{code: code, out: out.String(), errOut: errOut.String()}
}

func (r run) result(t *testing.T) events.Result {
	t.Helper()
	var res events.Result
	require.NoError(t, json.Unmarshal([]byte(r.out), &res), "stdout: %s\nstderr: %s", r.out, r.errOut)
	return res
}

func TestCreateGetListDelete(t *testing.T) {
	t.Parallel()
	url := embedded(t)

	// create: the ID is printed on stderr, the result on stdout.
	r := roomctl(t, url, "create", "--name", "  My Room!  ", "--auto-deletion-date", time.Now().Add(3*time.Hour).UTC().Format(time.RFC3339),
		"--preferences", `{"chatPreferences":{"enabled":false},"recordingPreferences":{"enabled":true,"allowAccessTo":"admin"},"virtualBackgroundPreferences":{"enabled":true}}`)
	require.Equal(t, ctl.ExitOK, r.code, "%s%s", r.out, r.errOut)
	res := r.result(t)
	require.True(t, res.OK)
	require.Contains(t, r.errOut, "command "+res.CommandID+" published on rooms.cmd.create")
	require.True(t, strings.HasPrefix(res.CommandID, "roomctl-"))
	var room events.Room
	require.NoError(t, json.Unmarshal(res.Data, &room))
	require.Equal(t, "My Room!", room.RoomName)
	require.False(t, room.Config.Chat.Enabled)

	// A second room with a chosen ID; repeating the ID gives the same result.
	r = roomctl(t, url, "create", "--id", "second-room")
	require.Equal(t, ctl.ExitOK, r.code, r.errOut)
	second := r.result(t)
	again := roomctl(t, url, "create", "--id", "second-room", "--name", "ignored")
	require.Equal(t, second, again.result(t))
	require.Equal(t, second, roomctl(t, url, "result", "second-room").result(t))

	// get
	r = roomctl(t, url, "get", room.RoomID)
	require.Equal(t, ctl.ExitOK, r.code, r.errOut)
	var got events.RoomReply
	require.NoError(t, json.Unmarshal([]byte(r.out), &got))
	require.Equal(t, room.RoomID, got.RoomID)
	require.Equal(t, events.StatusOpen, got.Status)
	r = roomctl(t, url, "get", room.RoomID, "--fields", "roomName,status", "--extra-fields", "roles")
	var roles events.RoomReply
	require.NoError(t, json.Unmarshal([]byte(r.out), &roles), r.out)
	require.Equal(t, "My Room!", roles.RoomName)
	require.Equal(t, []string{"config", "roles"}, roles.ExtraFields)
	require.Contains(t, r.out, `"roles"`)
	require.NotContains(t, r.out, `"config"`+":")
	r = roomctl(t, url, "config", room.RoomID)
	require.Equal(t, ctl.ExitOK, r.code, r.errOut)
	require.Contains(t, r.out, `"recording"`)
	r = roomctl(t, url, "get", "Nope-000000000000000")
	require.Equal(t, ctl.ExitErrorResult, r.code)
	require.Contains(t, r.errOut, "not_found")

	// list: a table over every page, or JSON.
	r = roomctl(t, url, "list", "--max-items", "1")
	require.Equal(t, ctl.ExitOK, r.code, r.errOut)
	lines := strings.Split(strings.TrimSpace(r.out), "\n")
	require.Len(t, lines, 3, r.out)
	require.Regexp(t, `^ROOM ID\s+ROOM NAME\s+STATUS\s+CREATION DATE\s+AUTO DELETION DATE\s+MEETING END ACTION$`, lines[0])
	require.Contains(t, r.out, room.RoomID)
	require.Contains(t, r.out, "My Room!")
	require.Contains(t, r.out, time.UnixMilli(*room.AutoDeletionDate).UTC().Format(time.RFC3339))
	r = roomctl(t, url, "list", "--json", "--fields", "roomId", "--max-items", "1")
	require.Equal(t, ctl.ExitOK, r.code, r.errOut)
	var listed []map[string]string
	require.NoError(t, json.Unmarshal([]byte(r.out), &listed))
	require.Len(t, listed, 2)
	require.Contains(t, listed, map[string]string{"roomId": room.RoomID})
	r = roomctl(t, url, "list", "--json", "--fields", "roomId", "--name", "my room", "--match", "prefix", "--ignore-case")
	require.Equal(t, ctl.ExitOK, r.code, r.errOut)
	require.JSONEq(t, `[{"roomId":"`+room.RoomID+`"}]`, r.out)

	// role: the secret is the input, never printed back.
	secret := secretOf(t, room.Access.Anonymous.Moderator.URL)
	r = roomctl(t, url, "role", room.RoomID, "--secret", secret)
	require.Equal(t, ctl.ExitOK, r.code, r.errOut)
	require.JSONEq(t, `{"role":"moderator"}`, r.out)
	r = roomctl(t, url, "role", room.RoomID, "--secret", "wrong-"+secret)
	require.Equal(t, ctl.ExitErrorResult, r.code)
	require.Contains(t, r.errOut, "invalid_secret")
	require.NotContains(t, r.out+r.errOut, secret)
	// No LiveKit: tokens are unavailable.
	r = roomctl(t, url, "token", room.RoomID, "--secret", secret, "--name", "alice")
	require.Equal(t, ctl.ExitErrorResult, r.code)
	require.Contains(t, r.errOut, "unavailable")

	// delete: an error result exits 1.
	r = roomctl(t, url, "delete", room.RoomID, "--force")
	require.Equal(t, ctl.ExitOK, r.code, r.errOut)
	var del events.DeleteResult
	require.NoError(t, json.Unmarshal(r.result(t).Data, &del))
	require.Len(t, del.Deleted, 1)
	require.Equal(t, room.RoomID, del.Deleted[0].RoomID)
	r = roomctl(t, url, "list")
	require.NotContains(t, r.out, room.RoomID)
	require.Len(t, strings.Split(strings.TrimSpace(r.out), "\n"), 2)
	r = roomctl(t, url, "update-preferences", room.RoomID, "--preferences", `{}`)
	require.Equal(t, ctl.ExitErrorResult, r.code, "%s%s", r.out, r.errOut)
	require.False(t, r.result(t).OK)

	// sweep
	r = roomctl(t, url, "sweep")
	require.Contains(t, r.errOut, "published on rooms.cmd.sweep")
	require.Contains(t, []int{ctl.ExitOK, ctl.ExitErrorResult}, r.code, "%s%s", r.out, r.errOut)
}

func TestWatchPrintsEvents(t *testing.T) {
	t.Parallel()
	url := embedded(t)
	done := make(chan run, 1)
	go func() { done <- roomctl(t, url, "watch", "--count", "2") }()
	// The watch starts from the events published after it: create until
	// it has seen two (the first create may race its start).
	var last run
	require.Eventually(t, func() bool {
		roomctl(t, url, "create", "--name", "watched")
		select {
		case last = <-done:
			return true
		default:
			return false
		}
	}, 30*time.Second, 200*time.Millisecond)
	require.Equal(t, ctl.ExitOK, last.code, last.errOut)
	lines := strings.Split(strings.TrimSpace(last.out), "\n")
	require.Len(t, lines, 2)
	for _, l := range lines {
		var ev events.Event
		require.NoError(t, json.Unmarshal([]byte(l), &ev))
		require.Equal(t, "io.roomkeeper.room.created", ev.Type)
		require.True(t, strings.HasPrefix(ev.Subject, "watched-"))
	}
}

func TestUsageAndUnreachable(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"create", "--auto-deletion-date", "tomorrow"},
		{"create", "--preferences", "{"},
		{"create", "--config", "{"},
		{"create", "--with-meeting", "fail"},
		{"update-status", "r-aaaaaaaaaaaaaaa", "active_meeting"},
		{"update-config", "r-aaaaaaaaaaaaaaa"},
		{"update-roles", "r-aaaaaaaaaaaaaaa", "--roles", "["},
		{"create", "--id", "bad id"},
		{"delete"},
		{"nope"},
	} {
		r := roomctl(t, "nats://127.0.0.1:1", args...)
		require.Equal(t, ctl.ExitUsage, r.code, "%v: %s", args, r.errOut)
	}
	r := roomctl(t, "nats://127.0.0.1:1", "list")
	require.Equal(t, ctl.ExitUnreachable, r.code)
	r = roomctl(t, "nats://127.0.0.1:1", "--help")
	require.Equal(t, ctl.ExitOK, r.code)
	require.Contains(t, r.out, "update-preferences")
}

func TestParseDate(t *testing.T) {
	t.Parallel()
	ms, err := ctl.ParseDate("1764000000000")
	require.NoError(t, err)
	require.EqualValues(t, 1764000000000, ms)
	ms, err = ctl.ParseDate("2025-11-24T16:00:00Z")
	require.NoError(t, err)
	require.EqualValues(t, 1764000000000, ms)
	_, err = ctl.ParseDate("soon")
	require.Error(t, err)
}

func secretOf(t *testing.T, link string) string {
	t.Helper()
	u, err := url.Parse(link)
	require.NoError(t, err)
	return u.Query().Get("secret")
}
