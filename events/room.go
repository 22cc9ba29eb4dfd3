package events

// The old model's preferences, kept as the body of the deprecated
// rooms.cmd.update_preferences and to read rooms stored before the current
// model (see store.ApplyPreferences).

// Recording access levels of recordingPreferences.allowAccessTo.
const (
	AccessAdmin                   = "admin"
	AccessAdminModerator          = "admin-moderator"
	AccessAdminModeratorPublisher = "admin-moderator-publisher"
)

// ChatPreferences of a room.
type ChatPreferences struct {
	Enabled bool `json:"enabled"`
}

// RecordingPreferences of a room.
type RecordingPreferences struct {
	Enabled       bool   `json:"enabled"`
	AllowAccessTo string `json:"allowAccessTo,omitempty"`
}

// VirtualBackgroundPreferences of a room.
type VirtualBackgroundPreferences struct {
	Enabled bool `json:"enabled"`
}

// Preferences of a room.
type Preferences struct {
	ChatPreferences              ChatPreferences              `json:"chatPreferences"`
	RecordingPreferences         RecordingPreferences         `json:"recordingPreferences"`
	VirtualBackgroundPreferences VirtualBackgroundPreferences `json:"virtualBackgroundPreferences"`
}

// DefaultPreferences are the preferences of a room created without any.
func DefaultPreferences() Preferences {
	return Preferences{
		ChatPreferences:              ChatPreferences{Enabled: true},
		RecordingPreferences:         RecordingPreferences{Enabled: true, AllowAccessTo: AccessAdminModeratorPublisher},
		VirtualBackgroundPreferences: VirtualBackgroundPreferences{Enabled: true},
	}
}
