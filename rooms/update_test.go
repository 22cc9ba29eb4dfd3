package rooms_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"

	"github.com/roomkeeper/roomkeeper/events"
	lktest "github.com/roomkeeper/roomkeeper/internal/testenv/livekit"
	"github.com/roomkeeper/roomkeeper/internal/workertest"
	"github.com/roomkeeper/roomkeeper/livekit"
	"github.com/roomkeeper/roomkeeper/natsapi"
	"github.com/roomkeeper/roomkeeper/rooms"
	"github.com/roomkeeper/roomkeeper/store"
	"github.com/roomkeeper/roomkeeper/store/sqlite"
)

// Preferences that differ from the defaults in every field.
var (
	prefsOff = events.Preferences{
		ChatPreferences:              events.ChatPreferences{Enabled: false},
		RecordingPreferences:         events.RecordingPreferences{Enabled: false},
		VirtualBackgroundPreferences: events.VirtualBackgroundPreferences{Enabled: false},
	}
	prefsAdmin = events.Preferences{
		ChatPreferences:              events.ChatPreferences{Enabled: false},
		RecordingPreferences:         events.RecordingPreferences{Enabled: true, AllowAccessTo: events.AccessAdmin},
		VirtualBackgroundPreferences: events.VirtualBackgroundPreferences{Enabled: false},
	}
)

// sentData is one SendData call.
type sentData struct {
	roomID, topic string
	payload       []byte
}

// signalMeetings is a Meetings whose rooms are live when listed in active
// (or all when allLive), which records SendData and fails on demand.
type signalMeetings struct {
	mu       sync.Mutex
	active   map[string]bool
	allLive  bool
	checkErr error
	sendErr  error
	sent     []sentData
	// started is when MeetingStart says every meeting started (zero: at
	// the call).
	started time.Time
}

func (m *signalMeetings) HasActiveMeeting(_ context.Context, id string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.checkErr != nil {
		return false, m.checkErr
	}
	return m.allLive || m.active[id], nil
}

func (m *signalMeetings) RoomExists(ctx context.Context, id string) (bool, error) {
	return m.HasActiveMeeting(ctx, id)
}

func (m *signalMeetings) MeetingStart(ctx context.Context, id string) (time.Time, string, bool, error) {
	ok, err := m.HasActiveMeeting(ctx, id)
	if !ok || err != nil {
		return time.Time{}, "", false, err
	}
	if m.started.IsZero() {
		return time.Now(), "RM_" + id, true, nil
	}
	return m.started, "RM_" + id, true, nil
}

func (m *signalMeetings) DeleteRoom(context.Context, string) error { return nil }

func (m *signalMeetings) SendData(_ context.Context, id, topic string, payload []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.sendErr != nil {
		return m.sendErr
	}
	m.sent = append(m.sent, sentData{roomID: id, topic: topic, payload: payload})
	return nil
}

func (m *signalMeetings) set(f func(*signalMeetings)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	f(m)
}

func (m *signalMeetings) sentTo(id string) []sentData {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []sentData
	for _, s := range m.sent {
		if s.roomID == id {
			out = append(out, s)
		}
	}
	return out
}

// createRoom creates a room through a command and returns it in the old
// model's view (the create's result carries the new model's).
func (b *bundle) createRoom(t *testing.T, id string, c events.CreateRoom) events.Room {
	t.Helper()
	b.Send(t, id, c)
	created := roomOf(t, b.Result(t, id))
	return b.storedRoom(t, created.RoomID).View()
}

func (b *bundle) storedRoom(t *testing.T, id string) *store.Room {
	t.Helper()
	r, err := b.Store.GetRoom(ctxT(t, 5*time.Second), id)
	require.NoError(t, err)
	return r
}

func (b *bundle) archived(t *testing.T, id string) *store.ArchivedRoom {
	t.Helper()
	a, err := b.Store.GetArchivedRoom(ctxT(t, 5*time.Second), id)
	require.NoError(t, err, "archived metadata of %s", id)
	return a
}

// eventsFor returns the events of type on the stream, by room.
func (b *bundle) eventsFor(t *testing.T, eventType string) map[string][]events.Event {
	t.Helper()
	out := map[string][]events.Event{}
	for _, m := range b.StreamMsgs(t, events.StreamEvents, events.EventSubject(eventType)) {
		var ev events.Event
		require.NoError(t, json.Unmarshal(m.Data(), &ev))
		require.Equal(t, ev.ID, m.Headers().Get(nats.MsgIdHdr))
		out[ev.Subject] = append(out[ev.Subject], ev)
	}
	return out
}

func TestUpdatePreferencesReplacesAll(t *testing.T) {
	t.Parallel()
	b := setup(t, workertest.SetupOpts{})
	b.Start(t, workertest.WorkerOpts{})
	room := b.createRoom(t, "c1", events.CreateRoom{RoomName: ptr("prefs")})
	require.Equal(t, events.DefaultPreferences(), b.archived(t, room.RoomID).Preferences, "created with recording: archived")

	b.Send(t, "u1", events.UpdatePreferences{RoomID: room.RoomID, Preferences: prefsOff})
	res := b.Result(t, "u1")
	require.Equal(t, events.SubjectUpdatePreferences, res.Type)
	got := roomOf(t, res)
	cfg, roles := modelOf(prefsOff)
	require.Equal(t, cfg, got.Config, "the preferences set the config")
	require.Equal(t, roles, got.Roles)
	require.Equal(t, room.RoomID, got.RoomID)
	require.Equal(t, room.RoomName, got.RoomName)
	require.Equal(t, room.Access, got.Access)
	require.Equal(t, room.CreationDate, got.CreationDate)
	require.NotContains(t, string(res.Data), "Secret", "secrets only inside the links")

	stored := b.storedRoom(t, room.RoomID)
	require.Equal(t, prefsOff, stored.Preferences)
	require.Contains(t, stored.Applied, "u1")

	// The archive is refreshed (recording now disabled, but it exists).
	arch := b.archived(t, room.RoomID)
	require.Equal(t, prefsOff, arch.Preferences)
	require.Equal(t, room.Access.Anonymous.Moderator.URL, arch.ModeratorRoomURL)

	// The event carries the room.
	evs := b.eventsFor(t, events.EventPreferencesUpdated)
	require.Len(t, evs[room.RoomID], 1)
	ev := evs[room.RoomID][0]
	require.Equal(t, events.EventID("u1", events.EventPreferencesUpdated, room.RoomID), ev.ID)
	require.Equal(t, events.CloudEventsType+events.EventPreferencesUpdated, ev.Type)
	require.JSONEq(t, string(res.Data), string(ev.Data))

	// A room ID is sanitised as in a delete.
	b.Send(t, "u2", events.UpdatePreferences{RoomID: " " + room.RoomID + "$", Preferences: prefsAdmin})
	cfg, roles = modelOf(prefsAdmin)
	u2 := roomOf(t, b.Result(t, "u2"))
	require.Equal(t, cfg, u2.Config)
	require.Equal(t, roles, u2.Roles, "admin only: neither role sees recordings")
	require.Equal(t, prefsAdmin, b.archived(t, room.RoomID).Preferences)
}

// A room created without recording has no archive; enabling recording by an
// update writes it (see refreshArchive), another update refreshes it.
func TestUpdatePreferencesArchivesWhenRecordingGetsEnabled(t *testing.T) {
	t.Parallel()
	b := setup(t, workertest.SetupOpts{})
	b.Start(t, workertest.WorkerOpts{})
	room := b.createRoom(t, "c1", events.CreateRoom{Preferences: &prefsOff})
	_, err := b.Store.GetArchivedRoom(ctxT(t, 5*time.Second), room.RoomID)
	require.ErrorIs(t, err, store.ErrNotFound)

	noRec := prefsOff
	noRec.ChatPreferences.Enabled = true
	b.Send(t, "u1", events.UpdatePreferences{RoomID: room.RoomID, Preferences: noRec})
	roomOf(t, b.Result(t, "u1"))
	_, err = b.Store.GetArchivedRoom(ctxT(t, 5*time.Second), room.RoomID)
	require.ErrorIs(t, err, store.ErrNotFound, "recording still disabled: no archive")

	b.Send(t, "u2", events.UpdatePreferences{RoomID: room.RoomID, Preferences: prefsAdmin})
	roomOf(t, b.Result(t, "u2"))
	arch := b.archived(t, room.RoomID)
	require.Equal(t, prefsAdmin, arch.Preferences)
	require.Equal(t, room.Access.Anonymous.Speaker.URL, arch.PublisherRoomURL)
	stored := b.storedRoom(t, room.RoomID)
	require.Equal(t, stored.ModeratorSecret, arch.ModeratorSecret)
	require.Equal(t, stored.PublisherSecret, arch.PublisherSecret)
}

func TestUpdatePreferencesUnknownRoomIsNotFound(t *testing.T) {
	t.Parallel()
	b := setup(t, workertest.SetupOpts{})
	run := b.Start(t, workertest.WorkerOpts{})
	b.Send(t, "u-missing", events.UpdatePreferences{RoomID: "NoSuchRoom-aaaaaaaaaaaaaaa", Preferences: prefsOff})
	res := b.Result(t, "u-missing")
	require.False(t, res.OK)
	require.Equal(t, events.CodeNotFound, res.Error.Code)
	require.Contains(t, res.Error.Message, "NoSuchRoom-aaaaaaaaaaaaaaa")
	require.Eventually(t, workertest.Settled(t, b.JS), 10*time.Second, 20*time.Millisecond)
	require.Empty(t, b.StreamMsgs(t, events.StreamDead, "rooms.dead.>"), "an ordinary error, no dead letter")
	require.Empty(t, b.StreamMsgs(t, events.StreamEvents, "rooms.events.>"))
	require.Equal(t, 1, run.Metrics.Get("error"))
	require.Zero(t, b.CountRooms(t), "nothing created")
}

func TestUpdatePreferencesInvalidIsRejectedAndDeadLettered(t *testing.T) {
	t.Parallel()
	b := setup(t, workertest.SetupOpts{})
	b.Start(t, workertest.WorkerOpts{})
	room := b.createRoom(t, "c1", events.CreateRoom{})
	const valid = `{"chatPreferences":{"enabled":true},"recordingPreferences":{"enabled":false},"virtualBackgroundPreferences":{"enabled":true}}`
	id := fmt.Sprintf("%q", room.RoomID)
	cases := []struct{ id, body, field string }{
		{"no-prefs", `{"roomId":` + id + `}`, "preferences"},
		{"no-room", `{"preferences":` + valid + `}`, "roomId"},
		{"room-number", `{"roomId":7,"preferences":` + valid + `}`, "roomId"},
		{"room-empty", `{"roomId":"","preferences":` + valid + `}`, "roomId"},
		{"room-junk", `{"roomId":"$$ %%","preferences":` + valid + `}`, "roomId"},
		{"prefs-string", `{"roomId":` + id + `,"preferences":"none"}`, "preferences"},
		{"no-chat", `{"roomId":` + id + `,"preferences":{"recordingPreferences":{"enabled":false},"virtualBackgroundPreferences":{"enabled":true}}}`, "preferences.chatPreferences"},
		{"no-recording", `{"roomId":` + id + `,"preferences":{"chatPreferences":{"enabled":true},"virtualBackgroundPreferences":{"enabled":true}}}`, "preferences.recordingPreferences"},
		{"no-vb", `{"roomId":` + id + `,"preferences":{"chatPreferences":{"enabled":true},"recordingPreferences":{"enabled":false}}}`, "preferences.virtualBackgroundPreferences"},
		{"no-enabled", `{"roomId":` + id + `,"preferences":{"chatPreferences":{},"recordingPreferences":{"enabled":false},"virtualBackgroundPreferences":{"enabled":true}}}`, "preferences.chatPreferences.enabled"},
		{"enabled-string", `{"roomId":` + id + `,"preferences":{"chatPreferences":{"enabled":true},"recordingPreferences":{"enabled":false},"virtualBackgroundPreferences":{"enabled":"yes"}}}`, "preferences.virtualBackgroundPreferences.enabled"},
		{"rec-no-access", `{"roomId":` + id + `,"preferences":{"chatPreferences":{"enabled":true},"recordingPreferences":{"enabled":true},"virtualBackgroundPreferences":{"enabled":true}}}`, "preferences.recordingPreferences.allowAccessTo"},
		{"rec-bad-access", `{"roomId":` + id + `,"preferences":{"chatPreferences":{"enabled":true},"recordingPreferences":{"enabled":true,"allowAccessTo":"everyone"},"virtualBackgroundPreferences":{"enabled":true}}}`, "preferences.recordingPreferences.allowAccessTo"},
		{"bad-json", `{"roomId":` + id, "body"},
	}
	for _, c := range cases {
		b.SendRaw(t, c.id, events.SubjectUpdatePreferences, c.body)
	}
	for _, c := range cases {
		res := b.Result(t, c.id)
		require.False(t, res.OK, c.id)
		require.Equal(t, events.CodeInvalidArgument, res.Error.Code, c.id)
		require.NotEmpty(t, res.Error.Details, c.id)
		fields := make([]string, 0, len(res.Error.Details))
		for _, d := range res.Error.Details {
			fields = append(fields, d.Field)
		}
		require.Contains(t, fields, c.field, c.id)
	}
	require.Eventually(t, workertest.Settled(t, b.JS), 10*time.Second, 20*time.Millisecond)
	dead := b.StreamMsgs(t, events.StreamDead, "rooms.dead.update_preferences")
	require.Len(t, dead, len(cases), "one dead letter per bad command")
	for _, m := range dead {
		require.Equal(t, "1", m.Headers().Get(events.HeaderDeadDeliveries), "never redelivered")
	}
	stored := b.storedRoom(t, room.RoomID)
	require.Equal(t, events.DefaultPreferences(), stored.Preferences, "untouched")
	require.Empty(t, b.StreamMsgs(t, events.StreamEvents, "rooms.events.preferences_updated"))
}

// A crash after any step: the redelivery has no second effect (one write,
// one event, one result) and the preferences are the new ones.
func TestUpdatePreferencesCrashBetweenStepsHasOneEffect(t *testing.T) {
	t.Parallel()
	for _, step := range []string{"claimed", "applied", "completed", "published"} {
		t.Run(step, func(t *testing.T) {
			t.Parallel()
			b := setup(t, workertest.SetupOpts{Topology: func(top *natsapi.Topology) { top.AckWait = time.Second }})
			meet := &signalMeetings{allLive: true}
			b.Rooms.Meetings = meet
			var crashed atomic.Bool
			b.Start(t, workertest.WorkerOpts{Fault: func(s, id string) bool {
				return s == step && id == "crash" && crashed.CompareAndSwap(false, true)
			}})
			room := b.createRoom(t, "c1", events.CreateRoom{})
			before := b.storedRoom(t, room.RoomID)

			b.Send(t, "crash", events.UpdatePreferences{RoomID: room.RoomID, Preferences: prefsAdmin})
			require.Equal(t, prefsAdmin, prefsOf(roomOf(t, b.Result(t, "crash"))))
			require.Eventually(t, crashed.Load, 10*time.Second, 10*time.Millisecond)
			require.Eventually(t, func() bool {
				info := commandsInfo(b.JS)
				return info != nil && info.NumAckPending == 0 && info.NumPending == 0 && info.NumRedelivered == 0 && info.Delivered.Consumer >= 3
			}, 20*time.Second, 50*time.Millisecond)

			after := b.storedRoom(t, room.RoomID)
			require.Equal(t, prefsAdmin, after.Preferences)
			require.Equal(t, before.Version+1, after.Version, "written once")
			require.Equal(t, prefsAdmin, b.archived(t, room.RoomID).Preferences)
			require.Len(t, b.eventsFor(t, events.EventPreferencesUpdated)[room.RoomID], 1)
			require.Len(t, b.StreamMsgs(t, events.StreamResults, events.ResultSubject("crash")), 1)
			require.Empty(t, b.StreamMsgs(t, events.StreamDead, "rooms.dead.>"))
			// Signals are at least once: a re-run may send another.
			require.NotEmpty(t, meet.sentTo(room.RoomID))
		})
	}
}

// sendAll publishes cmds from one goroutine each, all at once, and fails
// the test on a publish error.
func (b *bundle) sendAll(t *testing.T, cmds map[string]events.Command) {
	t.Helper()
	ctx := ctxT(t, 60*time.Second)
	var wg sync.WaitGroup
	errs := make(chan error, len(cmds))
	start := make(chan struct{})
	for id, cmd := range cmds {
		wg.Go(func() {
			<-start
			errs <- b.Client.Send(ctx, id, cmd)
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
}

// twoWorkers starts two workers on connections of their own, as two
// processes would.
func (b *bundle) twoWorkers(t *testing.T) {
	t.Helper()
	for range 2 {
		nc, err := nats.Connect(b.NATS.URL)
		require.NoError(t, err)
		t.Cleanup(nc.Close)
		b.Start(t, workertest.WorkerOpts{Conn: nc})
	}
}

// createRooms creates n rooms and returns their IDs.
func (b *bundle) createRooms(t *testing.T, prefix string, n int) []string {
	t.Helper()
	ids := make([]string, n)
	for i := range n {
		b.Send(t, fmt.Sprintf("%s-c%d", prefix, i), events.CreateRoom{RoomName: ptr(fmt.Sprintf("%s %d", prefix, i))})
	}
	for i := range n {
		ids[i] = roomOf(t, b.Result(t, fmt.Sprintf("%s-c%d", prefix, i))).RoomID
	}
	return ids
}

// An update racing a delete of the same room, on two workers: either the
// update succeeded and the delete came after it, or the update found no
// room. The room never comes back, and the archive holds the update's
// preferences exactly when the update succeeded.
func TestUpdatePreferencesRaceWithDelete(t *testing.T) {
	t.Parallel()
	b := setup(t, workertest.SetupOpts{})
	b.twoWorkers(t)
	const n = 60
	ids := b.createRooms(t, "race", n)
	cmds := map[string]events.Command{}
	for i, id := range ids {
		cmds[fmt.Sprintf("upd-%d", i)] = events.UpdatePreferences{RoomID: id, Preferences: prefsAdmin}
		cmds[fmt.Sprintf("del-%d", i)] = events.DeleteRooms{RoomIDs: []string{id}}
	}
	b.sendAll(t, cmds)

	var updated, notFound int
	okRooms := map[string]bool{}
	for i, id := range ids {
		del := b.Result(t, fmt.Sprintf("del-%d", i))
		require.True(t, del.OK, "%+v", del.Error)
		var dr events.DeleteResult
		require.NoError(t, json.Unmarshal(del.Data, &dr))
		require.Len(t, dr.Deleted, 1)
		require.Equal(t, id, dr.Deleted[0].RoomID)

		upd := b.Result(t, fmt.Sprintf("upd-%d", i))
		arch := b.archived(t, id)
		if upd.OK {
			updated++
			okRooms[id] = true
			require.Equal(t, prefsAdmin, prefsOf(roomOf(t, upd)))
			require.Equal(t, prefsAdmin, arch.Preferences, "the update's write is kept in the archive")
		} else {
			notFound++
			require.Equal(t, events.CodeNotFound, upd.Error.Code, "%+v", upd.Error)
			require.Equal(t, events.DefaultPreferences(), arch.Preferences, "a failed update changed nothing")
		}
		_, err := b.Store.GetRoom(ctxT(t, 5*time.Second), id)
		require.ErrorIs(t, err, store.ErrNotFound, "room %s resurrected", id)
	}
	t.Logf("update first: %d, delete first: %d", updated, notFound)
	require.Eventually(t, workertest.Settled(t, b.JS), 20*time.Second, 50*time.Millisecond)
	require.Zero(t, b.CountRooms(t))
	evs := b.eventsFor(t, events.EventPreferencesUpdated)
	require.Len(t, evs, updated)
	for id, list := range evs {
		require.True(t, okRooms[id], "event without a successful update: %s", id)
		require.Len(t, list, 1)
	}
	require.Len(t, b.eventsFor(t, events.EventDeleted), n)
	require.Empty(t, b.StreamMsgs(t, events.StreamDead, "rooms.dead.>"))
}

// An update racing a scheduled deletion (a delete, when_meeting_ends, of a
// room in a meeting), on two workers: neither write is lost.
func TestUpdatePreferencesRaceWithMark(t *testing.T) {
	t.Parallel()
	b := setup(t, workertest.SetupOpts{})
	meet := &signalMeetings{allLive: true}
	b.Rooms.Meetings = meet
	b.twoWorkers(t)
	const n = 60
	ids := b.createRooms(t, "mark", n)
	versions := map[string]int64{}
	for _, id := range ids {
		r := b.storedRoom(t, id)
		r.Status = events.StatusActiveMeeting
		require.NoError(t, b.Store.UpdateRoom(ctxT(t, 5*time.Second), r, r.Version))
		versions[id] = r.Version
	}
	cmds := map[string]events.Command{}
	for i, id := range ids {
		cmds[fmt.Sprintf("upd-%d", i)] = events.UpdatePreferences{RoomID: id, Preferences: prefsAdmin}
		cmds[fmt.Sprintf("del-%d", i)] = events.DeleteRooms{RoomIDs: []string{id}, WithMeeting: events.PolicyWhenMeetingEnds}
	}
	b.sendAll(t, cmds)

	for i, id := range ids {
		del := b.Result(t, fmt.Sprintf("del-%d", i))
		require.True(t, del.OK, "%+v", del.Error)
		require.Equal(t, 202, del.Status)
		var dr events.DeleteResult
		require.NoError(t, json.Unmarshal(del.Data, &dr))
		require.Equal(t, events.DeleteSuccessRoomWithActiveMeetingScheduledToBeDeleted, dr.Deleted[0].SuccessCode)
		upd := b.Result(t, fmt.Sprintf("upd-%d", i))
		require.Equal(t, prefsAdmin, prefsOf(roomOf(t, upd)))

		r := b.storedRoom(t, id)
		require.Equal(t, events.EndActionDelete, r.MeetingEndAction, "the scheduling of %s was lost", id)
		require.Equal(t, prefsAdmin, r.Preferences, "the update of %s was lost", id)
		require.Equal(t, versions[id]+2, r.Version, "one write each")
		require.Contains(t, r.Applied, fmt.Sprintf("upd-%d", i))
		require.Contains(t, r.Applied, fmt.Sprintf("del-%d", i))
		require.Equal(t, prefsAdmin, b.archived(t, id).Preferences)
		require.NotEmpty(t, meet.sentTo(id), "participants told")
	}
	require.Eventually(t, workertest.Settled(t, b.JS), 20*time.Second, 50*time.Millisecond)
	require.Len(t, b.eventsFor(t, events.EventPreferencesUpdated), n)
	require.Len(t, b.eventsFor(t, events.EventDeletionScheduled), n)
	require.Empty(t, b.StreamMsgs(t, events.StreamDead, "rooms.dead.>"))
}

// Two updates of one room racing on two workers: the archive ends with the
// preferences the room ends with.
func TestUpdatePreferencesRaceArchiveFollowsRoom(t *testing.T) {
	t.Parallel()
	b := setup(t, workertest.SetupOpts{})
	b.twoWorkers(t)
	const n = 30
	ids := b.createRooms(t, "arch", n)
	alt := prefsAdmin
	alt.RecordingPreferences.AllowAccessTo = events.AccessAdminModerator
	cmds := map[string]events.Command{}
	for i, id := range ids {
		cmds[fmt.Sprintf("a-%d", i)] = events.UpdatePreferences{RoomID: id, Preferences: prefsAdmin}
		cmds[fmt.Sprintf("b-%d", i)] = events.UpdatePreferences{RoomID: id, Preferences: alt}
	}
	b.sendAll(t, cmds)
	for i := range ids {
		roomOf(t, b.Result(t, fmt.Sprintf("a-%d", i)))
		roomOf(t, b.Result(t, fmt.Sprintf("b-%d", i)))
	}
	require.Eventually(t, workertest.Settled(t, b.JS), 20*time.Second, 50*time.Millisecond)
	for _, id := range ids {
		r := b.storedRoom(t, id)
		require.Contains(t, []events.Preferences{prefsAdmin, alt}, r.Preferences)
		require.Equal(t, r.Preferences, b.archived(t, id).Preferences, "archive of %s behind the room", id)
	}
}

// interleaveStore runs between once, just before the first room write of
// command trigger, to place a concurrent change exactly between the
// handler's read and its compare-and-set.
type interleaveStore struct {
	store.Store
	trigger string
	between func(ctx context.Context, inner store.Store, roomID string) error
	once    sync.Once
	ran     atomic.Bool
	err     error
}

func (s *interleaveStore) UpdateRoom(ctx context.Context, r *store.Room, expected int64) error {
	if r.WasApplied(s.trigger) {
		s.once.Do(func() { s.err = s.between(ctx, s.Store, r.RoomID); s.ran.Store(true) })
	}
	return s.Store.UpdateRoom(ctx, r, expected)
}

func newInterleaveStore(t *testing.T, trigger string, between func(context.Context, store.Store, string) error) *interleaveStore {
	t.Helper()
	st, err := sqlite.Open(context.Background(), sqlite.Config{Path: filepath.Join(t.TempDir(), "roomkeeper.db")})
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	return &interleaveStore{Store: st, trigger: trigger, between: between}
}

// The room is deleted after the update read it and before it wrote: the
// update fails with not_found and does not bring the room back.
func TestUpdatePreferencesRaceDeleteBetweenReadAndWrite(t *testing.T) {
	t.Parallel()
	st := newInterleaveStore(t, "upd", func(ctx context.Context, inner store.Store, id string) error {
		return inner.DeleteRoom(ctx, id)
	})
	b := setup(t, workertest.SetupOpts{Store: st})
	b.Start(t, workertest.WorkerOpts{})
	room := b.createRoom(t, "c1", events.CreateRoom{})
	b.Send(t, "upd", events.UpdatePreferences{RoomID: room.RoomID, Preferences: prefsAdmin})
	res := b.Result(t, "upd")
	require.True(t, st.ran.Load(), "the delete ran between read and write")
	require.NoError(t, st.err)
	require.False(t, res.OK)
	require.Equal(t, events.CodeNotFound, res.Error.Code)
	_, err := st.GetRoom(ctxT(t, 5*time.Second), room.RoomID)
	require.ErrorIs(t, err, store.ErrNotFound, "resurrected")
	require.Equal(t, events.DefaultPreferences(), b.archived(t, room.RoomID).Preferences)
	require.Eventually(t, workertest.Settled(t, b.JS), 10*time.Second, 20*time.Millisecond)
	require.Empty(t, b.StreamMsgs(t, events.StreamEvents, "rooms.events.preferences_updated"))
	require.Empty(t, b.StreamMsgs(t, events.StreamDead, "rooms.dead.>"))
}

// The room is marked after the update read it and before it wrote: the
// update's compare-and-set fails, it reads again and keeps the mark.
func TestUpdatePreferencesRaceMarkBetweenReadAndWrite(t *testing.T) {
	t.Parallel()
	st := newInterleaveStore(t, "upd", func(ctx context.Context, inner store.Store, id string) error {
		r, err := inner.GetRoom(ctx, id)
		if err != nil {
			return err
		}
		r.MarkedForDeletion = true
		r.MarkApplied("mark")
		return inner.UpdateRoom(ctx, r, r.Version)
	})
	b := setup(t, workertest.SetupOpts{Store: st})
	b.Start(t, workertest.WorkerOpts{})
	room := b.createRoom(t, "c1", events.CreateRoom{})
	before := b.storedRoom(t, room.RoomID)
	b.Send(t, "upd", events.UpdatePreferences{RoomID: room.RoomID, Preferences: prefsAdmin})
	roomOf(t, b.Result(t, "upd"))
	require.True(t, st.ran.Load(), "the mark ran between read and write")
	require.NoError(t, st.err)
	after := b.storedRoom(t, room.RoomID)
	require.True(t, after.MarkedForDeletion, "mark lost")
	require.Equal(t, prefsAdmin, after.Preferences, "update lost")
	require.Equal(t, before.Version+2, after.Version)
	require.Equal(t, []string{"c1", "mark", "upd"}, after.Applied)
}

func TestUpdatePreferencesSignalsLiveMeetingsOnly(t *testing.T) {
	t.Parallel()
	b := setup(t, workertest.SetupOpts{})
	meet := &signalMeetings{active: map[string]bool{}}
	b.Rooms.Meetings = meet
	b.Start(t, workertest.WorkerOpts{})
	live := b.createRoom(t, "c-live", events.CreateRoom{RoomName: ptr("live")})
	idle := b.createRoom(t, "c-idle", events.CreateRoom{RoomName: ptr("idle")})
	meet.set(func(m *signalMeetings) { m.active[live.RoomID] = true })

	b.Send(t, "u-live", events.UpdatePreferences{RoomID: live.RoomID, Preferences: prefsOff})
	b.Send(t, "u-idle", events.UpdatePreferences{RoomID: idle.RoomID, Preferences: prefsOff})
	roomOf(t, b.Result(t, "u-live"))
	roomOf(t, b.Result(t, "u-idle"))

	sent := meet.sentTo(live.RoomID)
	require.Len(t, sent, 1)
	require.Equal(t, rooms.TopicPreferencesUpdated, sent[0].topic)
	var payload struct {
		RoomID      string             `json:"roomId"`
		Preferences events.Preferences `json:"preferences"`
	}
	require.NoError(t, json.Unmarshal(sent[0].payload, &payload))
	require.Equal(t, live.RoomID, payload.RoomID)
	require.Equal(t, prefsOff, payload.Preferences)
	require.Empty(t, meet.sentTo(idle.RoomID), "no meeting, no signal")

	// The mark signal (signalMarkedLog, used by the delete handler).
	b.Rooms.SignalMarked(ctxT(t, 5*time.Second), live.RoomID)
	b.Rooms.SignalMarked(ctxT(t, 5*time.Second), idle.RoomID)
	sent = meet.sentTo(live.RoomID)
	require.Len(t, sent, 2)
	require.Equal(t, rooms.TopicMarkedForDeletion, sent[1].topic)
	require.JSONEq(t, fmt.Sprintf(`{"roomId":%q}`, live.RoomID), string(sent[1].payload))
	require.Empty(t, meet.sentTo(idle.RoomID))
}

// A failed signal is counted and never fails the command.
func TestUpdatePreferencesSignalFailureDoesNotFailTheCommand(t *testing.T) {
	t.Parallel()
	b := setup(t, workertest.SetupOpts{})
	meet := &signalMeetings{allLive: true}
	b.Rooms.Meetings = meet
	seen := &signalOutcomes{failed: map[string]int{}}
	b.Rooms.Signals = seen
	run := b.Start(t, workertest.WorkerOpts{})
	room := b.createRoom(t, "c1", events.CreateRoom{})

	meet.set(func(m *signalMeetings) { m.sendErr = errors.New("livekit down") })
	b.Send(t, "u-send-fails", events.UpdatePreferences{RoomID: room.RoomID, Preferences: prefsOff})
	require.Equal(t, prefsOff, prefsOf(roomOf(t, b.Result(t, "u-send-fails"))))

	meet.set(func(m *signalMeetings) { m.sendErr, m.checkErr = nil, errors.New("livekit down") })
	b.Send(t, "u-check-fails", events.UpdatePreferences{RoomID: room.RoomID, Preferences: prefsAdmin})
	require.Equal(t, prefsAdmin, prefsOf(roomOf(t, b.Result(t, "u-check-fails"))))

	require.Equal(t, 2, seen.failures(rooms.TopicPreferencesUpdated), "both failures reported")
	b.Rooms.SignalMarked(ctxT(t, 5*time.Second), room.RoomID)
	require.Equal(t, 1, seen.failures(rooms.TopicMarkedForDeletion))

	require.Eventually(t, workertest.Settled(t, b.JS), 10*time.Second, 20*time.Millisecond)
	require.Zero(t, run.Metrics.Get("retry"), "never retried for a signal")
	require.Empty(t, meet.sentTo(room.RoomID))
	require.Len(t, b.eventsFor(t, events.EventPreferencesUpdated)[room.RoomID], 2)
}

// A participant in the room's LiveKit meeting (a real livekit-server and
// the real adapter) receives the new preferences, and the mark signal.
func TestUpdatePreferencesSignalsLiveKitParticipant(t *testing.T) {
	t.Parallel()
	srv := lktest.Start(t, lktest.Options{})
	lk, err := livekit.New(livekit.Config{URL: srv.URL, APIKey: srv.APIKey, APISecret: srv.APISecret})
	require.NoError(t, err)
	b := setup(t, workertest.SetupOpts{})
	b.Rooms.Meetings = lk
	b.Start(t, workertest.WorkerOpts{})

	room := b.createRoom(t, "c1", events.CreateRoom{RoomName: ptr("live meeting")})
	alice := lktest.Join(t, srv, room.RoomID, "alice")

	prefs := prefsAdmin
	prefs.VirtualBackgroundPreferences.Enabled = true
	b.Send(t, "u1", events.UpdatePreferences{RoomID: room.RoomID, Preferences: prefs})
	roomOf(t, b.Result(t, "u1"))

	msg := alice.WaitData(t, rooms.TopicPreferencesUpdated, 20*time.Second)
	require.Empty(t, msg.From, "sent by the server API")
	var payload struct {
		RoomID      string             `json:"roomId"`
		Preferences events.Preferences `json:"preferences"`
	}
	require.NoError(t, json.Unmarshal(msg.Payload, &payload))
	require.Equal(t, room.RoomID, payload.RoomID)
	require.Equal(t, prefs, payload.Preferences)

	b.Rooms.SignalMarked(ctxT(t, 15*time.Second), room.RoomID)
	msg = alice.WaitData(t, rooms.TopicMarkedForDeletion, 20*time.Second)
	require.JSONEq(t, fmt.Sprintf(`{"roomId":%q}`, room.RoomID), string(msg.Payload))

	// A room nobody joined gets no signal, and the update still succeeds.
	other := b.createRoom(t, "c2", events.CreateRoom{RoomName: ptr("empty")})
	b.Send(t, "u2", events.UpdatePreferences{RoomID: other.RoomID, Preferences: prefs})
	require.Equal(t, prefs, prefsOf(roomOf(t, b.Result(t, "u2"))))
}

// signalOutcomes is a rooms.SignalObserver that counts failures by topic.
type signalOutcomes struct {
	mu     sync.Mutex
	failed map[string]int
}

func (s *signalOutcomes) Signaled(topic string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.failed[topic]++
	}
}

func (s *signalOutcomes) failures(topic string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.failed[topic]
}

// modelOf is what preferences p set in the new model on a room created
// with the defaults (the deprecated update_preferences).
func modelOf(p events.Preferences) (events.Config, events.Roles) {
	cfg, roles := events.DefaultConfig(), events.DefaultRoles()
	store.ApplyPreferences(&cfg, &roles, p)
	return cfg, roles
}

// prefsOf reads back, from a room of the new model, the old preferences
// update_preferences set (allowAccessTo only while recording is enabled).
func prefsOf(r events.Room) events.Preferences {
	p := events.Preferences{
		ChatPreferences:              events.ChatPreferences{Enabled: r.Config.Chat.Enabled},
		RecordingPreferences:         events.RecordingPreferences{Enabled: r.Config.Recording.Enabled},
		VirtualBackgroundPreferences: events.VirtualBackgroundPreferences{Enabled: r.Config.VirtualBackground.Enabled},
	}
	if p.RecordingPreferences.Enabled {
		switch {
		case r.Roles.Speaker.Permissions.RecordingList:
			p.RecordingPreferences.AllowAccessTo = events.AccessAdminModeratorPublisher
		case r.Roles.Moderator.Permissions.RecordingList:
			p.RecordingPreferences.AllowAccessTo = events.AccessAdminModerator
		default:
			p.RecordingPreferences.AllowAccessTo = events.AccessAdmin
		}
	}
	return p
}
