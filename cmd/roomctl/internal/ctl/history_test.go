package ctl_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	lkproto "github.com/livekit/protocol/livekit"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/roomkeeper/roomkeeper/cmd/roomctl/internal/ctl"
	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/internal/workertest"
	"github.com/roomkeeper/roomkeeper/queries"
)

// The "done when": `roomctl history` of a room created, updated,
// marked for deletion (its meeting active) and finalised by LiveKit's
// room_finished lists those steps in order with their command IDs, the
// webhooks as causes; --json prints the items.
func TestHistoryOfAGracefulDelete(t *testing.T) {
	t.Parallel()
	b := workertest.Setup(t, workertest.SetupOpts{})
	lk := workertest.NewLKRooms()
	b.Rooms.Meetings = lk
	b.Start(t, workertest.WorkerOpts{})
	q, err := queries.New(queries.Config{Store: b.Store, Log: b.Log})
	require.NoError(t, err)
	_, err = q.Start(b.NC)
	require.NoError(t, err)
	t.Cleanup(func() { _ = q.Close() })
	url := b.NATS.URL
	webhook := func(id, event, room string) {
		t.Helper()
		body, err := protojson.Marshal(&lkproto.WebhookEvent{Id: id, Event: event, Room: &lkproto.Room{Name: room}, CreatedAt: time.Now().Unix()})
		require.NoError(t, err)
		_, err = b.JS.Publish(workertest.Ctx(t, 5*time.Second), events.WebhookPrefix+event, body, jetstream.WithMsgID(id))
		require.NoError(t, err)
		require.Eventually(t, func() bool {
			rec, err := b.Store.GetCommand(context.Background(), events.WebhookIDPrefix+id)
			return err == nil && rec.Finished()
		}, 30*time.Second, 20*time.Millisecond)
	}

	r := roomctl(t, url, "create", "--id", "hc-create", "--name", "history")
	require.Equal(t, ctl.ExitOK, r.code, r.errOut)
	room := workertest.RoomOf(t, ptrTo(r.result(t))).RoomID
	r = roomctl(t, url, "update-config", "--id", "hc-update", room, "--config", `{"chat":{"enabled":false}}`)
	require.Equal(t, ctl.ExitOK, r.code, r.errOut)
	lk.Set(room, true, true)
	webhook("EV_cstart", "room_started", room)
	r = roomctl(t, url, "delete", "--id", "hc-delete", "--with-meeting", "when_meeting_ends", room)
	require.Equal(t, ctl.ExitOK, r.code, r.errOut)
	require.Equal(t, 202, r.result(t).Status, "marked")
	lk.Set(room, false, false)
	webhook("EV_cfinish", "room_finished", room)
	require.False(t, b.Exists(t, room), "finalised")

	r = roomctl(t, url, "history", room, "--max-items", "2")
	require.Equal(t, ctl.ExitOK, r.code, r.errOut)
	lines := strings.Split(strings.TrimSpace(r.out), "\n")
	require.Len(t, lines, 6, r.out)
	require.Equal(t, []string{"TIME", "COMMAND", "ID", "SUBJECT", "RESULT", "CAUSE", "EVENTS"}, strings.Fields(lines[0]))
	want := [][]string{
		{"hc-create", "rooms.cmd.create", "ok", "201", "-", "created"},
		{"hc-update", "rooms.cmd.update_config", "ok", "200", "-", "config_updated"},
		{"lk:EV_cstart", "livekit.webhook.room_started", "ok", "200", "webhook:EV_cstart"},
		{"hc-delete", "rooms.cmd.delete", "ok", "202", "-"},
		{"lk:EV_cfinish", "livekit.webhook.room_finished", "ok", "200", "webhook:EV_cfinish"},
	}
	for i, w := range want {
		fields := strings.Fields(lines[i+1])
		_, err := time.Parse(time.RFC3339, fields[0])
		require.NoError(t, err, lines[i+1])
		require.Equal(t, w, fields[1:1+len(w)], lines[i+1])
	}
	require.Contains(t, lines[4], "deletion_scheduled")
	require.Contains(t, lines[5], "deleted")

	r = roomctl(t, url, "history", room, "--json")
	require.Equal(t, ctl.ExitOK, r.code, r.errOut)
	var items []events.HistoryItem
	require.NoError(t, json.Unmarshal([]byte(r.out), &items), r.out)
	ids := make([]string, len(items))
	for i, it := range items {
		ids[i] = it.CommandID
	}
	require.Equal(t, []string{"hc-create", "hc-update", "lk:EV_cstart", "hc-delete", "lk:EV_cfinish"}, ids)

	r = roomctl(t, url, "history", "Nope-aaaaaaaaaaaaaaa")
	require.Equal(t, ctl.ExitErrorResult, r.code, r.out)
	require.Contains(t, r.errOut, "not_found")
}

func ptrTo[T any](v T) *T { return &v }
