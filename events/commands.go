package events

import (
	"bytes"
	"encoding/json"
)

// Command is a command body; its subject says where it is published.
type Command interface {
	Subject() string
}

// CreateRoom is the body of rooms.cmd.create: upstream's room options
// (MeetRoomOptions, the REST POST /rooms body). Every field is optional;
// partial config, roles and access are merged with the defaults.
type CreateRoom struct {
	// RoomName (≤ 50 characters; null or absent: "Room") is trimmed and
	// its whitespace runs collapsed; the room ID derives from it.
	RoomName *string `json:"roomName,omitempty"`
	// AutoDeletionDate (epoch ms) lies at least an hour ahead.
	AutoDeletionDate *int64 `json:"autoDeletionDate,omitempty"`
	// AutoDeletionPolicy applies only with an AutoDeletionDate; its absent
	// fields take DefaultAutoDeletionPolicy's.
	AutoDeletionPolicy *AutoDeletionPolicyOptions `json:"autoDeletionPolicy,omitempty"`
	Config             *ConfigOptions             `json:"config,omitempty"`
	Roles              *RolesOptions              `json:"roles,omitempty"`
	Access             *AccessOptions             `json:"access,omitempty"`
	// Preferences is the old model's (deprecated): when set, its chat,
	// recording and virtual background switches replace the defaults
	// before Config is merged.
	Preferences *Preferences `json:"preferences,omitempty"`
}

// Subject of the command.
func (CreateRoom) Subject() string { return SubjectCreate }

// AutoDeletionPolicyOptions is a partial AutoDeletionPolicy: withMeeting
// force | when_meeting_ends, withRecordings force | close (fail is for
// explicit deletes only).
type AutoDeletionPolicyOptions struct {
	WithMeeting    string `json:"withMeeting,omitempty"`
	WithRecordings string `json:"withRecordings,omitempty"`
}

// EnabledOptions is a partial feature switch.
type EnabledOptions struct {
	Enabled *bool `json:"enabled,omitempty"`
}

// RecordingOptions is a partial RecordingConfig. Encoding, when set,
// replaces the room's whole encoding: a preset name (JSON string) or a
// complete object of video and audio options.
type RecordingOptions struct {
	Enabled  *bool           `json:"enabled,omitempty"`
	Layout   *string         `json:"layout,omitempty"`
	Encoding json.RawMessage `json:"encoding,omitempty"`
}

// ConfigOptions is a partial Config, deep-merged into the room's (upstream
// Partial<MeetRoomConfig>): absent fields keep their value.
type ConfigOptions struct {
	Chat              *EnabledOptions   `json:"chat,omitempty"`
	Recording         *RecordingOptions `json:"recording,omitempty"`
	VirtualBackground *EnabledOptions   `json:"virtualBackground,omitempty"`
	E2EE              *EnabledOptions   `json:"e2ee,omitempty"`
	Captions          *EnabledOptions   `json:"captions,omitempty"`
	// MaxParticipants (1..30) and MaxDurationMinutes (1..1440): absent
	// keeps the value, null removes the limit.
	MaxParticipants    Nullable[int] `json:"maxParticipants,omitzero"`
	MaxDurationMinutes Nullable[int] `json:"maxDurationMinutes,omitzero"`
}

// Nullable is an optional JSON value that may be null: Set says whether
// the property was there at all, Value is nil for null.
type Nullable[T any] struct {
	Set   bool
	Value *T
}

// Null is a Nullable set to null.
func Null[T any]() Nullable[T] { return Nullable[T]{Set: true} }

// Some is a Nullable set to v.
func Some[T any](v T) Nullable[T] { return Nullable[T]{Set: true, Value: &v} }

// IsZero reports whether the value is absent (for omitzero).
func (n Nullable[T]) IsZero() bool { return !n.Set }

// MarshalJSON writes the value or null.
func (n Nullable[T]) MarshalJSON() ([]byte, error) {
	if n.Value == nil {
		return []byte("null"), nil
	}
	return json.Marshal(*n.Value)
}

// UnmarshalJSON reads the value or null; a property that is absent never
// calls it, so Set stays false.
func (n *Nullable[T]) UnmarshalJSON(b []byte) error {
	n.Set = true
	n.Value = nil
	if bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		return nil
	}
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	n.Value = &v
	return nil
}

// RoleOptions is a partial role: the permissions to change, under their
// current names or upstream's deprecated can* names (see
// PermissionAliases).
type RoleOptions struct {
	Permissions map[string]bool `json:"permissions"`
}

// RolesOptions is a partial Roles (upstream MeetRoomRolesConfig).
type RolesOptions struct {
	Moderator *RoleOptions `json:"moderator,omitempty"`
	Speaker   *RoleOptions `json:"speaker,omitempty"`
}

// SwitchOptions is an access switch to set.
type SwitchOptions struct {
	Enabled bool `json:"enabled"`
}

// AnonymousAccessOptions are the anonymous links to switch on or off.
type AnonymousAccessOptions struct {
	Moderator *SwitchOptions `json:"moderator,omitempty"`
	Speaker   *SwitchOptions `json:"speaker,omitempty"`
	Recording *SwitchOptions `json:"recording,omitempty"`
}

// AccessOptions is a partial Access (upstream MeetRoomAccessConfig): only
// the enabled switches; the URLs are the room's. User access is out of
// scope: user.enabled may only be false.
type AccessOptions struct {
	Anonymous *AnonymousAccessOptions `json:"anonymous,omitempty"`
	User      *SwitchOptions          `json:"user,omitempty"`
}

// MaxDeleteRoomIDs is the most room IDs one rooms.cmd.delete may list (the
// schema's maxItems): a longer list is invalid_argument on roomIds. Delete
// more rooms with several commands.
const MaxDeleteRoomIDs = 1000

// DeleteRooms is the body of rooms.cmd.delete (upstream DELETE /rooms and
// DELETE /rooms/{roomId}): 1 to [MaxDeleteRoomIDs] room IDs, and the
// policies for a room with an active meeting (WithMeeting: force |
// when_meeting_ends | fail) and for a room with recordings
// (WithRecordings: force | close | fail). Both default to fail.
type DeleteRooms struct {
	RoomIDs        []string `json:"roomIds"`
	WithMeeting    string   `json:"withMeeting,omitempty"`
	WithRecordings string   `json:"withRecordings,omitempty"`
	// Force is the old way of saying withMeeting force (deprecated, kept
	// for old clients): it applies only when WithMeeting is empty.
	Force bool `json:"force,omitempty"`
}

// Policies returns the command's policies with their defaults applied.
func (c DeleteRooms) Policies() (withMeeting, withRecordings string) {
	withMeeting, withRecordings = c.WithMeeting, c.WithRecordings
	if withMeeting == "" {
		withMeeting = PolicyFail
		if c.Force {
			withMeeting = PolicyForce
		}
	}
	if withRecordings == "" {
		withRecordings = PolicyFail
	}
	return withMeeting, withRecordings
}

// Subject of the command.
func (DeleteRooms) Subject() string { return SubjectDelete }

// UpdatePreferences is the body of rooms.cmd.update_preferences: the
// complete preferences replace the old ones.
type UpdatePreferences struct {
	RoomID      string      `json:"roomId"`
	Preferences Preferences `json:"preferences"`
}

// Subject of the command.
func (UpdatePreferences) Subject() string { return SubjectUpdatePreferences }

// UpdateConfig is the body of rooms.cmd.update_config (upstream PUT
// /rooms/{roomId}/config): the config is deep-merged into the room's.
type UpdateConfig struct {
	RoomID string        `json:"roomId"`
	Config ConfigOptions `json:"config"`
}

// Subject of the command.
func (UpdateConfig) Subject() string { return SubjectUpdateConfig }

// UpdateStatus is the body of rooms.cmd.update_status (upstream PUT
// /rooms/{roomId}/status): open or closed.
type UpdateStatus struct {
	RoomID string `json:"roomId"`
	Status string `json:"status"`
}

// Subject of the command.
func (UpdateStatus) Subject() string { return SubjectUpdateStatus }

// UpdateRoles is the body of rooms.cmd.update_roles (upstream PUT
// /rooms/{roomId}/roles): the permissions given replace the role's.
type UpdateRoles struct {
	RoomID string       `json:"roomId"`
	Roles  RolesOptions `json:"roles"`
}

// Subject of the command.
func (UpdateRoles) Subject() string { return SubjectUpdateRoles }

// UpdateAccess is the body of rooms.cmd.update_access (upstream PUT
// /rooms/{roomId}/access): the switches given replace the room's.
type UpdateAccess struct {
	RoomID string        `json:"roomId"`
	Access AccessOptions `json:"access"`
}

// Subject of the command.
func (UpdateAccess) Subject() string { return SubjectUpdateAccess }

// Sweep is the body of rooms.cmd.sweep (empty).
type Sweep struct{}

// Subject of the command.
func (Sweep) Subject() string { return SubjectSweep }
