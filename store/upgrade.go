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
// A record of version 0 that already has a status (no record of the old
// model has one) was built in the current model by a writer that left
// SchemaVersion unset: it only gets its version, and keeps its fields.
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
	if r.Status != "" {
		r.SchemaVersion = RoomSchemaVersion
		return true
	}
	r.Config = events.DefaultConfig()
	r.Roles = events.DefaultRoles()
	ApplyPreferences(&r.Config, &r.Roles, r.Preferences)

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

// ApplyPreferences sets what the old model's preferences govern in the new
// one: chat, recording and virtual backgrounds on or off in cfg, and who
// may see the recordings (allowAccessTo) in the roles' recording list, play
// and download permissions. The migration of old records and the
// deprecated rooms.cmd.update_preferences both use it.
func ApplyPreferences(cfg *events.Config, roles *events.Roles, p events.Preferences) {
	cfg.Chat.Enabled = p.ChatPreferences.Enabled
	cfg.Recording.Enabled = p.RecordingPreferences.Enabled
	cfg.VirtualBackground.Enabled = p.VirtualBackgroundPreferences.Enabled
	if cfg.Recording.Enabled && cfg.E2EE.Enabled {
		cfg.Recording.Enabled = false // e2ee forces recording off
	}
	grantRecordingAccess(&roles.Moderator.Permissions)
	grantRecordingAccess(&roles.Speaker.Permissions)
	switch p.RecordingPreferences.AllowAccessTo {
	case events.AccessAdmin:
		revokeRecordingAccess(&roles.Moderator.Permissions)
		revokeRecordingAccess(&roles.Speaker.Permissions)
	case events.AccessAdminModerator:
		revokeRecordingAccess(&roles.Speaker.Permissions)
	}
}

// grantRecordingAccess gives p what allowAccessTo governs.
func grantRecordingAccess(p *events.Permissions) {
	p.RecordingList, p.RecordingPlay, p.RecordingDownload = true, true, true
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
