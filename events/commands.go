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

// Sweep is the body of rooms.cmd.sweep (empty).
type Sweep struct{}

// Subject of the command.
func (Sweep) Subject() string { return SubjectSweep }
