package console_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/internal/workertest"
	"github.com/roomkeeper/roomkeeper/natsapi"
)

func TestRoomsSearchDetailDelete(t *testing.T) {
	t.Parallel()
	e := setup(t, nil)
	c := e.browser(t)
	tok := e.login(t, c, testKey)
	ids := map[string]string{}
	for _, name := range []string{"Alpha Team", "Beta Team"} {
		room, err := e.b.Client.CreateRoom(ctxT(t, 30*time.Second), "create-"+strings.Fields(name)[0], events.CreateRoom{RoomName: workertest.Ptr(name)})
		require.NoError(t, err)
		ids[name] = room.RoomID
	}
	_, page := e.get(t, c, "/ui/rooms?q=ALP")
	assert.Contains(t, page, "Alpha Team")
	assert.NotContains(t, page, "Beta Team")
	_, page = e.get(t, c, "/ui/rooms?status=closed")
	assert.Contains(t, page, "No room matches.")
	_, page = e.get(t, c, "/ui/rooms?sort=roomName&order=asc")
	assert.Less(t, strings.Index(page, "Alpha Team"), strings.Index(page, "Beta Team"))
	_, page = e.get(t, c, "/ui/rooms?sort=roomName&order=desc")
	assert.Greater(t, strings.Index(page, "Alpha Team"), strings.Index(page, "Beta Team"))

	id := ids["Alpha Team"]
	resp, page := e.get(t, c, "/ui/rooms/"+id)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, page, `id="room-config"`)
	assert.Contains(t, page, "/room/"+id+"?secret=") // the links
	// Its history: the create, with its command ID and event.
	assert.Contains(t, page, `id="room-history"`)
	assert.Contains(t, page, "<code>create-Alpha</code>")
	assert.Contains(t, page, "rooms.cmd.create")
	assert.Contains(t, page, "created")
	resp, _ = e.get(t, c, "/ui/rooms/nope")
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)

	resp, _ = e.post(t, c, "/ui/rooms/"+id+"/delete", url.Values{"csrf": {tok}, "withMeeting": {events.PolicyFail}, "withRecordings": {events.PolicyClose}}, nil)
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	loc, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	assert.Equal(t, "/ui/rooms", loc.Path)
	assert.Contains(t, loc.Query().Get("flash"), events.DeleteSuccessRoomDeleted)
	assert.False(t, e.b.Exists(t, id))
}

// The page of a deleted room still shows its history (what happened to
// it), without the delete form; a room that never was is not_found.
func TestDeletedRoomPageShowsItsHistory(t *testing.T) {
	t.Parallel()
	e := setup(t, nil)
	c := e.browser(t)
	e.login(t, c, testKey)
	room, err := e.b.Client.CreateRoom(ctxT(t, 30*time.Second), "gone-create", events.CreateRoom{RoomName: workertest.Ptr("Gone")})
	require.NoError(t, err)
	_, err = e.b.Client.DeleteRooms(ctxT(t, 30*time.Second), "gone-delete", events.DeleteRooms{RoomIDs: []string{room.RoomID}})
	require.NoError(t, err)

	resp, page := e.get(t, c, "/ui/rooms/"+room.RoomID)
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
	assert.Contains(t, page, "does not exist")
	assert.Contains(t, page, `id="room-history"`)
	assert.Less(t, strings.Index(page, "<code>gone-create</code>"), strings.Index(page, "<code>gone-delete</code>"))
	assert.Contains(t, page, ">deleted<")
	assert.NotContains(t, page, `id="delete"`)

	resp, page = e.get(t, c, "/ui/rooms/Never-aaaaaaaaaaaaaaa")
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
	assert.Contains(t, page, "not_found")
	assert.NotContains(t, page, `id="room-history"`)
}

func TestEventStreamSendsEventsAfterReady(t *testing.T) {
	t.Parallel()
	e := setup(t, nil)
	c := e.browser(t)
	e.login(t, c, testKey)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.srv.URL+"/ui/events/stream", nil)
	require.NoError(t, err)
	sse := &http.Client{Jar: c.Jar} // no client timeout: the stream stays open
	resp, err := sse.Do(req)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
	lines := bufio.NewScanner(resp.Body)
	require.True(t, lines.Scan())
	require.Equal(t, "event: ready", lines.Text())

	room, err := e.b.Client.CreateRoom(ctxT(t, 30*time.Second), "create-live", events.CreateRoom{RoomName: workertest.Ptr("Live")})
	require.NoError(t, err)
	for lines.Scan() {
		data, ok := strings.CutPrefix(lines.Text(), "data: ")
		if !ok || data == "{}" {
			continue
		}
		var ev struct {
			Seq   uint64       `json:"seq"`
			Type  string       `json:"type"`
			Event events.Event `json:"event"`
		}
		require.NoError(t, json.Unmarshal([]byte(data), &ev))
		assert.Equal(t, events.EventCreated, ev.Type)
		assert.Equal(t, room.RoomID, ev.Event.Subject)
		assert.NotZero(t, ev.Seq)
		return
	}
	t.Fatalf("the stream ended without the event: %v", lines.Err())
}

func TestDeadLetterReplayEditPurge(t *testing.T) {
	t.Parallel()
	e := setup(t, nil)
	c := e.browser(t)
	tok := e.login(t, c, testKey)
	e.b.SendRaw(t, "poison-1", events.SubjectCreate, `{"roomName": 42}`)
	require.False(t, e.b.Result(t, "poison-1").OK)

	_, page := e.get(t, c, "/ui/dead")
	assert.Contains(t, page, "poison-1")
	assert.Contains(t, page, "must be null or a string")
	_, page = e.get(t, c, "/ui/dead/1")
	assert.Contains(t, page, `&#34;roomName&#34;: 42`)

	resp, page := e.post(t, c, "/ui/dead/1/replay", url.Values{"edit": {"0"}}, http.Header{"X-Csrf-Token": {tok}})
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, page, `<strong id="replay-outcome">invalid_argument</strong>`)
	resp, page = e.post(t, c, "/ui/dead/1/replay", url.Values{"edit": {"1"}, "body": {`{"roomName": "Fixed"}`}}, http.Header{"X-Csrf-Token": {tok}})
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, page, `<strong id="replay-outcome">ok</strong>`)
	assert.Contains(t, page, "Replayed (edited)")
	list, err := e.b.Client.ListRooms(ctxT(t, 10*time.Second), events.ListRequest{RoomName: "Fixed"})
	require.NoError(t, err)
	require.Len(t, list.Rooms, 1)

	// The ledger: the poison and the first replay dead, the edited one done.
	_, page = e.get(t, c, "/ui/commands?state=dead")
	assert.Contains(t, page, "poison-1")
	assert.Contains(t, page, "replay-1-")
	_, page = e.get(t, c, "/ui/commands?state=done")
	assert.NotContains(t, page, "poison-1")
	assert.Contains(t, page, "replay-1-")

	// One deleted, then the rest purged.
	resp, _ = e.post(t, c, "/ui/dead/2/delete", url.Values{"csrf": {tok}}, nil)
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	assert.Contains(t, resp.Header.Get("Location"), url.QueryEscape("Dead letter 2 deleted."))
	resp, _ = e.post(t, c, "/ui/dead/purge", url.Values{"csrf": {tok}}, nil)
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	assert.Contains(t, resp.Header.Get("Location"), url.QueryEscape("Purged 1 dead letter(s)."))
	dead, err := natsapi.ListDead(ctxT(t, 10*time.Second), e.b.JS, 0)
	require.NoError(t, err)
	assert.Empty(t, dead)
	_, page = e.get(t, c, "/ui/dead")
	assert.Contains(t, page, "No dead letter.")
}

func TestStreamsPage(t *testing.T) {
	t.Parallel()
	e := setup(t, nil)
	c := e.browser(t)
	e.login(t, c, testKey)
	resp, page := e.get(t, c, "/ui/streams")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	for _, want := range []string{events.StreamCommands, events.StreamEvents, events.StreamDead, events.StreamResults, events.ConsumerWorkers, `id="charts"`} {
		assert.Contains(t, page, want)
	}
	resp, page = e.get(t, c, "/ui/streams/charts")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.True(t, strings.HasPrefix(strings.TrimSpace(page), `<div class="charts"`), page) // a fragment, no layout
}

// Bad input gets a clear answer and nothing is done with it: a form too
// large to read is refused (it was read as an empty one, which created a
// room named "Room"); an edited dead letter that is not JSON is not
// published (it made one more dead letter); an invalid filter is the
// user's error (422), not a bad gateway.
func TestBadInputIsRefusedNotActedOn(t *testing.T) {
	t.Parallel()
	e := setup(t, nil)
	c := e.browser(t)
	tok := e.login(t, c, testKey)
	csrf := http.Header{"X-Csrf-Token": {tok}}

	resp, page := e.post(t, c, "/ui/rooms", url.Values{"roomName": {strings.Repeat("a", 11<<20)}}, csrf)
	assert.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode, page)
	assert.Zero(t, e.b.CountRooms(t), "no room is created from a form that could not be read")

	e.b.SendRaw(t, "poison-bad", events.SubjectCreate, `{"roomName": 42}`)
	require.False(t, e.b.Result(t, "poison-bad").OK)
	resp, page = e.post(t, c, "/ui/dead/1/replay", url.Values{"edit": {"1"}, "body": {`{"roomName": "Fixed"`}}, csrf)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, page, "not valid JSON")
	assert.NotContains(t, page, "replay-id")
	dead, err := natsapi.ListDead(ctxT(t, 10*time.Second), e.b.JS, 0)
	require.NoError(t, err)
	assert.Len(t, dead, 1, "nothing was published")

	resp, page = e.get(t, c, "/ui/commands?state=bogus")
	assert.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode)
	assert.Contains(t, page, "one of pending, done, failed, dead")
	assert.NotContains(t, page, "poison-bad", "no list of another state")

	resp, page = e.get(t, c, "/ui/rooms?status=bogus")
	assert.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode)
	assert.Contains(t, page, "status: must be one of")
}
