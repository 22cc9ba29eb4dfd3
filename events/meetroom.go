package events

import "encoding/json"

// This file is OpenVidu Meet's room model as roomkeeper serves it (issue
// 15): the room's config, roles, access, status and deletion policies.
// JSON names are upstream's (openvidu-meet typings, MeetRoom and friends).

// Room statuses (upstream MeetRoomStatus).
const (
	StatusOpen          = "open"
	StatusActiveMeeting = "active_meeting"
	StatusClosed        = "closed"
)

// What happens to a room when its meeting ends (upstream MeetingEndAction).
const (
	EndActionNone   = "none"
	EndActionClose  = "close"
	EndActionDelete = "delete"
)

// Deletion policies of a room with a live meeting and of a room with
// recordings (upstream MeetRoomDeletionPolicyWithMeeting and
// MeetRoomDeletionPolicyWithRecordings). PolicyFail is for explicit
// deletes only; an autoDeletionPolicy may not say fail.
const (
	PolicyForce           = "force"
	PolicyWhenMeetingEnds = "when_meeting_ends"
	PolicyClose           = "close"
	PolicyFail            = "fail"
)

// Recording layouts.
const (
	LayoutGrid          = "grid"
	LayoutSpeaker       = "speaker"
	LayoutSingleSpeaker = "single-speaker"
)

// AutoDeletionPolicy says how an expired room is deleted.
type AutoDeletionPolicy struct {
	// WithMeeting: force | when_meeting_ends.
	WithMeeting string `json:"withMeeting"`
	// WithRecordings: force | close.
	WithRecordings string `json:"withRecordings"`
}

// DefaultAutoDeletionPolicy is the policy of a room with an
// autoDeletionDate and no policy: delete when its meeting ends, close it
// (keeping its recordings) when it has recordings.
func DefaultAutoDeletionPolicy() AutoDeletionPolicy {
	return AutoDeletionPolicy{WithMeeting: PolicyWhenMeetingEnds, WithRecordings: PolicyClose}
}

// Enabled is a feature switch of a room's config.
type Enabled struct {
	Enabled bool `json:"enabled"`
}

// RecordingConfig is the recording part of a room's config.
type RecordingConfig struct {
	Enabled bool `json:"enabled"`
	// Layout: grid | speaker | single-speaker.
	Layout string `json:"layout,omitempty"`
	// Encoding is a preset name (a JSON string, e.g. "H264_720P_30") or an
	// object of video and audio options, kept as given once validated.
	Encoding json.RawMessage `json:"encoding,omitempty"`
}

// Config is a room's config (upstream MeetRoomConfig). MaxParticipants
// (1..30) and MaxDurationMinutes (1..1440) are null when unlimited.
type Config struct {
	Chat               Enabled         `json:"chat"`
	Recording          RecordingConfig `json:"recording"`
	VirtualBackground  Enabled         `json:"virtualBackground"`
	E2EE               Enabled         `json:"e2ee"`
	Captions           Enabled         `json:"captions"`
	MaxParticipants    *int            `json:"maxParticipants"`
	MaxDurationMinutes *int            `json:"maxDurationMinutes"`
}

// DefaultConfig is the config of a room created without one.
func DefaultConfig() Config {
	return Config{
		Chat:              Enabled{true},
		Recording:         RecordingConfig{Enabled: true, Layout: LayoutGrid, Encoding: json.RawMessage(`"H264_720P_30"`)},
		VirtualBackground: Enabled{true},
		E2EE:              Enabled{false},
		Captions:          Enabled{true},
	}
}

// Permissions of a room role (upstream MeetRoomMemberPermissions, current
// key names).
type Permissions struct {
	RecordingControl             bool `json:"recordingControl"`
	RecordingList                bool `json:"recordingList"`
	RecordingPlay                bool `json:"recordingPlay"`
	RecordingDownload            bool `json:"recordingDownload"`
	RecordingDelete              bool `json:"recordingDelete"`
	MeetingJoin                  bool `json:"meetingJoin"`
	RoomShareAccessLinks         bool `json:"roomShareAccessLinks"`
	ParticipantPromote           bool `json:"participantPromote"`
	ParticipantKick              bool `json:"participantKick"`
	MeetingEnd                   bool `json:"meetingEnd"`
	MediaPublishVideo            bool `json:"mediaPublishVideo"`
	MediaPublishAudio            bool `json:"mediaPublishAudio"`
	MediaShareScreen             bool `json:"mediaShareScreen"`
	ChatRead                     bool `json:"chatRead"`
	ChatWrite                    bool `json:"chatWrite"`
	MediaChangeVirtualBackground bool `json:"mediaChangeVirtualBackground"`
}

// Role is a room role: its permissions.
type Role struct {
	Permissions Permissions `json:"permissions"`
}

// Roles of a room: moderator and speaker.
type Roles struct {
	Moderator Role `json:"moderator"`
	Speaker   Role `json:"speaker"`
}

// DefaultRoles are upstream's: a moderator may do everything; a speaker
// joins, publishes, chats and watches recordings, but does not record,
// delete recordings, share links, promote, kick or end the meeting.
func DefaultRoles() Roles {
	return Roles{
		Moderator: Role{Permissions{
			RecordingControl: true, RecordingList: true, RecordingPlay: true, RecordingDownload: true,
			RecordingDelete: true, MeetingJoin: true, RoomShareAccessLinks: true, ParticipantPromote: true,
			ParticipantKick: true, MeetingEnd: true, MediaPublishVideo: true, MediaPublishAudio: true,
			MediaShareScreen: true, ChatRead: true, ChatWrite: true, MediaChangeVirtualBackground: true,
		}},
		Speaker: Role{Permissions{
			RecordingList: true, RecordingPlay: true, RecordingDownload: true, MeetingJoin: true,
			MediaPublishVideo: true, MediaPublishAudio: true, MediaShareScreen: true,
			ChatRead: true, ChatWrite: true, MediaChangeVirtualBackground: true,
		}},
	}
}

// Link is an access link: whether it lets people in, and its URL (which
// holds the link's secret).
type Link struct {
	Enabled bool   `json:"enabled"`
	URL     string `json:"url"`
}

// AnonymousAccess are the anonymous links of a room: as moderator, as
// speaker, and to its recordings.
type AnonymousAccess struct {
	Moderator Link `json:"moderator"`
	Speaker   Link `json:"speaker"`
	Recording Link `json:"recording"`
}

// Access of a room (upstream MeetRoomAccess). User access (Meet user
// accounts) is out of roomkeeper's scope and always off.
type Access struct {
	Anonymous AnonymousAccess `json:"anonymous"`
	User      Link            `json:"user"`
}

// Room is a room in OpenVidu Meet's current model (upstream MeetRoom),
// as other services see it. Owner is always "admin": API-key callers act as
// the admin, and Meet user accounts are out of scope.
type Room struct {
	RoomID             string              `json:"roomId"`
	RoomName           string              `json:"roomName"`
	Owner              string              `json:"owner"`
	CreationDate       int64               `json:"creationDate"`
	AutoDeletionDate   *int64              `json:"autoDeletionDate,omitempty"`
	AutoDeletionPolicy *AutoDeletionPolicy `json:"autoDeletionPolicy,omitempty"`
	Config             Config              `json:"config"`
	Roles              Roles               `json:"roles"`
	Access             Access              `json:"access"`
	Status             string              `json:"status"`
	RolesUpdatedAt     int64               `json:"rolesUpdatedAt"`
	MeetingEndAction   string              `json:"meetingEndAction"`
}

// OwnerAdmin is the owner of every room: API-key callers act as the admin.
const OwnerAdmin = "admin"
