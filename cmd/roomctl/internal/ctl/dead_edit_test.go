package ctl_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/roomkeeper/roomkeeper/events"
)

// deadCreate publishes a create the worker rejects (dead-lettered at once)
// and waits for its result.
func deadCreate(t *testing.T, url, id string) {
	t.Helper()
	nc, err := nats.Connect(url)
	require.NoError(t, err)
	defer nc.Close()
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m := nats.NewMsg(events.SubjectCreate)
	m.Data = []byte(`{"roomName": 42}`)
	_, err = js.PublishMsg(ctx, m, jetstream.WithMsgID(id))
	require.NoError(t, err)
	r := roomctl(t, url, "result", id)
	require.Equal(t, 1, r.code, r.errOut)
}

// script writes an executable shell script and returns its path.
func script(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "editor.sh")
	require.NoError(t, os.WriteFile(path, []byte("#!/bin/sh\n"+body+"\n"), 0o700)) //nolint:gosec // G306: a test script must be executable
	return path
}

func TestDeadReplayWaitsEditsAndPurges(t *testing.T) {
	t.Parallel()
	url := embedded(t)
	deadCreate(t, url, "bad-1")

	// replay waits for the result by default: the ID on stderr, the result
	// on stdout, exit 1 as the body is still invalid.
	r := roomctl(t, url, "dead", "replay", "1")
	require.Equal(t, 1, r.code, r.errOut)
	res := r.result(t)
	require.False(t, res.OK)
	require.Contains(t, r.errOut, "command "+res.CommandID+" published")

	// --file: a new body.
	file := filepath.Join(t.TempDir(), "body.json")
	require.NoError(t, os.WriteFile(file, []byte(`{"roomName":"from file"}`), 0o600))
	r = roomctl(t, url, "dead", "replay", "1", "--file", file)
	require.Equal(t, 0, r.code, r.errOut)
	require.Contains(t, string(r.result(t).Data), `"roomName": "from file"`)

	// --edit: the editor gets the indented body and its changes are sent.
	r = roomctl(t, url, "dead", "replay", "1", "--edit", "--editor", script(t, `sed -i 's/42/"edited"/' "$1"`))
	require.Equal(t, 0, r.code, r.errOut)
	require.Contains(t, string(r.result(t).Data), `"roomName": "edited"`)
	// An emptied file cancels: nothing is published.
	r = roomctl(t, url, "dead", "replay", "1", "--edit", "--editor", script(t, `: > "$1"`), "--id", "never-sent")
	require.Equal(t, 1, r.code)
	require.Contains(t, r.errOut, "nothing replayed")
	r = roomctl(t, url, "--timeout", "1s", "result", "never-sent")
	require.Equal(t, 3, r.code, "no command was published: %s", r.errOut)
	// A failing editor cancels too; edit and file together are a usage error.
	r = roomctl(t, url, "dead", "replay", "1", "--edit", "--editor", script(t, "exit 3"))
	require.Equal(t, 1, r.code)
	require.Contains(t, r.errOut, "nothing replayed")
	r = roomctl(t, url, "dead", "replay", "1", "--edit", "--file", file)
	require.Equal(t, 2, r.code, r.errOut)

	// The replays of the invalid body were dead-lettered too: 1 and 2.
	list := roomctl(t, url, "dead", "list")
	require.Len(t, strings.Split(strings.TrimSpace(list.out), "\n"), 3, list.out)

	// purge by sequence: a missing one is named, the others deleted.
	r = roomctl(t, url, "dead", "purge", "1", "99")
	require.Equal(t, 1, r.code, r.errOut)
	require.Equal(t, "1 dead letters deleted\n", r.out)
	require.Contains(t, r.errOut, "no dead letter with sequence 99")
	deadCreate(t, url, "bad-2")
	list = roomctl(t, url, "dead", "list")
	require.Len(t, strings.Split(strings.TrimSpace(list.out), "\n"), 3, list.out)
	require.NotRegexp(t, `(?m)^1\s`, list.out)

	r = roomctl(t, url, "dead", "purge", "--all")
	require.Equal(t, 0, r.code, r.errOut)
	require.Equal(t, "2 dead letters deleted\n", r.out)
	list = roomctl(t, url, "dead", "list")
	require.Equal(t, "SEQ  SUBJECT  COMMAND ID  DELIVERIES  REASON\n", list.out)

	for _, args := range [][]string{{"dead", "purge"}, {"dead", "purge", "1", "--all"}} {
		r = roomctl(t, url, args...)
		require.Equal(t, 2, r.code, "%v: %s", args, r.errOut)
	}
}
