package events

import "strconv"

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
// error code: the REST status OpenVidu Meet answers for it
// (HTTPStatus: 422 for invalid_argument, 404, 409, ...), as a string.
// A reply for an *Error with its own Status carries that instead
// (Error.HTTPStatus).
func StatusOf(code string) string {
	return strconv.Itoa(HTTPStatus(code))
}

// APIConfig is the subject of rooms.api.config (upstream GET
// /rooms/{roomId}/config).
const APIConfig = "rooms.api.config"

// RoleSpeaker is the role the speaker link's secret gives (upstream
// MeetRoomMemberRole speaker; the old model called it publisher).
const RoleSpeaker = "speaker"

// RoleRecording is the role of the anonymous recording link's secret: it
// may watch the room's recordings, nothing else.
const RoleRecording = "recording"

// Extra fields of a room (upstream MEET_ROOM_EXTRA_FIELDS): left out of
// get and list replies unless asked for in extraFields; every reply lists
// them in _extraFields.
const (
	ExtraFieldConfig = "config"
	ExtraFieldRoles  = "roles"
)

// RoomExtraFields are the extra fields of a room, in upstream's order.
func RoomExtraFields() []string { return []string{ExtraFieldConfig, ExtraFieldRoles} }

// GetRequest is the request of rooms.api.get (upstream GET /rooms/{roomId}).
type GetRequest struct {
	RoomID string `json:"roomId"`
	// Fields, a comma-separated list of room properties, restricts the
	// reply to them (and ExtraFields); unknown ones are dropped. Empty: every
	// property but the extra fields not asked for.
	Fields string `json:"fields,omitempty"`
	// ExtraFields, a comma-separated list of config and roles, adds them;
	// unknown ones are dropped.
	ExtraFields string `json:"extraFields,omitempty"`
	// Secret, when set, reads the room as the anonymous member that secret
	// admits (upstream's room member token): the anonymous links' URLs are
	// left out when that role lacks roomShareAccessLinks. Empty: the caller
	// holds the API key and acts as the admin.
	Secret string `json:"secret,omitempty"`
}

// RoomReply is the reply of rooms.api.get: the room (only the requested
// properties with fields) and the extra fields it may hold.
type RoomReply struct {
	Room
	ExtraFields []string `json:"_extraFields"`
}

// ConfigRequest is the request of rooms.api.config (upstream GET
// /rooms/{roomId}/config); its reply is the room's Config.
type ConfigRequest struct {
	RoomID string `json:"roomId"`
}

// Name match modes and sort orders of ListRequest.
const (
	MatchExact   = "exact"
	MatchPrefix  = "prefix"
	MatchPartial = "partial"
	MatchRegex   = "regex"
	SortAsc      = "asc"
	SortDesc     = "desc"
)

// ListRequest is the request of rooms.api.list (upstream GET /rooms, its
// query parameters as fields).
type ListRequest struct {
	// RoomName filters on the room's name with RoomNameMatchMode (exact |
	// prefix | partial | regex; default exact), case-insensitively with
	// RoomNameCaseInsensitive.
	RoomName                string `json:"roomName,omitempty"`
	RoomNameMatchMode       string `json:"roomNameMatchMode,omitempty"`
	RoomNameCaseInsensitive bool   `json:"roomNameCaseInsensitive,omitempty"`
	// Status keeps the rooms of one status (open | active_meeting | closed).
	Status string `json:"status,omitempty"`
	// Owner, Member and UserAccess are upstream's filters on Meet user
	// accounts, which roomkeeper does not have: every room is owned by
	// "admin" and has no members nor user access, so any other owner, any
	// member, or userAccess true selects no room.
	Owner      string `json:"owner,omitempty"`
	Member     string `json:"member,omitempty"`
	UserAccess *bool  `json:"userAccess,omitempty"`
	// Fields and ExtraFields shape every room (see GetRequest).
	Fields      string `json:"fields,omitempty"`
	ExtraFields string `json:"extraFields,omitempty"`
	// MaxItems is the page size, 1..100 (larger is capped at 100); 0 means
	// the default, 10.
	MaxItems int `json:"maxItems,omitempty"`
	// NextPageToken is the previous page's Pagination.NextPageToken; empty
	// for the first page. It is only valid with the same sort.
	NextPageToken string `json:"nextPageToken,omitempty"`
	// SortField is creationDate (default) | roomName | autoDeletionDate;
	// SortOrder asc | desc (default desc). Ties go by room ID.
	SortField string `json:"sortField,omitempty"`
	SortOrder string `json:"sortOrder,omitempty"`
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
	Rooms       []Room     `json:"rooms"`
	ExtraFields []string   `json:"_extraFields"`
	Pagination  Pagination `json:"pagination"`
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
	// Role is moderator or speaker.
	Role string `json:"role"`
	// ParticipantIdentity is the LiveKit identity of this join: the name
	// made safe plus a random suffix, unique per token, so two people of
	// one name do not collide.
	ParticipantIdentity string `json:"participantIdentity"`
	// Permissions are the role's permissions in the room when the token
	// was signed (also in the token's metadata).
	Permissions Permissions `json:"permissions"`
}

// ParticipantTokenMetadata is the metadata of a participant token (the
// LiveKit participant's metadata).
type ParticipantTokenMetadata struct {
	RoomID      string      `json:"roomId"`
	Role        string      `json:"role"`
	Permissions Permissions `json:"permissions"`
}

// ErrorReply is the body of a failed query reply.
type ErrorReply struct {
	// Status is the REST status of the error (Error.HTTPStatus), also in
	// the Nats-Service-Error-Code header.
	Status int    `json:"status,omitempty"`
	Error  *Error `json:"error"`
}
