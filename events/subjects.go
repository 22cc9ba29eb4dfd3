package events

import (
	"regexp"
	"strings"
)

// Subjects and subject prefixes of the message API.
const (
	CommandPrefix = "rooms.cmd."
	ResultPrefix  = "rooms.results."
	EventPrefix   = "rooms.events."
	DeadPrefix    = "rooms.dead."
	WebhookPrefix = "livekit.webhook."

	SubjectCreate            = CommandPrefix + "create"
	SubjectDelete            = CommandPrefix + "delete"
	SubjectUpdatePreferences = CommandPrefix + "update_preferences"
	SubjectSweep             = CommandPrefix + "sweep"

	// The room updates of OpenVidu Meet's model (issue 15).
	SubjectUpdateConfig = CommandPrefix + "update_config"
	SubjectUpdateStatus = CommandPrefix + "update_status"
	SubjectUpdateRoles  = CommandPrefix + "update_roles"
	SubjectUpdateAccess = CommandPrefix + "update_access"

	SubjectRoomStarted  = WebhookPrefix + "room_started"
	SubjectRoomFinished = WebhookPrefix + "room_finished"

	APIGet              = "rooms.api.get"
	APIList             = "rooms.api.list"
	APIRole             = "rooms.api.role"
	APIRecordingToken   = "rooms.api.recording_token"
	APIParticipantToken = "rooms.api.participant_token"
)

// Domain event types, published on rooms.events.<type>.
const (
	EventCreated            = "created"
	EventPreferencesUpdated = "preferences_updated"
	// EventConfigUpdated, EventStatusUpdated, EventRolesUpdated and
	// EventAccessUpdated: an update command changed the room (data: the
	// room).
	EventConfigUpdated       = "config_updated"
	EventStatusUpdated       = "status_updated"
	EventRolesUpdated        = "roles_updated"
	EventAccessUpdated       = "access_updated"
	EventDeleted             = "deleted"
	EventMeetingStarted      = "meeting_started"
	EventMeetingEnded        = "meeting_ended"
	HeaderDeadReason         = "Roomkeeper-Dead-Reason"
	HeaderDeadDeliveries     = "Roomkeeper-Dead-Deliveries"
	HeaderDeadSubject        = "Roomkeeper-Dead-Subject"
	HeaderDeadStreamSequence = "Roomkeeper-Dead-Stream-Seq"
	HeaderDeadCommandID      = "Roomkeeper-Dead-Command-Id"
)

// LiveKit's egress webhooks, kept as recording metadata (rooms/recordings.go).
const (
	SubjectEgressStarted = WebhookPrefix + "egress_started"
	SubjectEgressUpdated = WebhookPrefix + "egress_updated"
	SubjectEgressEnded   = WebhookPrefix + "egress_ended"
)

// Domain events of deletion policies and meeting ends (issue 15).
const (
	// EventDeletionScheduled: the room is deleted or closed when its
	// meeting ends (data: the room, with its meetingEndAction).
	EventDeletionScheduled = "deletion_scheduled"
	// EventClosed: the room was closed, instead of deleted because it has
	// recordings, or when its meeting ended (data: the room).
	EventClosed = "closed"
	// EventRecordingDeleted: a deletion policy removed a recording's
	// metadata; whoever keeps the files deletes them (data: the
	// recording).
	EventRecordingDeleted = "recording_deleted"
)

// Domain events of recordings (issue 16), from LiveKit's egress webhooks,
// published when a webhook changed the stored recording (a duplicate or
// an older state arriving late publishes nothing); data: the recording.
const (
	// EventRecordingStarted: an egress_started (status starting or active).
	EventRecordingStarted = "recording_started"
	// EventRecordingUpdated: an egress_updated (status active or ending).
	EventRecordingUpdated = "recording_updated"
	// EventRecordingEnded: an egress_ended (status complete, failed,
	// aborted or limit_reached).
	EventRecordingEnded = "recording_ended"
)

var commandIDPattern = regexp.MustCompile(`^[A-Za-z0-9_:-]{1,128}$`)

// ValidCommandID reports whether id is a well-formed command ID: 1 to 128
// letters, digits, '-', '_' or ':'.
func ValidCommandID(id string) bool { return commandIDPattern.MatchString(id) }

// CommandType returns the type of a command subject ("create" for
// "rooms.cmd.create"); the empty string when subject is not a command.
func CommandType(subject string) string {
	t, ok := strings.CutPrefix(subject, CommandPrefix)
	if !ok {
		return ""
	}
	return t
}

// EventType returns the type of a domain event subject ("created" for
// "rooms.events.created"); the empty string when subject is not one.
func EventType(subject string) string {
	t, ok := strings.CutPrefix(subject, EventPrefix)
	if !ok {
		return ""
	}
	return t
}

// ResultSubject is where the result of command id is published.
func ResultSubject(id string) string { return ResultPrefix + id }

// EventSubject is where domain events of the given type are published.
func EventSubject(eventType string) string { return EventPrefix + eventType }

// DeadSubject is where a dead letter for a message of the given subject goes:
// rooms.dead.<command type> for commands, rooms.dead.webhook_<event> for
// webhook events.
func DeadSubject(subject string) string {
	if t := CommandType(subject); t != "" {
		return DeadPrefix + sanitizeToken(t)
	}
	if e, ok := strings.CutPrefix(subject, WebhookPrefix); ok {
		return DeadPrefix + "webhook_" + sanitizeToken(e)
	}
	return DeadPrefix + "unknown"
}

// Outgoing webhook dead letters (package outhooks, issue 16).
const (
	// OutgoingDeadPrefix prefixes the dead letter subject of an outgoing
	// webhook given up: rooms.dead.outgoing_<event type>.
	OutgoingDeadPrefix = DeadPrefix + "outgoing_"
	// HeaderDeadTargetURL is the receiver an outgoing webhook dead letter
	// was meant for.
	HeaderDeadTargetURL = "Roomkeeper-Dead-Target-Url"
)

// OutgoingDeadSubject is where the dead letter of an outgoing webhook for
// a domain event of eventType goes: rooms.dead.outgoing_<eventType>.
func OutgoingDeadSubject(eventType string) string {
	return OutgoingDeadPrefix + sanitizeToken(eventType)
}

// sanitizeToken keeps a subject token a single valid token.
func sanitizeToken(s string) string {
	if s == "" {
		return "unknown"
	}
	return strings.Map(func(r rune) rune {
		switch r {
		case '.', '*', '>', ' ', '\t', '\r', '\n':
			return '_'
		}
		return r
	}, s)
}

// ResultMsgID is the Nats-Msg-Id of the result of command id.
func ResultMsgID(id string) string { return "result:" + id }

// EventID is the ID (and Nats-Msg-Id) of a domain event caused by command (or
// webhook event) cause for a room.
func EventID(cause, eventType, roomID string) string {
	return cause + ":" + eventType + ":" + roomID
}
