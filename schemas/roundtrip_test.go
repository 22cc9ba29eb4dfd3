package schemas_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/schemas"
	"github.com/roomkeeper/roomkeeper/store"
)

// The Go types of the contract, marshaled, must match their schemas, so
// code and schema cannot drift apart.

func sampleRoom() store.Room {
	expires := int64(1764100000000)
	return store.Room{
		RoomID:            "MyRoom-3kq9x2m4p7a1b8c",
		RoomName:          "My Room",
		CreationDate:      1764000000000,
		AutoDeletionDate:  &expires,
		MarkedForDeletion: false,
		Preferences:       events.DefaultPreferences(),
		ModeratorRoomURL:  "http://localhost:8080/room/MyRoom-3kq9x2m4p7a1b8c?secret=m",
		PublisherRoomURL:  "http://localhost:8080/room/MyRoom-3kq9x2m4p7a1b8c?secret=p",
		ModeratorSecret:   "never-in-json-1",
		PublisherSecret:   "never-in-json-2",
		Meeting:           store.MeetingActive,
		Version:           3,
		Applied:           []string{"c1"},
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	raw, err := json.Marshal(v)
	require.NoError(t, err)
	return raw
}

func sampleMeetRoomView() events.Room {
	expires := int64(1764100000000)
	url := "http://localhost:8080/room/my_room-3kq9x2m4p7a1b8c"
	return events.Room{
		RoomID: "my_room-3kq9x2m4p7a1b8c", RoomName: "My Room", Owner: events.OwnerAdmin,
		CreationDate: 1764000000000, AutoDeletionDate: &expires,
		AutoDeletionPolicy: &events.AutoDeletionPolicy{WithMeeting: events.PolicyWhenMeetingEnds, WithRecordings: events.PolicyClose},
		Config:             events.DefaultConfig(), Roles: events.DefaultRoles(),
		Access: events.Access{
			Anonymous: events.AnonymousAccess{
				Moderator: events.Link{Enabled: true, URL: url + "?secret=m"},
				Speaker:   events.Link{Enabled: true, URL: url + "?secret=s"},
				Recording: events.Link{Enabled: false, URL: url + "/recordings?secret=r"},
			},
			User: events.Link{URL: url},
		},
		Status: events.StatusActiveMeeting, RolesUpdatedAt: 1764000000000, MeetingEndAction: events.EndActionClose,
	}
}

// The query replies' Go types match their schemas.
func TestRoundTripQueryReplies(t *testing.T) {
	t.Parallel()
	room := sampleMeetRoomView()
	limited := sampleMeetRoomView()
	limited.AutoDeletionDate, limited.AutoDeletionPolicy = nil, nil
	limited.Config.MaxParticipants, limited.Config.MaxDurationMinutes = ptr(30), ptr(1440)
	limited.Config.Recording.Encoding = json.RawMessage(`{"video":{"width":1280},"audio":{"codec":"AAC"}}`)
	for name, r := range map[string]events.Room{"full": room, "limited": limited} {
		require.NoError(t, schemas.Validate("query.get.reply", mustJSON(t, events.RoomReply{Room: r, ExtraFields: events.RoomExtraFields()})), name)
		require.NoError(t, schemas.Validate("query.config.reply", mustJSON(t, r.Config)), name)
	}
	requireField(t, schemas.Validate("query.get.reply", mustJSON(t, room)), "_extraFields", "is required")
	list := events.ListReply{Rooms: []events.Room{room, limited}, ExtraFields: events.RoomExtraFields(),
		Pagination: events.Pagination{IsTruncated: true, NextPageToken: "x", MaxItems: 2}}
	require.NoError(t, schemas.Validate("query.list.reply", mustJSON(t, list)))
	var m map[string]any
	require.NoError(t, json.Unmarshal(mustJSON(t, list), &m))
	m["rooms"].([]any)[0].(map[string]any)["moderatorSecret"] = "s"
	requireField(t, schemas.Validate("query.list.reply", mustJSON(t, m)), "rooms[0].moderatorSecret", "is not allowed")

	tok := events.ParticipantTokenReply{Token: "t", LiveKitURL: "ws://x", Role: events.RoleSpeaker,
		ParticipantIdentity: "ann-0123456789abcde", Permissions: room.Roles.Speaker.Permissions}
	require.NoError(t, schemas.Validate("query.participant_token.reply", mustJSON(t, tok)))
	e := events.Errorf(events.CodeConflict, "closed")
	require.NoError(t, schemas.Validate(schemas.QueryError, mustJSON(t, events.ErrorReply{Status: e.HTTPStatus(), Error: e})))
}

func ptr[T any](v T) *T { return &v }

func TestRoundTripCommands(t *testing.T) {
	t.Parallel()
	name := "My Room"
	expires := int64(1764100000000)
	prefs := events.DefaultPreferences()
	for _, cmd := range []events.Command{
		events.CreateRoom{},
		events.CreateRoom{RoomName: &name, AutoDeletionDate: &expires, Preferences: &prefs},
		events.DeleteRooms{RoomIDs: []string{"MyRoom-3kq9x2m4p7a1b8c"}},
		events.DeleteRooms{RoomIDs: []string{"a", "b"}, Force: true},
		events.DeleteRooms{RoomIDs: []string{"a"}, WithMeeting: events.PolicyWhenMeetingEnds, WithRecordings: events.PolicyClose},
		events.UpdatePreferences{RoomID: "MyRoom-3kq9x2m4p7a1b8c", Preferences: prefs},
		events.Sweep{},
		events.UpdateConfig{RoomID: "r", Config: events.ConfigOptions{MaxParticipants: events.Null[int](), MaxDurationMinutes: events.Some(60)}},
		events.UpdateConfig{RoomID: "r"},
		events.UpdateStatus{RoomID: "r", Status: events.StatusClosed},
		events.UpdateRoles{RoomID: "r", Roles: events.RolesOptions{Speaker: &events.RoleOptions{Permissions: map[string]bool{"canRecord": true}}}},
		events.UpdateRoles{RoomID: "r"},
		events.UpdateAccess{RoomID: "r", Access: events.AccessOptions{User: &events.SwitchOptions{}}},
		events.UpdateAccess{RoomID: "r"},
	} {
		require.NoError(t, schemas.ValidateCommand(cmd.Subject(), mustJSON(t, cmd)), "%#v", cmd)
	}
	// A delete built without room IDs marshals them as null.
	requireField(t, schemas.ValidateCommand(events.SubjectDelete, mustJSON(t, events.DeleteRooms{})), "roomIds", "must be an array")
}

func TestRoundTripResults(t *testing.T) {
	t.Parallel()
	ok := func(typ string, data any) events.Result {
		return events.Result{CommandID: "cmd-1", Type: typ, OK: true, Data: mustJSON(t, data)}
	}
	stored := sampleRoom()
	room := stored.View()
	valid := map[string]events.Result{
		"create":             ok(events.SubjectCreate, sampleMeetView()),
		"update_preferences": ok(events.SubjectUpdatePreferences, sampleMeetView()),
		"delete":             ok(events.SubjectDelete, events.DeleteResult{Deleted: []events.DeletedRoom{{RoomID: "a-123456789012345", SuccessCode: events.DeleteSuccessRoomDeleted, Message: "Room 'a-123456789012345' deleted successfully"}}, Failed: []events.FailedRoom{}}),
		"delete with a room and a failure": ok(events.SubjectDelete, events.DeleteResult{
			Message: "1 room(s) failed to process while deleting",
			Deleted: []events.DeletedRoom{{RoomID: "a-123456789012345", SuccessCode: events.DeleteSuccessRoomClosed, Message: "m", Room: func() *events.Room { v := sampleMeetView(); return &v }()}},
			Failed:  []events.FailedRoom{{RoomID: "b", Error: events.DeleteErrorRoom, Message: "Room 'b' does not exist"}},
		}),
		"sweep": ok(events.SubjectSweep, events.SweepResult{Expired: 3, DeleteCommands: 3, Reconciled: 1}),
		"not found": {CommandID: "seq-42", Type: events.SubjectUpdatePreferences,
			Error: events.Errorf(events.CodeNotFound, "room %s not found", "x")},
		"unknown type": {CommandID: "seq-43", Type: "rooms.cmd.frobnicate",
			Error: events.Errorf(events.CodeInvalidArgument, "unknown command type")},
	}
	// The error ValidateCommand returns is itself a valid result error.
	verr := schemas.ValidateCommand(events.SubjectCreate, []byte(`{"roomName":1,"preferences":{}}`))
	e, isErr := events.AsError(verr)
	require.True(t, isErr)
	valid["validation error"] = events.Result{CommandID: "c-2", Type: events.SubjectCreate, Error: e}
	for name, r := range valid {
		require.NoError(t, schemas.Validate(schemas.Result, mustJSON(t, r)), name)
		require.NoError(t, schemas.Validate(schemas.Result, mustJSON(t, &r)), name)
	}

	invalid := map[string]struct {
		r     events.Result
		field string
	}{
		"create data not a room": {ok(events.SubjectCreate, events.SweepResult{}), "data.roomId"},
		"ok without data":        {events.Result{CommandID: "c", Type: events.SubjectSweep, OK: true}, "data"},
		"failed without error":   {events.Result{CommandID: "c", Type: events.SubjectSweep}, "error"},
		"unknown error code":     {events.Result{CommandID: "c", Type: events.SubjectSweep, Error: events.Errorf("oops", "x")}, "error.code"},
		"type not a command":     {ok("create", room), "type"},
		"bad command ID":         {events.Result{CommandID: "a b", Type: events.SubjectSweep, Error: events.Errorf(events.CodeInternal, "x")}, "commandId"},
		// Nil slices marshal as null: build delete results with empty ones.
		"delete result with nil slices": {ok(events.SubjectDelete, events.DeleteResult{}), "data.deleted"},
		"delete with an unknown code":   {ok(events.SubjectDelete, events.DeleteResult{Deleted: []events.DeletedRoom{{RoomID: "a", SuccessCode: "room_gone", Message: "m"}}, Failed: []events.FailedRoom{}}), "data.deleted[0].successCode"},
	}
	for name, tt := range invalid {
		t.Run(name, func(t *testing.T) {
			requireField(t, schemas.Validate(schemas.Result, mustJSON(t, tt.r)), tt.field, "")
		})
	}
}

func TestRoundTripEvents(t *testing.T) {
	t.Parallel()
	stored := sampleRoom()
	room := stored.View()
	at := time.Date(2026, 11, 25, 17, 20, 0, 123456789, time.FixedZone("CET", 3600))
	data := map[string]any{
		events.EventCreated:            sampleMeetView(),
		events.EventPreferencesUpdated: sampleMeetView(),
		events.EventConfigUpdated:      sampleMeetView(),
		events.EventStatusUpdated:      sampleMeetView(),
		events.EventRolesUpdated:       sampleMeetView(),
		events.EventAccessUpdated:      sampleMeetView(),
		events.EventDeleted:            map[string]any{"roomId": room.RoomID, "roomName": room.RoomName, "forced": true},
		events.EventMeetingStarted:     map[string]string{"roomId": room.RoomID},
		events.EventMeetingEnded:       map[string]string{"roomId": room.RoomID},
		events.EventDeletionScheduled:  sampleMeetView(),
		events.EventClosed:             sampleMeetView(),
		events.EventRecordingDeleted: (&store.Recording{EgressID: "EG_1", RoomID: room.RoomID, Status: store.RecordingComplete,
			Filename: "f.mp4", StartDate: 1, EndDate: 2, Duration: 1.5, Size: 10}).View(),
	}
	require.ElementsMatch(t, schemas.EventTypes, func() []string {
		var ks []string
		for k := range data {
			ks = append(ks, k)
		}
		return ks
	}())
	for typ, d := range data {
		ev, err := events.NewEvent("cmd-1", typ, room.RoomID, at, d)
		require.NoError(t, err)
		require.NoError(t, schemas.Validate(schemas.Event, mustJSON(t, ev)), typ)
		name, ok := schemas.SchemaFor(events.EventSubject(ev.ShortType()))
		require.True(t, ok)
		require.Equal(t, schemas.Event, name)
	}

	// The data must fit the type.
	ev, err := events.NewEvent("cmd-1", events.EventCreated, room.RoomID, at, map[string]string{"roomId": room.RoomID})
	require.NoError(t, err)
	requireField(t, schemas.Validate(schemas.Event, mustJSON(t, ev)), "data.roomName", "is required")
	ev, err = events.NewEvent("cmd-1", events.EventDeleted, room.RoomID, at, room)
	require.NoError(t, err)
	requireField(t, schemas.Validate(schemas.Event, mustJSON(t, ev)), "data.creationDate", "is not allowed")
	ev, err = events.NewEvent("cmd-1", "exploded", room.RoomID, at, room)
	require.NoError(t, err)
	requireField(t, schemas.Validate(schemas.Event, mustJSON(t, ev)), "type", "")
}

func TestRoundTripQueryError(t *testing.T) {
	t.Parallel()
	reply := map[string]any{"error": events.Errorf(events.CodeInvalidSecret, "invalid secret")}
	require.NoError(t, schemas.Validate(schemas.QueryError, mustJSON(t, reply)))
	verr := schemas.ValidateQuery(events.APIList, []byte(`{"maxItems":0}`))
	e, _ := events.AsError(verr)
	require.NoError(t, schemas.Validate(schemas.QueryError, mustJSON(t, map[string]any{"error": e})))
}

func TestNamesAndSubjects(t *testing.T) {
	t.Parallel()
	names := schemas.Names()
	require.IsNonDecreasing(t, names)
	for _, n := range names {
		raw, err := schemas.File(n)
		require.NoError(t, err)
		var doc map[string]any
		require.NoError(t, json.Unmarshal(raw, &doc), n)
		require.Equal(t, "https://json-schema.org/draft/2020-12/schema", doc["$schema"], n)
		require.NotEmpty(t, doc["title"], n)
	}
	_, err := schemas.File("nope")
	require.ErrorIs(t, err, schemas.ErrUnknownSchema)

	subjects := schemas.Subjects()
	require.IsNonDecreasing(t, subjects)
	for _, s := range subjects {
		_, ok := schemas.SchemaFor(s)
		require.True(t, ok, s)
		switch {
		case strings.HasPrefix(s, events.CommandPrefix):
			require.NoError(t, schemas.ValidateCommand(s, []byte(`{"roomIds":["a"],"roomId":"a","preferences":`+validPrefs+`,"config":{},"status":"open","roles":{},"access":{}}`)), s)
		case strings.HasPrefix(s, "rooms.api."):
			require.NoError(t, schemas.ValidateQuery(s, []byte(`{"roomId":"a","secret":"s","participantName":"n","state":"done"}`)), s)
			_, ok := schemas.ReplySchemaFor(s)
			require.True(t, ok, s)
		}
	}
	for _, s := range []string{events.ResultSubject("x"), "livekit.webhook.participant_joined"} {
		_, ok := schemas.SchemaFor(s)
		require.True(t, ok, s)
	}
	for _, s := range []string{"rooms.cmd.frobnicate", "rooms.events.exploded", "rooms.results.", "other"} {
		_, ok := schemas.SchemaFor(s)
		require.False(t, ok, s)
	}
}

func BenchmarkValidateCommand(b *testing.B) {
	body := []byte(`{"roomName":"My Room","autoDeletionDate":1900000000000,"preferences":` + validPrefs + `}`)
	bad := []byte(`{"roomName":12,"preferences":{"chatPreferences":{"enabled":"yes"}}}`)
	require.NoError(b, schemas.ValidateCommand(events.SubjectCreate, body))
	b.Run("valid create", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := schemas.ValidateCommand(events.SubjectCreate, body); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("invalid create", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := schemas.ValidateCommand(events.SubjectCreate, bad); err == nil {
				b.Fatal("valid")
			}
		}
	})
	b.Run("valid create parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := schemas.ValidateCommand(events.SubjectCreate, body); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
}
