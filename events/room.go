package events

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

// Room is a meeting room as other services see it: in results, events and
// query replies (schemas/room.json). Its links carry their secrets; the
// secrets alone, the room's version and its meeting status are kept by the
// store and never leave it.
type Room struct {
	RoomID            string      `json:"roomId"`
	RoomName          string      `json:"roomName"`
	CreationDate      int64       `json:"creationDate"`
	AutoDeletionDate  *int64      `json:"autoDeletionDate,omitempty"`
	MarkedForDeletion bool        `json:"markedForDeletion"`
	Preferences       Preferences `json:"preferences"`
	ModeratorRoomURL  string      `json:"moderatorRoomUrl"`
	PublisherRoomURL  string      `json:"publisherRoomUrl"`
}
