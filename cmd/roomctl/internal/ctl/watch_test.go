package ctl_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/roomkeeper/roomkeeper/cmd/roomctl/internal/ctl"
	"github.com/roomkeeper/roomkeeper/events"
)

// watched decodes the events of a watch's output.
func watched(t *testing.T, r run) []events.Event {
	t.Helper()
	require.Equal(t, ctl.ExitOK, r.code, r.errOut)
	var out []events.Event
	for l := range strings.SplitSeq(strings.TrimSpace(r.out), "\n") {
		var ev events.Event
		require.NoError(t, json.Unmarshal([]byte(l), &ev), r.out)
		out = append(out, ev)
	}
	return out
}

func summary(evs []events.Event) []string {
	out := make([]string, len(evs))
	for i, ev := range evs {
		out[i] = ev.ShortType() + " " + ev.Subject
	}
	return out
}

func TestWatchSinceLastRoomType(t *testing.T) {
	t.Parallel()
	url := embedded(t)
	roomOf := func(r run) string {
		require.Equal(t, ctl.ExitOK, r.code, r.errOut)
		var room events.Room
		require.NoError(t, json.Unmarshal(r.result(t).Data, &room))
		return room.RoomID
	}
	a := roomOf(roomctl(t, url, "create", "--name", "alpha"))
	b := roomOf(roomctl(t, url, "create", "--name", "beta"))
	require.Equal(t, ctl.ExitOK, roomctl(t, url, "update-status", a, "closed").code)
	all := summary(watched(t, roomctl(t, url, "watch", "--since", "1h", "--count", "3")))
	require.Equal(t, "created "+a, all[0])
	require.Equal(t, "created "+b, all[1])
	require.True(t, strings.HasSuffix(all[2], " "+a), all[2])

	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"--last", "2", "--count", "2"}, all[1:]},
		{[]string{"--last", "5", "--room", a, "--count", "2"}, []string{all[0], all[2]}},
		{[]string{"--last", "5", "--type", "created", "--count", "2"}, all[:2]},
		{[]string{"--last", "1", "--type", "io.roomkeeper.room.created", "--room", b, "--count", "1"}, []string{all[1]}},
		{[]string{"--since", time.Now().Add(-time.Hour).UTC().Format(time.RFC3339), "--room", b, "--count", "1"}, []string{all[1]}},
	} {
		got := summary(watched(t, roomctl(t, url, append([]string{"watch"}, tc.args...)...)))
		require.Equal(t, tc.want, got, "%v", tc.args)
	}

	// --last, then the new events.
	done := make(chan run, 1)
	go func() { done <- roomctl(t, url, "watch", "--last", "1", "--type", "created", "--count", "2") }()
	var last run
	require.Eventually(t, func() bool {
		roomctl(t, url, "create", "--name", "gamma")
		select {
		case last = <-done:
			return true
		default:
			return false
		}
	}, 30*time.Second, 200*time.Millisecond)
	// The watch may start after the first gammas were made: the last
	// created at its start is beta or one of them; a new one follows.
	got := summary(watched(t, last))
	require.True(t, got[0] == all[1] || strings.HasPrefix(got[0], "created gamma-"), "the last created first: %s", got[0])
	require.True(t, strings.HasPrefix(got[1], "created gamma-"), got[1])
	require.NotEqual(t, got[0], got[1], "then a new one")

	for _, args := range [][]string{
		{"watch", "--since", "1h", "--last", "2"},
		{"watch", "--since", "yesterday"},
		{"watch", "--since", "-5m"},
		{"watch", "--type", "rooms.events.>"},
		{"watch", "--last", "-1"},
	} {
		r := roomctl(t, url, args...)
		require.Equal(t, ctl.ExitUsage, r.code, "%v: %s", args, r.errOut)
	}
}

func TestParseSince(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	got, err := ctl.ParseSince("90m", now)
	require.NoError(t, err)
	require.Equal(t, now.Add(-90*time.Minute), got)
	got, err = ctl.ParseSince("2026-01-01T00:00:00Z", now)
	require.NoError(t, err)
	require.Equal(t, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), got)
	_, err = ctl.ParseSince("soon", now)
	require.Error(t, err)
}
