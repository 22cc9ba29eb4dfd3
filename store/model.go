package store

import (
	"encoding/json"
	"slices"
	"time"

	"github.com/roomkeeper/roomkeeper/events"
)

// Meeting status of a room, kept from LiveKit's room_started and
// room_finished webhooks.
const (
	MeetingNone   = ""
	MeetingActive = "active"
	MeetingEnded  = "ended"
)

// Room is the stored record of a meeting room: what other services see of it
// (View, an events.Room) plus what only roomkeeper keeps. It has no JSON
// form: replies carry its View.
type Room struct {
	RoomID            string             `json:"-" bson:"_id"`
	RoomName          string             `json:"-" bson:"roomName"`
	CreationDate      int64              `json:"-" bson:"creationDate"`
	AutoDeletionDate  *int64             `json:"-" bson:"autoDeletionDate,omitempty"`
	MarkedForDeletion bool               `json:"-" bson:"markedForDeletion"`
	Preferences       events.Preferences `json:"-" bson:"preferences"`
	ModeratorRoomURL  string             `json:"-" bson:"moderatorRoomUrl"`
	PublisherRoomURL  string             `json:"-" bson:"publisherRoomUrl"`

	// ModeratorSecret and PublisherSecret are the secrets of the two links;
	// never logged, never in a reply.
	ModeratorSecret string `json:"-" bson:"moderatorSecret"`
	PublisherSecret string `json:"-" bson:"publisherSecret"`

	// The room model of OpenVidu Meet (issue 15), see events.Room.
	// SchemaVersion says which shape the record was written in
	// (RoomSchemaVersion today; 0: before these fields, migrated on read).
	SchemaVersion      int                        `json:"-" bson:"schemaVersion"`
	Owner              string                     `json:"-" bson:"owner"`
	AutoDeletionPolicy *events.AutoDeletionPolicy `json:"-" bson:"autoDeletionPolicy,omitempty"`
	Config             events.Config              `json:"-" bson:"config"`
	Roles              events.Roles               `json:"-" bson:"roles"`
	Access             events.Access              `json:"-" bson:"access"`
	// Status: open | active_meeting | closed.
	Status           string `json:"-" bson:"status"`
	RolesUpdatedAt   int64  `json:"-" bson:"rolesUpdatedAt"`
	MeetingEndAction string `json:"-" bson:"meetingEndAction"`
	// SpeakerSecret and RecordingSecret are the secrets of the anonymous
	// speaker and recording links (the moderator link keeps
	// ModeratorSecret; the speaker link is the old publisher link).
	SpeakerSecret   string `json:"-" bson:"speakerSecret"`
	RecordingSecret string `json:"-" bson:"recordingSecret"`
	// WarnedMeeting is the LiveKit room SID of the last meeting whose
	// participants were warned that it reaches its duration limit
	// (config.maxDurationMinutes) soon, so that each meeting is warned
	// once; a later meeting has another SID. Empty: none.
	WarnedMeeting string `json:"-" bson:"warnedMeeting,omitempty"`
	// Meeting is the meeting status (MeetingNone, MeetingActive,
	// MeetingEnded) as last reported by LiveKit.
	Meeting string `json:"-" bson:"meeting"`
	// EndTrace is the W3C traceparent of the command that set
	// MeetingEndAction (a delete scheduled for the meeting's end), when
	// tracing was on: the room_finished that applies it continues that
	// command's trace. Empty: none.
	EndTrace string `json:"-" bson:"endTrace,omitempty"`
	// Version increases by one with every update; updates are
	// compare-and-set on it.
	Version int64 `json:"-" bson:"version"`
	// Applied holds the IDs of the last commands that changed the room
	// (newest last, at most MaxApplied), so a re-run sees its own write.
	Applied []string `json:"-" bson:"applied"`
}

// RoomSchemaVersion is the shape of the room records this version writes.
const RoomSchemaVersion = 1

// MaxApplied is how many command IDs a room remembers in Applied.
const MaxApplied = 16

// WasApplied reports whether command id already changed the room.
func (r *Room) WasApplied(id string) bool { return slices.Contains(r.Applied, id) }

// MarkApplied records command id in Applied, keeping the last MaxApplied.
func (r *Room) MarkApplied(id string) {
	r.Applied = append(r.Applied, id)
	if n := len(r.Applied); n > MaxApplied {
		r.Applied = slices.Clone(r.Applied[n-MaxApplied:])
	}
}

// ExpiryKey is a position in the order of Store.ExpiredRooms: rooms by
// autoDeletionDate (epoch ms), then by room ID. The zero key (no RoomID)
// comes before every room, so it starts the first page.
type ExpiryKey struct {
	Date   int64
	RoomID string
}

// ExpiryKey returns r's position in the order of Store.ExpiredRooms: the key
// of the last room of a page is where the next page starts. A room without
// an autoDeletionDate has none; it gives the zero key.
func (r *Room) ExpiryKey() ExpiryKey {
	if r.AutoDeletionDate == nil {
		return ExpiryKey{}
	}
	return ExpiryKey{Date: *r.AutoDeletionDate, RoomID: r.RoomID}
}

// ArchivedRoom is the metadata kept for a room's recordings, also after the
// room is deleted.
type ArchivedRoom struct {
	RoomID           string             `json:"roomId" bson:"_id"`
	RoomName         string             `json:"roomName" bson:"roomName"`
	Preferences      events.Preferences `json:"preferences" bson:"preferences"`
	ModeratorRoomURL string             `json:"moderatorRoomUrl" bson:"moderatorRoomUrl"`
	PublisherRoomURL string             `json:"publisherRoomUrl" bson:"publisherRoomUrl"`
	ModeratorSecret  string             `json:"-" bson:"moderatorSecret"`
	PublisherSecret  string             `json:"-" bson:"publisherSecret"`
}

// Command ledger statuses: a record is claimed pending and finished once,
// done or dead.
const (
	// StatusPending: claimed, not finished.
	StatusPending = "pending"
	// StatusDone: finished with a result (ok or not); the message is acked.
	StatusDone = "done"
	// StatusDead: finished and given up: the outbox holds a dead letter and
	// the message is termed.
	StatusDead = "dead"
)

// Finished reports whether the record is done or dead.
func (c *Command) Finished() bool { return c.Status == StatusDone || c.Status == StatusDead }

// OutMsg is one message a command publishes when it completes (its result,
// its events, a dead letter); the ledger keeps them so a redelivery
// republishes exactly the same messages with the same IDs.
type OutMsg struct {
	Subject string            `json:"subject" bson:"subject"`
	MsgID   string            `json:"msgId" bson:"msgId"`
	Headers map[string]string `json:"headers,omitempty" bson:"headers,omitempty"`
	Data    json.RawMessage   `json:"data" bson:"data"`
}

// Command is a record of the command ledger.
type Command struct {
	ID     string `bson:"_id"`
	Type   string `bson:"type"`
	Status string `bson:"status"`
	// Plan holds the choices the command made before its first effect
	// (random IDs, secrets, which rooms to delete or mark), so every
	// delivery of the command converges on the same effect.
	Plan json.RawMessage `bson:"plan,omitempty"`
	// Result is the command's result (JSON), set when Status is done.
	Result json.RawMessage `bson:"result,omitempty"`
	// Outbox holds the messages published on completion.
	Outbox []OutMsg `bson:"outbox,omitempty"`
	// Published is set once JetStream stored every message of the outbox
	// (Store.MarkPublished).
	Published bool `bson:"published,omitempty"`
	// Rooms are the IDs of the rooms the command was about, set at
	// completion (Completion.Rooms): the histories that list it.
	Rooms []string `bson:"rooms,omitempty"`
	// Cause is the ID of the command that published this one (a sweep's
	// fan-out) or of the LiveKit webhook event, set at completion
	// (Completion.Cause); empty when a client sent it.
	Cause     string    `bson:"cause,omitempty"`
	CreatedAt time.Time `bson:"createdAt"`
	UpdatedAt time.Time `bson:"updatedAt"`
}
