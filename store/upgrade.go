package store

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"github.com/roomkeeper/roomkeeper/events"
)

// UpgradeRoom brings a record written in an older shape (SchemaVersion
// below RoomSchemaVersion) to the current one, in place, and reports
// whether it changed anything; a current record is left alone. Both stores
// call it on every room they read, and at their one-off migrations (the
// SQLite schema step to version 4, the MongoDB pass at Open), so a record
// of any age reads in the current shape.
//
// From version 0 (the model before OpenVidu Meet's config, roles and
// access), as upstream's own room migrations did:
//
//   - config: DefaultConfig with preferences' chat, recording.enabled and
//     virtualBackground;
//   - roles: DefaultRoles, with recordingPreferences.allowAccessTo mapped
//     onto the recording permissions (list, play, download):
//     admin-moderator-publisher keeps them for both roles, admin-moderator
//     takes them from the speaker, admin takes them from both (only the
//     admin, an API-key caller, reaches recordings);
//   - access: the moderator link stays (ModeratorSecret); the publisher
//     link becomes the anonymous speaker link (SpeakerSecret =
//     PublisherSecret); a recording link at <base>/room/<id>/recordings,
//     with a secret of its own; user access off;
//   - status: active_meeting while LiveKit reports the meeting active,
//     else open; meetingEndAction: delete when the room was marked for
//     deletion (the old model deleted it once its meeting ended), else
//     none;
//   - owner admin, rolesUpdatedAt = creationDate, autoDeletionPolicy the
//     default when the room has an autoDeletionDate.
//
// The old fields are kept as they are. UpgradeRoom is a pure function of
// the record, so every reader, process and store derives the same room;
// that is why the recording link's secret is derived from the room's
// existing secrets (see recordingSecret) rather than drawn at random: a
// random one would change at every read of a record not yet rewritten.
func UpgradeRoom(r *Room) bool {
	if r.SchemaVersion >= RoomSchemaVersion {
		return false
	}
	p := r.Preferences

	r.Config = events.DefaultConfig()
	r.Config.Chat.Enabled = p.ChatPreferences.Enabled
	r.Config.Recording.Enabled = p.RecordingPreferences.Enabled
	r.Config.VirtualBackground.Enabled = p.VirtualBackgroundPreferences.Enabled

	r.Roles = events.DefaultRoles()
	switch p.RecordingPreferences.AllowAccessTo {
	case events.AccessAdmin:
		revokeRecordingAccess(&r.Roles.Moderator.Permissions)
		revokeRecordingAccess(&r.Roles.Speaker.Permissions)
	case events.AccessAdminModerator:
		revokeRecordingAccess(&r.Roles.Speaker.Permissions)
	}

	base := baseURL(r.ModeratorRoomURL)
	r.SpeakerSecret = r.PublisherSecret
	r.RecordingSecret = recordingSecret(r)
	r.Access = events.Access{
		Anonymous: events.AnonymousAccess{
			Moderator: events.Link{Enabled: true, URL: r.ModeratorRoomURL},
			Speaker:   events.Link{Enabled: true, URL: r.PublisherRoomURL},
			Recording: events.Link{
				Enabled: r.RecordingSecret != "",
				URL:     base + "/room/" + r.RoomID + "/recordings?secret=" + r.RecordingSecret,
			},
		},
		User: events.Link{Enabled: false, URL: base + "/room/" + r.RoomID},
	}

	r.Status = events.StatusOpen
	if r.Meeting == MeetingActive {
		r.Status = events.StatusActiveMeeting
	}
	r.MeetingEndAction = events.EndActionNone
	if r.MarkedForDeletion {
		r.MeetingEndAction = events.EndActionDelete
	}
	r.Owner = events.OwnerAdmin
	r.RolesUpdatedAt = r.CreationDate
	r.AutoDeletionPolicy = nil
	if r.AutoDeletionDate != nil {
		policy := events.DefaultAutoDeletionPolicy()
		r.AutoDeletionPolicy = &policy
	}
	r.SchemaVersion = RoomSchemaVersion
	return true
}

// revokeRecordingAccess takes from p what allowAccessTo governed: seeing
// the room's recordings (listing, playing, downloading them).
func revokeRecordingAccess(p *events.Permissions) {
	p.RecordingList = false
	p.RecordingPlay = false
	p.RecordingDownload = false
}

// baseURL is the part of a room link before "/room/" (the deployment's
// base URL the link was built on), or "" when it has none.
func baseURL(link string) string {
	if i := strings.LastIndex(link, "/room/"); i >= 0 {
		return link[:i]
	}
	return ""
}

// recordingSecret is the secret of an upgraded room's recording link:
// 128 bits of an HMAC-SHA256 keyed with the room's moderator and publisher
// secrets, over the room ID. It is new (it opens no other link), cannot be
// guessed without those secrets, and cannot be turned back into them; a
// holder of the moderator link, who may see the recordings anyway, could
// derive it. Empty (and the link disabled) for a record without secrets.
func recordingSecret(r *Room) string {
	if r.ModeratorSecret == "" && r.PublisherSecret == "" {
		return ""
	}
	mac := hmac.New(sha256.New, []byte(r.ModeratorSecret+"\x00"+r.PublisherSecret))
	_, _ = mac.Write([]byte("roomkeeper recording link v1\x00" + r.RoomID))
	return hex.EncodeToString(mac.Sum(nil)[:16])
}
