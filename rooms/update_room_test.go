package rooms_test

import (
	"encoding/json"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/internal/workertest"
	"github.com/roomkeeper/roomkeeper/natsapi"
	"github.com/roomkeeper/roomkeeper/rooms"
	"github.com/roomkeeper/roomkeeper/schemas"
)

// okData sends cmd and decodes the data of its ok result, checking the
// result against the contract and its status.
func okData[T any](t *testing.T, b *bundle, id string, cmd events.Command, status int) T {
	t.Helper()
	b.Send(t, id, cmd)
	res := b.Result(t, id)
	require.True(t, res.OK, "%s: %+v", id, res.Error)
	require.Equal(t, status, res.Status, id)
	require.NoError(t, schemas.Validate(schemas.Result, mustJSON(t, res)), id)
	var v T
	require.NoError(t, json.Unmarshal(res.Data, &v))
	return v
}

// failed sends cmd and returns its failed result.
func failed(t *testing.T, b *bundle, id string, cmd events.Command) *events.Result {
	t.Helper()
	b.Send(t, id, cmd)
	res := b.Result(t, id)
	require.False(t, res.OK, id)
	require.NoError(t, schemas.Validate(schemas.Result, mustJSON(t, res)), id)
	return res
}

// setStatus puts room id in a status, as LiveKit's room_started and
// room_finished do.
func (b *bundle) setStatus(t *testing.T, id, status string) {
	t.Helper()
	r := b.storedRoom(t, id)
	r.Status = status
	require.NoError(t, b.Store.UpdateRoom(ctxT(t, 5*time.Second), r, r.Version))
}

func TestUpdateConfigDeepMerges(t *testing.T) {
	t.Parallel()
	b := setup(t, workertest.SetupOpts{})
	b.Start(t, workertest.WorkerOpts{})
	room := b.create(t, "c1", events.CreateRoom{Config: &events.ConfigOptions{Chat: &events.EnabledOptions{Enabled: ptr(false)}}})

	// Only the encoding changes; the rest of recording and of the config stays.
	cfg := okData[events.Config](t, b, "u1", events.UpdateConfig{RoomID: room.RoomID, Config: events.ConfigOptions{
		Recording: &events.RecordingOptions{Encoding: json.RawMessage(`"H264_1080P_60"`)},
	}}, 200)
	want := room.Config
	want.Recording.Encoding = json.RawMessage(`"H264_1080P_60"`)
	require.Equal(t, want, cfg)

	// From preset to advanced options, and back.
	adv := `{"video":{"width":1280,"height":720,"framerate":30,"codec":"VP8","bitrate":2500,"keyFrameInterval":1.5,"depth":24},"audio":{"codec":"OPUS","bitrate":96,"frequency":48000}}`
	cfg = okData[events.Config](t, b, "u2", events.UpdateConfig{RoomID: room.RoomID, Config: events.ConfigOptions{
		Recording: &events.RecordingOptions{Encoding: json.RawMessage(adv)},
	}}, 200)
	require.JSONEq(t, adv, string(cfg.Recording.Encoding))
	cfg = okData[events.Config](t, b, "u3", events.UpdateConfig{RoomID: room.RoomID, Config: events.ConfigOptions{
		Recording:       &events.RecordingOptions{Encoding: json.RawMessage(`"H264_720P_30"`), Layout: ptr(events.LayoutSpeaker)},
		MaxParticipants: events.Some(4), MaxDurationMinutes: events.Some(30),
	}}, 200)
	require.JSONEq(t, `"H264_720P_30"`, string(cfg.Recording.Encoding))
	require.Equal(t, events.LayoutSpeaker, cfg.Recording.Layout)
	require.Equal(t, ptr(4), cfg.MaxParticipants)
	require.Equal(t, ptr(30), cfg.MaxDurationMinutes)
	require.False(t, cfg.Chat.Enabled, "untouched fields keep their value")

	// Absent keeps a limit, null removes it.
	cfg = okData[events.Config](t, b, "u4", events.UpdateConfig{RoomID: room.RoomID, Config: events.ConfigOptions{
		MaxParticipants: events.Null[int](),
	}}, 200)
	require.Nil(t, cfg.MaxParticipants)
	require.Equal(t, ptr(30), cfg.MaxDurationMinutes)

	// e2ee on turns recording off.
	cfg = okData[events.Config](t, b, "u5", events.UpdateConfig{RoomID: room.RoomID, Config: events.ConfigOptions{
		E2EE: &events.EnabledOptions{Enabled: ptr(true)},
	}}, 200)
	require.True(t, cfg.E2EE.Enabled)
	require.False(t, cfg.Recording.Enabled)

	stored := b.storedRoom(t, room.RoomID)
	require.Equal(t, cfg, stored.View().Config, "persisted")
	require.Equal(t, room.RolesUpdatedAt, stored.RolesUpdatedAt, "a config update leaves rolesUpdatedAt")
	require.False(t, stored.Preferences.RecordingPreferences.Enabled, "the old model's preferences follow")
}

func TestUpdateStatus(t *testing.T) {
	t.Parallel()
	b := setup(t, workertest.SetupOpts{})
	b.Start(t, workertest.WorkerOpts{})
	room := b.create(t, "c1", events.CreateRoom{})

	got := okData[events.Room](t, b, "s1", events.UpdateStatus{RoomID: room.RoomID, Status: events.StatusClosed}, 200)
	require.Equal(t, events.StatusClosed, got.Status)
	require.Equal(t, events.EndActionNone, got.MeetingEndAction)
	got = okData[events.Room](t, b, "s2", events.UpdateStatus{RoomID: room.RoomID, Status: events.StatusOpen}, 200)
	require.Equal(t, events.StatusOpen, got.Status)
	require.Equal(t, room.Access, got.Access)

	// During a meeting, closing is scheduled for its end: 202.
	b.setStatus(t, room.RoomID, events.StatusActiveMeeting)
	got = okData[events.Room](t, b, "s3", events.UpdateStatus{RoomID: room.RoomID, Status: events.StatusClosed}, 202)
	require.Equal(t, events.StatusActiveMeeting, got.Status)
	require.Equal(t, events.EndActionClose, got.MeetingEndAction)
	stored := b.storedRoom(t, room.RoomID)
	require.Equal(t, events.EndActionClose, stored.MeetingEndAction)
	require.Equal(t, events.StatusActiveMeeting, stored.Status)

	// Opening it again cancels the closure; the meeting goes on.
	got = okData[events.Room](t, b, "s4", events.UpdateStatus{RoomID: room.RoomID, Status: events.StatusOpen}, 200)
	require.Equal(t, events.StatusActiveMeeting, got.Status)
	require.Equal(t, events.EndActionNone, got.MeetingEndAction)

	// A room ID is cleaned as upstream cleans it.
	b.setStatus(t, room.RoomID, events.StatusOpen)
	got = okData[events.Room](t, b, "s5", events.UpdateStatus{RoomID: " " + room.RoomID + "!", Status: events.StatusClosed}, 200)
	require.Equal(t, events.StatusClosed, got.Status)
}

func TestUpdateRoles(t *testing.T) {
	t.Parallel()
	b := setup(t, workertest.SetupOpts{})
	b.Start(t, workertest.WorkerOpts{})
	room := b.create(t, "c1", events.CreateRoom{})

	before := time.Now().UnixMilli()
	roles := okData[events.Roles](t, b, "r1", events.UpdateRoles{RoomID: room.RoomID, Roles: events.RolesOptions{
		Speaker: &events.RoleOptions{Permissions: map[string]bool{"canRecord": true, "canRetrieveRecordings": false, "chatWrite": false}},
	}}, 200)
	want := events.DefaultRoles()
	sp := &want.Speaker.Permissions
	sp.RecordingControl, sp.RecordingList, sp.RecordingPlay, sp.RecordingDownload, sp.ChatWrite = true, false, false, false, false
	require.Equal(t, want, roles, "deprecated names stored under the current ones; the moderator untouched")

	roles = okData[events.Roles](t, b, "r2", events.UpdateRoles{RoomID: room.RoomID, Roles: events.RolesOptions{
		Moderator: &events.RoleOptions{Permissions: map[string]bool{"meetingEnd": false}},
	}}, 200)
	want.Moderator.Permissions.MeetingEnd = false
	require.Equal(t, want, roles, "partial: the speaker keeps its earlier change")

	stored := b.storedRoom(t, room.RoomID)
	require.Equal(t, want, stored.Roles)
	require.GreaterOrEqual(t, stored.RolesUpdatedAt, before, "rolesUpdatedAt is the update's time")
	require.LessOrEqual(t, stored.RolesUpdatedAt, time.Now().UnixMilli())

	res := failed(t, b, "r3", events.UpdateRoles{RoomID: room.RoomID, Roles: events.RolesOptions{
		Speaker: &events.RoleOptions{Permissions: map[string]bool{"canWriteChat": true, "chatWrite": false}},
	}})
	require.Equal(t, 422, res.Status)
	require.Equal(t, "roles.speaker.permissions.canWriteChat", res.Error.Details[0].Field)
	require.Contains(t, res.Error.Details[0].Message, "roles.speaker.permissions.chatWrite")
}

func TestUpdateAccess(t *testing.T) {
	t.Parallel()
	b := setup(t, workertest.SetupOpts{})
	b.Start(t, workertest.WorkerOpts{})
	room := b.create(t, "c1", events.CreateRoom{})

	before := time.Now().UnixMilli()
	access := okData[events.Access](t, b, "a1", events.UpdateAccess{RoomID: room.RoomID, Access: events.AccessOptions{
		Anonymous: &events.AnonymousAccessOptions{Speaker: &events.SwitchOptions{Enabled: false}, Recording: &events.SwitchOptions{Enabled: false}},
	}}, 200)
	want := room.Access
	want.Anonymous.Speaker.Enabled, want.Anonymous.Recording.Enabled = false, false
	require.Equal(t, want, access, "switches changed, URLs and secrets kept")

	access = okData[events.Access](t, b, "a2", events.UpdateAccess{RoomID: room.RoomID, Access: events.AccessOptions{
		Anonymous: &events.AnonymousAccessOptions{Recording: &events.SwitchOptions{Enabled: true}},
		User:      &events.SwitchOptions{Enabled: false},
	}}, 200)
	want.Anonymous.Recording.Enabled = true
	require.Equal(t, want, access, "partial: the speaker stays off")
	stored := b.storedRoom(t, room.RoomID)
	require.Equal(t, want, stored.Access)
	require.GreaterOrEqual(t, stored.RolesUpdatedAt, before, "upstream dates access changes in rolesUpdatedAt too")

	res := failed(t, b, "a3", events.UpdateAccess{RoomID: room.RoomID, Access: events.AccessOptions{User: &events.SwitchOptions{Enabled: true}}})
	require.Equal(t, 422, res.Status)
	require.Equal(t, "access.user.enabled", res.Error.Details[0].Field)
}

// Config, roles and access cannot change while the room has an active
// meeting (upstream 409 "Room Error"); a room that does not exist is
// upstream's 404; neither writes anything.
func TestUpdatesRefusedDuringMeetingAndForMissingRooms(t *testing.T) {
	t.Parallel()
	b := setup(t, workertest.SetupOpts{})
	b.Start(t, workertest.WorkerOpts{})
	room := b.create(t, "c1", events.CreateRoom{})
	b.setStatus(t, room.RoomID, events.StatusActiveMeeting)
	before := b.storedRoom(t, room.RoomID)

	for _, tc := range []struct {
		id  string
		cmd func(id string) events.Command
	}{
		{"config", func(id string) events.Command {
			return events.UpdateConfig{RoomID: id, Config: events.ConfigOptions{Chat: &events.EnabledOptions{Enabled: ptr(false)}}}
		}},
		{"roles", func(id string) events.Command {
			return events.UpdateRoles{RoomID: id, Roles: events.RolesOptions{Speaker: &events.RoleOptions{Permissions: map[string]bool{"chatRead": false}}}}
		}},
		{"access", func(id string) events.Command {
			return events.UpdateAccess{RoomID: id, Access: events.AccessOptions{Anonymous: &events.AnonymousAccessOptions{Speaker: &events.SwitchOptions{}}}}
		}},
	} {
		res := failed(t, b, "busy-"+tc.id, tc.cmd(room.RoomID))
		require.Equal(t, 409, res.Status, tc.id)
		require.Equal(t, events.CodeConflict, res.Error.Code)
		require.Equal(t, rooms.ErrorNameRoom, res.Error.Name)
		require.Equal(t, `Room "`+room.RoomID+`" has an active meeting`, res.Error.Message)

		res = failed(t, b, "gone-"+tc.id, tc.cmd("nope-aaaaaaaaaaaaaaa"))
		require.Equal(t, 404, res.Status, tc.id)
		require.Equal(t, rooms.ErrorNameRoom, res.Error.Name)
		require.Equal(t, "Room 'nope-aaaaaaaaaaaaaaa' does not exist", res.Error.Message)

		res = failed(t, b, "blank-"+tc.id, tc.cmd("!!"))
		require.Equal(t, 422, res.Status, tc.id)
		require.Equal(t, "roomId", res.Error.Details[0].Field)
	}
	res := failed(t, b, "gone-status", events.UpdateStatus{RoomID: "nope-aaaaaaaaaaaaaaa", Status: events.StatusOpen})
	require.Equal(t, 404, res.Status)

	after := b.storedRoom(t, room.RoomID)
	require.Equal(t, before.Version, after.Version, "nothing written")
	require.Equal(t, before.View(), after.View())

	// Once the meeting is over, the same update goes through.
	b.setStatus(t, room.RoomID, events.StatusOpen)
	okData[events.Config](t, b, "idle-config", events.UpdateConfig{RoomID: room.RoomID, Config: events.ConfigOptions{Chat: &events.EnabledOptions{Enabled: ptr(false)}}}, 200)
}

// A config update reaches the participants of a meeting LiveKit reports
// live (the moment before its room_started turns the room active) with
// upstream's meet_room_config_updated signal; a room without one gets none.
func TestUpdateConfigSignalsALiveMeeting(t *testing.T) {
	t.Parallel()
	b := setup(t, workertest.SetupOpts{})
	lk := &signalMeetings{active: map[string]bool{}}
	b.Rooms.Meetings = lk
	b.Start(t, workertest.WorkerOpts{})
	quiet := b.create(t, "c1", events.CreateRoom{RoomName: ptr("quiet")})
	live := b.create(t, "c2", events.CreateRoom{RoomName: ptr("live")})
	lk.set(func(m *signalMeetings) { m.active[live.RoomID] = true })

	for _, id := range []string{quiet.RoomID, live.RoomID} {
		okData[events.Config](t, b, "u-"+id, events.UpdateConfig{RoomID: id, Config: events.ConfigOptions{
			Captions: &events.EnabledOptions{Enabled: ptr(false)},
		}}, 200)
	}
	require.Empty(t, lk.sentTo(quiet.RoomID))
	sent := lk.sentTo(live.RoomID)
	require.Len(t, sent, 1)
	require.Equal(t, rooms.TopicRoomConfigUpdated, sent[0].topic)
	var payload struct {
		RoomID    string        `json:"roomId"`
		Config    events.Config `json:"config"`
		Timestamp int64         `json:"timestamp"`
	}
	require.NoError(t, json.Unmarshal(sent[0].payload, &payload))
	require.Equal(t, live.RoomID, payload.RoomID)
	require.False(t, payload.Config.Captions.Enabled)
	require.NotZero(t, payload.Timestamp)
}

// An update re-run after a crash has one effect: the redelivery finds the
// room already changed by its command and writes nothing more.
func TestUpdateRolesCrashAfterApplyHasOneEffect(t *testing.T) {
	t.Parallel()
	b := setup(t, workertest.SetupOpts{Topology: func(top *natsapi.Topology) { top.AckWait = time.Second }})
	var crashed atomic.Bool
	b.Start(t, workertest.WorkerOpts{Fault: func(s, id string) bool {
		return s == "applied" && id == "r-crash" && crashed.CompareAndSwap(false, true)
	}})
	room := b.create(t, "c1", events.CreateRoom{})
	version := b.storedRoom(t, room.RoomID).Version
	roles := okData[events.Roles](t, b, "r-crash", events.UpdateRoles{RoomID: room.RoomID, Roles: events.RolesOptions{
		Moderator: &events.RoleOptions{Permissions: map[string]bool{"participantKick": false}},
	}}, 200)
	require.True(t, crashed.Load())
	require.False(t, roles.Moderator.Permissions.ParticipantKick)
	b.settle(t)
	stored := b.storedRoom(t, room.RoomID)
	require.Equal(t, roles, stored.Roles)
	require.Equal(t, version+1, stored.Version, "one write")
	require.Len(t, b.StreamMsgs(t, events.StreamResults, events.ResultSubject("r-crash")), 1)
}

// Each update that changes the room publishes its event, carrying the
// room; an update that changes nothing publishes none.
func TestUpdatesPublishTheirEvents(t *testing.T) {
	t.Parallel()
	b := setup(t, workertest.SetupOpts{})
	b.Start(t, workertest.WorkerOpts{})
	room := b.createRoom(t, "ev-create", events.CreateRoom{})
	off := false
	noChat := events.ConfigOptions{Chat: &events.EnabledOptions{Enabled: &off}}
	cmds := []struct {
		id, eventType string
		cmd           events.Command
	}{
		{"ev-config", events.EventConfigUpdated, events.UpdateConfig{RoomID: room.RoomID, Config: noChat}},
		{"ev-config-again", "", events.UpdateConfig{RoomID: room.RoomID, Config: noChat}},
		{"ev-roles", events.EventRolesUpdated, events.UpdateRoles{RoomID: room.RoomID, Roles: events.RolesOptions{
			Speaker: &events.RoleOptions{Permissions: map[string]bool{"chatWrite": false}}}}},
		{"ev-access", events.EventAccessUpdated, events.UpdateAccess{RoomID: room.RoomID, Access: events.AccessOptions{
			Anonymous: &events.AnonymousAccessOptions{Recording: &events.SwitchOptions{Enabled: false}}}}},
		{"ev-status", events.EventStatusUpdated, events.UpdateStatus{RoomID: room.RoomID, Status: events.StatusClosed}},
		{"ev-status-again", "", events.UpdateStatus{RoomID: room.RoomID, Status: events.StatusClosed}},
	}
	for _, c := range cmds {
		b.Send(t, c.id, c.cmd)
		require.True(t, b.Result(t, c.id).OK, c.id)
	}
	want := map[string][]string{}
	for _, c := range cmds {
		if c.eventType != "" {
			want[c.eventType] = append(want[c.eventType], events.EventID(c.id, c.eventType, room.RoomID))
		}
	}
	for typ, ids := range want {
		var got []string
		for _, ev := range b.eventsFor(t, typ)[room.RoomID] {
			got = append(got, ev.ID)
			var r events.Room
			require.NoError(t, json.Unmarshal(ev.Data, &r))
			require.Equal(t, room.RoomID, r.RoomID)
		}
		require.Equal(t, ids, got, typ)
	}
	closed := b.eventsFor(t, events.EventStatusUpdated)[room.RoomID][0]
	var r events.Room
	require.NoError(t, json.Unmarshal(closed.Data, &r))
	require.Equal(t, events.StatusClosed, r.Status)
}
