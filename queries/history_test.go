package queries_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	lkproto "github.com/livekit/protocol/livekit"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/internal/testenv/ferret"
	"github.com/roomkeeper/roomkeeper/internal/workertest"
	"github.com/roomkeeper/roomkeeper/store"
	"github.com/roomkeeper/roomkeeper/store/mongo"
	"github.com/roomkeeper/roomkeeper/store/sqlite"
)

// webhook publishes a LiveKit webhook event about room as the receiver
// does: its protojson on livekit.webhook.<event>, its ID as the message ID.
func (b *bundle) webhook(t *testing.T, id, event, room string) {
	t.Helper()
	body, err := protojson.Marshal(&lkproto.WebhookEvent{
		Id: id, Event: event, Room: &lkproto.Room{Name: room}, CreatedAt: time.Now().Unix(),
	})
	require.NoError(t, err)
	_, err = b.JS.Publish(ctxT(t, 5*time.Second), events.WebhookPrefix+event, body, jetstream.WithMsgID(id))
	require.NoError(t, err)
}

// finished waits until the ledger holds command id finished.
func (b *bundle) finished(t *testing.T, id string) {
	t.Helper()
	require.Eventually(t, func() bool {
		rec, err := b.Store.GetCommand(context.Background(), id)
		return err == nil && rec.Finished()
	}, 30*time.Second, 20*time.Millisecond, "command %s never finished", id)
}

// history reads room's whole history through rooms.api.history in pages
// of maxItems, each reply checked against its schema, and returns the
// items and the number of pages.
func (b *bundle) history(t *testing.T, room string, maxItems int) ([]events.HistoryItem, int) {
	t.Helper()
	var (
		items []events.HistoryItem
		token string
	)
	for pages := 1; ; pages++ {
		require.Less(t, pages, 50, "the history does not end")
		req, err := json.Marshal(events.HistoryRequest{RoomID: room, MaxItems: maxItems, NextPageToken: token})
		require.NoError(t, err)
		var page events.HistoryReply
		requireReply(t, events.APIHistory, b.request(t, events.APIHistory, string(req)), &page)
		require.LessOrEqual(t, len(page.Items), maxItems)
		require.Equal(t, maxItems, page.Pagination.MaxItems)
		items = append(items, page.Items...)
		if !page.Pagination.IsTruncated {
			require.Empty(t, page.Pagination.NextPageToken)
			return items, pages
		}
		require.Len(t, page.Items, maxItems, "a truncated page is full")
		token = page.Pagination.NextPageToken
	}
}

func itemIDs(items []events.HistoryItem) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.CommandID
	}
	return out
}

func eventTypes(it events.HistoryItem) []string {
	out := make([]string, len(it.Events))
	for i, ev := range it.Events {
		out[i] = ev.Type
	}
	return out
}

// A room created, updated, sent an invalid command, started a meeting,
// marked for deletion (its meeting active) and finalised by LiveKit's
// room_finished: its history lists each step in order, with its command
// ID, result and events, and the webhooks as their own causes; every page
// size gives the same list. On both stores.
func TestHistoryOfAGracefulDelete(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"sqlite", "mongo"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var st store.Store
			if name == "mongo" {
				s, err := mongo.Open(context.Background(), mongo.Config{URI: ferret.MongoURI(t), Database: ferret.DatabaseName(t)})
				require.NoError(t, err)
				t.Cleanup(func() { _ = s.Close() })
				st = s
			}
			lk := workertest.NewLKRooms()
			b := setupQueries(t, queryOpts{store: st, worker: true, meetings: lk})
			testHistoryOfAGracefulDelete(t, b, lk)
		})
	}
}

func testHistoryOfAGracefulDelete(t *testing.T, b *bundle, lk *workertest.LKRooms) {
	room := b.create(t, "h-create", events.CreateRoom{RoomName: ptr("history")}).RoomID
	other := b.create(t, "h-other", events.CreateRoom{RoomName: ptr("another")}).RoomID

	b.Send(t, "h-update", events.UpdateConfig{RoomID: room, Config: events.ConfigOptions{Chat: &events.EnabledOptions{Enabled: ptr(false)}}})
	require.True(t, b.Result(t, "h-update").OK)
	b.SendRaw(t, "h-bad", events.SubjectUpdateStatus, fmt.Sprintf(`{"roomId":%q,"status":"bogus"}`, room))
	require.Equal(t, events.CodeInvalidArgument, b.Result(t, "h-bad").Error.Code)

	lk.Set(room, true, true)
	b.webhook(t, "EV_hstart", "room_started", room)
	b.finished(t, "lk:EV_hstart")
	r, err := b.Store.GetRoom(ctxT(t, 5*time.Second), room)
	require.NoError(t, err)
	require.Equal(t, events.StatusActiveMeeting, r.Status)

	b.Send(t, "h-delete", events.DeleteRooms{RoomIDs: []string{room}, WithMeeting: events.PolicyWhenMeetingEnds})
	del := b.Result(t, "h-delete")
	require.Equal(t, 202, del.Status, "marked: %s", del.Data)

	lk.Set(room, false, false)
	b.webhook(t, "EV_hfinish", "room_finished", room)
	b.finished(t, "lk:EV_hfinish")
	_, err = b.Store.GetRoom(ctxT(t, 5*time.Second), room)
	require.ErrorIs(t, err, store.ErrNotFound, "room_finished finalised the delete")

	want := []string{"h-create", "h-update", "h-bad", "lk:EV_hstart", "h-delete", "lk:EV_hfinish"}
	items, pages := b.history(t, room, 100)
	require.Equal(t, want, itemIDs(items))
	require.Equal(t, 1, pages)
	for _, n := range []int{1, 2, 4} {
		got, pages := b.history(t, room, n)
		require.Equal(t, items, got, "pages of %d", n)
		require.Equal(t, (len(want)+n-1)/n, pages, "pages of %d", n)
	}

	byID := map[string]events.HistoryItem{}
	for i, it := range items {
		byID[it.CommandID] = it
		if i > 0 {
			require.GreaterOrEqual(t, it.Time, items[i-1].Time, "in completion order")
		}
		require.GreaterOrEqual(t, it.Time, it.ReceivedAt)
	}
	create := byID["h-create"]
	require.Equal(t, events.SubjectCreate, create.Subject)
	require.True(t, create.OK)
	require.Equal(t, 201, create.Status)
	require.Nil(t, create.Cause, "a client's command has no cause")
	require.Equal(t, []string{events.EventCreated}, eventTypes(create))
	require.Equal(t, events.EventID("h-create", events.EventCreated, room), create.Events[0].ID)

	require.Equal(t, []string{events.EventConfigUpdated}, eventTypes(byID["h-update"]))

	bad := byID["h-bad"]
	require.False(t, bad.OK)
	require.True(t, bad.Dead, "invalid input is given up")
	require.Equal(t, 422, bad.Status)
	require.Equal(t, events.CodeInvalidArgument, bad.Error.Code)
	require.Empty(t, bad.Events)

	start := byID["lk:EV_hstart"]
	require.Equal(t, events.SubjectRoomStarted, start.Subject)
	require.Equal(t, &events.HistoryCause{Kind: events.CauseWebhook, ID: "EV_hstart"}, start.Cause)
	require.Contains(t, eventTypes(start), events.EventMeetingStarted)

	mark := byID["h-delete"]
	require.Equal(t, 202, mark.Status)
	require.Nil(t, mark.Cause)
	require.Contains(t, eventTypes(mark), events.EventDeletionScheduled)

	finish := byID["lk:EV_hfinish"]
	require.Equal(t, events.SubjectRoomFinished, finish.Subject)
	require.Equal(t, &events.HistoryCause{Kind: events.CauseWebhook, ID: "EV_hfinish"}, finish.Cause)
	require.Contains(t, eventTypes(finish), events.EventDeleted)

	// The other room's history is its own.
	items, _ = b.history(t, other, 10)
	require.Equal(t, []string{"h-other"}, itemIDs(items))
}

// recordingsDown is a store whose recordings cannot be read once down is
// set: a room_finished that would delete a room fails until the worker
// gives it up.
type recordingsDown struct {
	store.Store
	down *atomic.Bool
}

func (s recordingsDown) RoomRecordings(ctx context.Context, room string, limit int) ([]store.Recording, error) {
	if s.down.Load() {
		return nil, errors.New("recordings unavailable")
	}
	return s.Store.RoomRecordings(ctx, room, limit)
}

// "Why is this room still here?": a room marked for deletion whose
// room_finished webhook failed until it was given up has that webhook in
// its history, failed and dead (a webhook is about the room it names).
func TestHistoryOfAFailedWebhook(t *testing.T) {
	t.Parallel()
	st, err := sqlite.Open(context.Background(), sqlite.Config{Path: filepath.Join(t.TempDir(), "roomkeeper.db")})
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	lk := workertest.NewLKRooms()
	down := &atomic.Bool{}
	b := setupQueries(t, queryOpts{store: recordingsDown{st, down}, worker: true, meetings: lk})
	room := b.create(t, "f-create", events.CreateRoom{RoomName: ptr("stuck")}).RoomID
	lk.Set(room, true, true)
	b.webhook(t, "EV_fstart", "room_started", room)
	b.finished(t, "lk:EV_fstart")
	b.Send(t, "f-delete", events.DeleteRooms{RoomIDs: []string{room}, WithMeeting: events.PolicyWhenMeetingEnds})
	require.Equal(t, 202, b.Result(t, "f-delete").Status)
	lk.Set(room, false, false)
	down.Store(true)
	b.webhook(t, "EV_ffinish", "room_finished", room)
	b.finished(t, "lk:EV_ffinish")
	_, err = st.GetRoom(ctxT(t, 5*time.Second), room)
	require.NoError(t, err, "the room is still here")

	items, _ := b.history(t, room, 10)
	require.Equal(t, []string{"f-create", "lk:EV_fstart", "f-delete", "lk:EV_ffinish"}, itemIDs(items))
	finish := items[3]
	require.False(t, finish.OK)
	require.True(t, finish.Dead, "given up")
	require.Equal(t, events.CodeUnavailable, finish.Error.Code)
	require.Equal(t, &events.HistoryCause{Kind: events.CauseWebhook, ID: "EV_ffinish"}, finish.Cause)
	require.Empty(t, finish.Events)
}

// A room deleted by a sweep when it expired shows the sweep as the cause
// of its delete.
func TestHistoryOfAnExpiredRoom(t *testing.T) {
	t.Parallel()
	b := setupQueries(t, queryOpts{})
	b.Rooms.MinAutoDeletionDelay = 0
	b.Start(t, workertest.WorkerOpts{})

	date := time.Now().Add(500 * time.Millisecond).UnixMilli()
	room := b.create(t, "x-create", events.CreateRoom{RoomName: ptr("expiring"), AutoDeletionDate: &date}).RoomID
	time.Sleep(time.Until(time.UnixMilli(date)) + 50*time.Millisecond)
	b.SendSystem(t, "sweep-hist", events.SubjectSweep, `{}`)
	require.True(t, b.Result(t, "sweep-hist").OK)
	expire := "expire-" + room
	require.True(t, b.Result(t, expire).OK)
	b.finished(t, expire)

	items, _ := b.history(t, room, 10)
	require.Equal(t, []string{"x-create", expire}, itemIDs(items))
	require.Equal(t, events.SubjectDelete, items[1].Subject)
	require.Equal(t, &events.HistoryCause{Kind: events.CauseCommand, ID: "sweep-hist"}, items[1].Cause)
	require.Equal(t, []string{events.EventDeleted}, eventTypes(items[1]))
}

// A room that never existed is not_found, as rooms.api.get answers; page
// tokens are tied to their room and refused when altered.
func TestHistoryErrors(t *testing.T) {
	t.Parallel()
	b := setupQueries(t, queryOpts{worker: true})
	_ = requireQueryError(t, b.request(t, events.APIHistory, `{"roomId":"Nope-aaaaaaaaaaaaaaa"}`), events.CodeNotFound)
	_ = requireQueryError(t, b.request(t, events.APIHistory, `{"roomId":"!!"}`), events.CodeInvalidArgument)
	_ = requireQueryError(t, b.request(t, events.APIHistory, `{}`), events.CodeInvalidArgument)
	_ = requireQueryError(t, b.request(t, events.APIHistory, `{"roomId":"x","maxItems":0}`), events.CodeInvalidArgument)

	// A room that exists and whose history is empty (inserted straight
	// into the store, as after the ledger was pruned) has an empty page.
	insertRoom(ctxT(t, 5*time.Second), t, b.Store, "Quiet-aaaaaaaaaaaaaaa")
	items, _ := b.history(t, "Quiet-aaaaaaaaaaaaaaa", 10)
	require.Empty(t, items)

	a := b.create(t, "e-a", events.CreateRoom{RoomName: ptr("a")}).RoomID
	c := b.create(t, "e-c", events.CreateRoom{RoomName: ptr("c")}).RoomID
	b.Send(t, "e-a2", events.UpdateConfig{RoomID: a, Config: events.ConfigOptions{Chat: &events.EnabledOptions{Enabled: ptr(false)}}})
	require.True(t, b.Result(t, "e-a2").OK)
	var page events.HistoryReply
	requireReply(t, events.APIHistory, b.request(t, events.APIHistory, fmt.Sprintf(`{"roomId":%q,"maxItems":1}`, a)), &page)
	require.True(t, page.Pagination.IsTruncated)
	tok := page.Pagination.NextPageToken

	e := requireQueryError(t, b.request(t, events.APIHistory, fmt.Sprintf(`{"roomId":%q,"nextPageToken":%q}`, c, tok)), events.CodeInvalidArgument)
	require.Equal(t, "nextPageToken", e.Details[0].Field)
	require.Contains(t, e.Details[0].Message, "another room")
	// One character of the token changed.
	mid := len(tok) / 2
	swap := "A"
	if tok[mid] == 'A' {
		swap = "B"
	}
	bad := tok[:mid] + swap + tok[mid+1:]
	_ = requireQueryError(t, b.request(t, events.APIHistory, fmt.Sprintf(`{"roomId":%q,"nextPageToken":%q}`, a, bad)), events.CodeInvalidArgument)

	// The Go client reads the same pages.
	rep, err := b.Client.History(ctxT(t, 10*time.Second), events.HistoryRequest{RoomID: a, MaxItems: 1, NextPageToken: tok})
	require.NoError(t, err)
	require.Equal(t, []string{"e-a2"}, itemIDs(rep.Items))
	require.False(t, rep.Pagination.IsTruncated)
	_, err = b.Client.History(ctxT(t, 10*time.Second), events.HistoryRequest{RoomID: "Nope-aaaaaaaaaaaaaaa"})
	requireCode(t, err, events.CodeNotFound)
}

// A bulk delete is in the history of each room it names, with only the
// events about that room.
func TestHistoryOfABulkDelete(t *testing.T) {
	t.Parallel()
	b := setupQueries(t, queryOpts{worker: true})
	a := b.create(t, "bk-a", events.CreateRoom{RoomName: ptr("a")}).RoomID
	c := b.create(t, "bk-c", events.CreateRoom{RoomName: ptr("c")}).RoomID
	b.Send(t, "bk-del", events.DeleteRooms{RoomIDs: []string{a, c, "Gone-aaaaaaaaaaaaaaa"}})
	require.True(t, b.Result(t, "bk-del").OK)
	b.finished(t, "bk-del")
	for _, room := range []string{a, c} {
		items, _ := b.history(t, room, 10)
		require.Equal(t, []string{"bk-" + map[string]string{a: "a", c: "c"}[room], "bk-del"}, itemIDs(items))
		require.Len(t, items[1].Events, 1, "%+v", items[1].Events)
		require.Equal(t, events.EventID("bk-del", events.EventDeleted, room), items[1].Events[0].ID)
	}
	// A room that never existed but was named: its history has the
	// command that named it.
	items, _ := b.history(t, "Gone-aaaaaaaaaaaaaaa", 10)
	require.Equal(t, []string{"bk-del"}, itemIDs(items))
	require.Empty(t, items[0].Events)
}

// Commands about one room sent one after the other, each when the one
// before was answered, are listed in that order, even those that finished
// in the same millisecond (their IDs here sort the other way).
func TestHistoryOfQuickSuccessiveCommands(t *testing.T) {
	t.Parallel()
	b := setupQueries(t, queryOpts{worker: true})
	room := b.create(t, "q-create", events.CreateRoom{RoomName: ptr("quick")}).RoomID
	want := []string{"q-create"}
	for i := 99; i >= 40; i-- {
		id := fmt.Sprintf("q-%02d", i)
		b.Send(t, id, events.UpdateConfig{RoomID: room, Config: events.ConfigOptions{Chat: &events.EnabledOptions{Enabled: ptr(i%2 == 0)}}})
		require.True(t, b.Result(t, id).OK)
		want = append(want, id)
	}
	for _, id := range want {
		b.finished(t, id)
	}
	items, _ := b.history(t, room, 100)
	require.Equal(t, want, itemIDs(items))
}
