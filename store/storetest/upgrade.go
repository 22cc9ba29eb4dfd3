package storetest

import (
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/store"
)

// OldRooms are rooms of the record shape before issue 15 (SchemaVersion 0,
// none of the new fields), as the version before it wrote them: every
// combination of allowAccessTo, marked for deletion and meeting status
// the upgrade maps differently.
func OldRooms() []*store.Room {
	old := func(id string, access string, marked bool, meeting string, dated bool, prefs func(*events.Preferences)) *store.Room {
		r := &store.Room{
			RoomID:            id,
			RoomName:          "Old " + id,
			CreationDate:      1_700_000_000_000 + int64(len(id)),
			MarkedForDeletion: marked,
			Preferences:       events.DefaultPreferences(),
			ModeratorRoomURL:  "https://meet.example/base/room/" + id + "?secret=mod-" + id,
			PublisherRoomURL:  "https://meet.example/base/room/" + id + "?secret=pub-" + id,
			ModeratorSecret:   "mod-" + id,
			PublisherSecret:   "pub-" + id,
			Meeting:           meeting,
			Version:           3,
			Applied:           []string{"create-" + id},
		}
		r.Preferences.RecordingPreferences.AllowAccessTo = access
		if dated {
			r.AutoDeletionDate = ptr(int64(1_900_000_000_000))
		}
		if prefs != nil {
			prefs(&r.Preferences)
		}
		return r
	}
	return []*store.Room{
		old("Old1-aaaaaaaaaaaaaaa", events.AccessAdminModeratorPublisher, false, store.MeetingActive, true, nil),
		old("Old2-aaaaaaaaaaaaaaa", events.AccessAdminModerator, true, store.MeetingNone, false, func(p *events.Preferences) {
			p.ChatPreferences.Enabled = false
		}),
		old("Old3-aaaaaaaaaaaaaaa", events.AccessAdmin, true, store.MeetingActive, true, func(p *events.Preferences) {
			p.RecordingPreferences.Enabled = false
			p.VirtualBackgroundPreferences.Enabled = false
		}),
		old("Old4-aaaaaaaaaaaaaaa", "", false, store.MeetingEnded, false, nil),
	}
}

// RequireUpgraded fails t unless got is old (a room of OldRooms) read back
// in the current record shape: its old fields as they were, and the new
// ones derived from them as upstream's migrations did.
func RequireUpgraded(t testing.TB, old, got *store.Room) {
	t.Helper()
	require.NotNil(t, got)
	id := old.RoomID

	// The old fields are kept.
	kept := *got
	kept.SchemaVersion, kept.Owner, kept.AutoDeletionPolicy = 0, "", nil
	kept.Config, kept.Roles, kept.Access = events.Config{}, events.Roles{}, events.Access{}
	kept.Status, kept.RolesUpdatedAt, kept.MeetingEndAction = "", 0, ""
	kept.SpeakerSecret, kept.RecordingSecret = "", ""
	RequireRoomEqual(t, old, &kept, "old fields of %s", id)

	require.Equal(t, store.RoomSchemaVersion, got.SchemaVersion, id)
	require.Equal(t, events.OwnerAdmin, got.Owner, id)
	require.Equal(t, old.CreationDate, got.RolesUpdatedAt, id)

	p := old.Preferences
	require.Equal(t, events.Config{
		Chat:              events.Enabled{Enabled: p.ChatPreferences.Enabled},
		Recording:         events.RecordingConfig{Enabled: p.RecordingPreferences.Enabled, Layout: events.LayoutGrid, Encoding: json.RawMessage(`"H264_720P_30"`)},
		VirtualBackground: events.Enabled{Enabled: p.VirtualBackgroundPreferences.Enabled},
		E2EE:              events.Enabled{Enabled: false},
		Captions:          events.Enabled{Enabled: true},
	}, got.Config, "config of %s", id)

	// allowAccessTo: who may list, play and download the recordings.
	moderatorSees := p.RecordingPreferences.AllowAccessTo != events.AccessAdmin
	speakerSees := p.RecordingPreferences.AllowAccessTo == events.AccessAdminModeratorPublisher ||
		p.RecordingPreferences.AllowAccessTo == ""
	for _, role := range []struct {
		name      string
		got, want events.Permissions
		sees      bool
	}{
		{"moderator", got.Roles.Moderator.Permissions, events.DefaultRoles().Moderator.Permissions, moderatorSees},
		{"speaker", got.Roles.Speaker.Permissions, events.DefaultRoles().Speaker.Permissions, speakerSees},
	} {
		want := role.want
		want.RecordingList, want.RecordingPlay, want.RecordingDownload = role.sees, role.sees, role.sees
		require.Equal(t, want, role.got, "%s permissions of %s (allowAccessTo %q)", role.name, id, p.RecordingPreferences.AllowAccessTo)
	}

	// The publisher link is the speaker link; the recording link is new.
	base := "https://meet.example/base"
	require.Equal(t, old.PublisherSecret, got.SpeakerSecret, id)
	require.Len(t, got.RecordingSecret, 32, "a 128-bit recording secret for %s", id)
	_, err := hex.DecodeString(got.RecordingSecret)
	require.NoError(t, err)
	require.NotContains(t, []string{old.ModeratorSecret, old.PublisherSecret}, got.RecordingSecret)
	require.Equal(t, events.Access{
		Anonymous: events.AnonymousAccess{
			Moderator: events.Link{Enabled: true, URL: old.ModeratorRoomURL},
			Speaker:   events.Link{Enabled: true, URL: old.PublisherRoomURL},
			Recording: events.Link{Enabled: true, URL: base + "/room/" + id + "/recordings?secret=" + got.RecordingSecret},
		},
		User: events.Link{Enabled: false, URL: base + "/room/" + id},
	}, got.Access, "access of %s", id)

	wantStatus := events.StatusOpen
	if old.Meeting == store.MeetingActive {
		wantStatus = events.StatusActiveMeeting
	}
	require.Equal(t, wantStatus, got.Status, id)
	wantEnd := events.EndActionNone
	if old.MarkedForDeletion {
		wantEnd = events.EndActionDelete
	}
	require.Equal(t, wantEnd, got.MeetingEndAction, id)
	if old.AutoDeletionDate != nil {
		require.Equal(t, &events.AutoDeletionPolicy{WithMeeting: events.PolicyWhenMeetingEnds, WithRecordings: events.PolicyClose},
			got.AutoDeletionPolicy, id)
	} else {
		require.Nil(t, got.AutoDeletionPolicy, id)
	}
}

// testUpgradeOnRead: rooms given in the old shape (InsertRoom with
// SchemaVersion 0, as the code before issue 15 builds them) read back in
// the current one through every read, the same at every read, and are
// found by the status they have in it; once updated, they are stored in it.
func testUpgradeOnRead(t *testing.T, s store.Store) {
	ctx := t.Context()
	olds := OldRooms()
	insertRooms(t, s, olds...)

	for _, old := range olds {
		got, err := s.GetRoom(ctx, old.RoomID)
		require.NoError(t, err)
		RequireUpgraded(t, old, got)
		again, err := s.GetRoom(ctx, old.RoomID)
		require.NoError(t, err)
		RequireRoomEqual(t, got, again, "a second read of %s differs", old.RoomID)
	}
	secrets := map[string]bool{}
	listed, err := s.ListRooms(ctx, "", 100)
	require.NoError(t, err)
	require.Len(t, listed, len(olds))
	for i := range listed {
		r := &listed[i]
		got, err := s.GetRoom(ctx, r.RoomID)
		require.NoError(t, err)
		RequireRoomEqual(t, got, r, "ListRooms and GetRoom differ")
		secrets[r.RecordingSecret] = true
	}
	require.Len(t, secrets, len(olds), "rooms share a recording secret")
	found, err := s.FindRooms(ctx, store.RoomQuery{Name: "old", NameMatch: store.MatchPrefix, NameCaseInsensitive: true, Limit: 10})
	require.NoError(t, err)
	require.Len(t, found, len(olds))
	for i := range found {
		RequireUpgraded(t, roomByID(olds, found[i].RoomID), &found[i])
	}
	// The status filter sees the upgraded status.
	found, err = s.FindRooms(ctx, store.RoomQuery{Status: events.StatusActiveMeeting, Limit: 10})
	require.NoError(t, err)
	require.ElementsMatch(t, []string{olds[0].RoomID, olds[2].RoomID}, ids(found))
	found, err = s.FindRooms(ctx, store.RoomQuery{Status: events.StatusOpen, Limit: 10})
	require.NoError(t, err)
	require.ElementsMatch(t, []string{olds[1].RoomID, olds[3].RoomID}, ids(found))

	// An update stores the current shape, which then reads as written.
	r, err := s.GetRoom(ctx, olds[0].RoomID)
	require.NoError(t, err)
	r.Status = events.StatusClosed
	r.Config.Chat.Enabled = !r.Config.Chat.Enabled
	r.Access.Anonymous.Recording.Enabled = false
	require.NoError(t, s.UpdateRoom(ctx, r, r.Version))
	got, err := s.GetRoom(ctx, r.RoomID)
	require.NoError(t, err)
	RequireRoomEqual(t, r, got)
	require.True(t, strings.HasSuffix(got.Access.Anonymous.Recording.URL, got.RecordingSecret))
}
