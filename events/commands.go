package events

// Command is a command body; its subject says where it is published.
type Command interface {
	Subject() string
}

// CreateRoom is the body of rooms.cmd.create. Every field is optional.
type CreateRoom struct {
	RoomName         *string      `json:"roomName,omitempty"`
	AutoDeletionDate *int64       `json:"autoDeletionDate,omitempty"`
	Preferences      *Preferences `json:"preferences,omitempty"`
}

// Subject of the command.
func (CreateRoom) Subject() string { return SubjectCreate }

// MaxDeleteRoomIDs is the most room IDs one rooms.cmd.delete may list (the
// schema's maxItems): a longer list is invalid_argument on roomIds. Delete
// more rooms with several commands.
const MaxDeleteRoomIDs = 1000

// DeleteRooms is the body of rooms.cmd.delete: 1 to [MaxDeleteRoomIDs] room
// IDs.
type DeleteRooms struct {
	RoomIDs []string `json:"roomIds"`
	Force   bool     `json:"force,omitempty"`
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

// Sweep is the body of rooms.cmd.sweep (empty).
type Sweep struct{}

// Subject of the command.
func (Sweep) Subject() string { return SubjectSweep }
