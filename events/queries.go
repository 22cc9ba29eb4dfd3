package events

// ServiceName is the name of the NATS micro service that answers the
// rooms.api.* queries ($SRV.INFO.roomkeeper).
const ServiceName = "roomkeeper"

// Roles a room secret maps to.
const (
	RoleModerator = "moderator"
	RolePublisher = "publisher"
)

// Micro error headers of a failed query reply (the NATS micro convention).
const (
	HeaderServiceError     = "Nats-Service-Error"
	HeaderServiceErrorCode = "Nats-Service-Error-Code"
)

// StatusOf is the Nats-Service-Error-Code a query reply carries for an
// error code (HTTP-like status numbers, as NATS micro services use).
func StatusOf(code string) string {
	switch code {
	case CodeInvalidArgument:
		return "400"
	case CodeInvalidSecret:
		return "401"
	case CodeForbidden:
		return "403"
	case CodeNotFound:
		return "404"
	case CodeUnavailable:
		return "503"
	default:
		return "500"
	}
}

// GetRequest is the request of rooms.api.get.
type GetRequest struct {
	RoomID string `json:"roomId"`
	// Fields, a comma-separated list of room properties, restricts the
	// reply to them; unknown ones are dropped. Empty: the whole room.
	Fields string `json:"fields,omitempty"`
}

// ListRequest is the request of rooms.api.list.
type ListRequest struct {
	// MaxItems is the page size, 1..100 (larger is capped at 100); 0 means
	// the default, 10.
	MaxItems int `json:"maxItems,omitempty"`
	// NextPageToken is the previous page's Pagination.NextPageToken; empty
	// for the first page.
	NextPageToken string `json:"nextPageToken,omitempty"`
	// Fields restricts every room to these properties (see GetRequest).
	Fields string `json:"fields,omitempty"`
}

// Pagination describes a page of rooms.api.list.
type Pagination struct {
	IsTruncated   bool   `json:"isTruncated"`
	NextPageToken string `json:"nextPageToken,omitempty"`
	MaxItems      int    `json:"maxItems"`
}

// ListReply is the reply of rooms.api.list. With Fields, the rooms hold
// only those properties (the others are zero).
type ListReply struct {
	Rooms      []Room     `json:"rooms"`
	Pagination Pagination `json:"pagination"`
}

// SecretRequest is the request of rooms.api.role and
// rooms.api.recording_token: a room and one of its two secrets.
type SecretRequest struct {
	RoomID string `json:"roomId"`
	Secret string `json:"secret"`
}

// RoleReply is the reply of rooms.api.role.
type RoleReply struct {
	Role string `json:"role"`
}

// TokenReply is the reply of rooms.api.recording_token.
type TokenReply struct {
	Token string `json:"token"`
}

// ParticipantTokenRequest is the request of rooms.api.participant_token.
type ParticipantTokenRequest struct {
	RoomID          string `json:"roomId"`
	Secret          string `json:"secret"`
	ParticipantName string `json:"participantName"`
}

// ParticipantTokenReply is the reply of rooms.api.participant_token.
type ParticipantTokenReply struct {
	Token      string `json:"token"`
	LiveKitURL string `json:"livekitUrl"`
	Role       string `json:"role"`
}

// ErrorReply is the body of a failed query reply.
type ErrorReply struct {
	Error *Error `json:"error"`
}
