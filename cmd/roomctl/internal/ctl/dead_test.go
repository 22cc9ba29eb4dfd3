package ctl_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/roomkeeper/roomkeeper/events"
)

func TestDeadListAndReplay(t *testing.T) {
	t.Parallel()
	url := embedded(t)
	nc, err := nats.Connect(url)
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	empty := roomctl(t, url, "dead", "list")
	require.Equal(t, 0, empty.code, empty.errOut)
	require.Equal(t, "SEQ  SUBJECT  COMMAND ID  DELIVERIES  REASON\n", empty.out)

	// A command the worker rejects: dead-lettered at once.
	m := nats.NewMsg(events.SubjectCreate)
	m.Data = []byte(`{"roomName": 42}`)
	_, err = js.PublishMsg(ctx, m, jetstream.WithMsgID("bad-name"))
	require.NoError(t, err)
	bad := roomctl(t, url, "result", "bad-name")
	require.Equal(t, 1, bad.code)
	// A command dead-lettered after max deliveries (as the advisory
	// listener writes it), with a body that is fine on its own.
	dm := nats.NewMsg("rooms.dead.create")
	dm.Data = []byte(`{"roomName":"second chance"}`)
	dm.Header.Set(events.HeaderDeadSubject, events.SubjectCreate)
	dm.Header.Set(events.HeaderDeadCommandID, "crashed")
	dm.Header.Set(events.HeaderDeadReason, "max deliveries exceeded")
	dm.Header.Set(events.HeaderDeadDeliveries, "10")
	ack, err := js.PublishMsg(ctx, dm, jetstream.WithMsgID("dead:crashed"))
	require.NoError(t, err)

	list := roomctl(t, url, "dead", "list")
	require.Equal(t, 0, list.code, list.errOut)
	lines := strings.Split(strings.TrimSpace(list.out), "\n")
	require.Len(t, lines, 3, list.out)
	require.Regexp(t, `^1\s+rooms\.cmd\.create\s+bad-name\s+1\s+invalid_argument: `, lines[1])
	require.Regexp(t, `^2\s+rooms\.cmd\.create\s+crashed\s+10\s+max deliveries exceeded$`, lines[2])

	asJSON := roomctl(t, url, "dead", "list", "--json", "--limit", "1")
	require.Equal(t, 0, asJSON.code, asJSON.errOut)
	require.JSONEq(t, `{"seq":2,"subject":"rooms.dead.create","originalSubject":"rooms.cmd.create","commandId":"crashed","deliveries":10,"reason":"max deliveries exceeded","time":`+
		strings.SplitN(strings.SplitN(asJSON.out, `"time":`, 2)[1], "}", 2)[0]+`}`, asJSON.out)

	replay := roomctl(t, url, "dead", "replay", "2", "--no-wait")
	require.Equal(t, 0, replay.code, replay.errOut)
	id := strings.TrimSpace(replay.out)
	require.True(t, strings.HasPrefix(id, "replay-2-"), id)
	res := roomctl(t, url, "result", id).result(t)
	require.True(t, res.OK, "%+v", res.Error)
	require.Contains(t, string(res.Data), `"roomName": "second chance"`)

	waited := roomctl(t, url, "dead", "replay", "1", "--id", "bad-again", "--wait")
	require.Equal(t, 1, waited.code, "the replayed body is still invalid")
	require.Equal(t, "bad-again", waited.result(t).CommandID)
	require.EqualValues(t, 2, ack.Sequence)

	missing := roomctl(t, url, "dead", "replay", "99")
	require.Equal(t, 1, missing.code)
	require.Contains(t, missing.errOut, "no dead letter with sequence 99")
	usage := roomctl(t, url, "dead", "replay", "1", "--id", "bad id!")
	require.Equal(t, 2, usage.code)
}
