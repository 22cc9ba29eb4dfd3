package queries

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/handler"
	"github.com/roomkeeper/roomkeeper/schemas"
	"github.com/roomkeeper/roomkeeper/store"
)

// RoleOf returns the role secret gives among a room's two secrets, comparing
// in constant time (SHA-256 digests, so not even the length leaks) and
// always against both; ok is false when it is neither.
func RoleOf(secret, moderatorSecret, publisherSecret string) (role string, ok bool) {
	h := sha256.Sum256([]byte(secret))
	m := sha256.Sum256([]byte(moderatorSecret))
	p := sha256.Sum256([]byte(publisherSecret))
	isMod := subtle.ConstantTimeCompare(h[:], m[:]) & boolInt(moderatorSecret != "")
	isPub := subtle.ConstantTimeCompare(h[:], p[:]) & boolInt(publisherSecret != "")
	switch {
	case secret == "":
		return "", false
	case isMod == 1:
		return events.RoleModerator, true
	case isPub == 1:
		return events.RolePublisher, true
	}
	return "", false
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// roleFor is RoleOf with the invalid_secret error; it names the room, never
// the secret.
func roleFor(roomID, secret, moderatorSecret, publisherSecret string) (string, error) {
	role, ok := RoleOf(secret, moderatorSecret, publisherSecret)
	if !ok {
		return "", events.Errorf(events.CodeInvalidSecret, "invalid secret for room %s", roomID)
	}
	return role, nil
}

// roomRole reads room roomID and the role secret gives in it.
func (q *Service) roomRole(ctx context.Context, roomID, secret string) (*store.Room, string, error) {
	room, err := q.room(ctx, roomID)
	if err != nil {
		return nil, "", err
	}
	role, err := roleFor(room.RoomID, secret, room.ModeratorSecret, room.PublisherSecret)
	if err != nil {
		return nil, "", err
	}
	return room, role, nil
}

func (q *Service) role(ctx context.Context, body []byte) (any, error) {
	var req events.SecretRequest
	if err := decodeQuery(body, &req); err != nil {
		return nil, err
	}
	_, role, err := q.roomRole(ctx, req.RoomID, req.Secret)
	if err != nil {
		return nil, err
	}
	return events.RoleReply{Role: role}, nil
}

// RecordingPermissions is OpenVidu Meet's matrix: a moderator may retrieve
// and delete unless access is "admin"; a publisher may retrieve only when
// access is "admin-moderator-publisher", and never delete.
func RecordingPermissions(role, allowAccessTo string) (canRetrieve, canDelete bool) {
	canDelete = role == events.RoleModerator && allowAccessTo != events.AccessAdmin
	canRetrieve = canDelete || role == events.RolePublisher && allowAccessTo == events.AccessAdminModeratorPublisher
	return canRetrieve, canDelete
}

func (q *Service) recordingToken(ctx context.Context, body []byte) (any, error) {
	var req events.SecretRequest
	if err := decodeQuery(body, &req); err != nil {
		return nil, err
	}
	a, err := q.cfg.Store.GetArchivedRoom(ctx, req.RoomID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, events.Errorf(events.CodeNotFound, "no recording metadata for room %s", req.RoomID)
	}
	if err != nil {
		return nil, err
	}
	role, err := roleFor(a.RoomID, req.Secret, a.ModeratorSecret, a.PublisherSecret)
	if err != nil {
		return nil, err
	}
	if err := q.attached(); err != nil {
		return nil, err
	}
	canRetrieve, canDelete := RecordingPermissions(role, a.Preferences.RecordingPreferences.AllowAccessTo)
	token, err := q.cfg.Tokens.RecordingToken(a.RoomID, role, canRetrieve, canDelete)
	if err != nil {
		return nil, err
	}
	return events.TokenReply{Token: token}, nil
}

// attached answers "unavailable" when there is no LiveKit to sign for.
func (q *Service) attached() error {
	if q.cfg.Tokens == nil || q.cfg.Tokens.Detached() {
		return events.Errorf(events.CodeUnavailable, "LiveKit is not configured")
	}
	return nil
}

// RoomOptions is the roomOptions of a LiveKit room's metadata, as OpenVidu
// Meet's frontend reads it (its MeetRoomOptions): the room's name, expiry
// and preferences.
type RoomOptions struct {
	RoomName         string             `json:"roomName"`
	AutoDeletionDate *int64             `json:"autoDeletionDate,omitempty"`
	Preferences      events.Preferences `json:"preferences"`
}

// participantMetadata is the metadata of a participant token.
type participantMetadata struct {
	RoomID string `json:"roomId"`
	Role   string `json:"role"`
}

func (q *Service) participantToken(ctx context.Context, body []byte) (any, error) {
	var req events.ParticipantTokenRequest
	if err := decodeQuery(body, &req); err != nil {
		return nil, err
	}
	room, role, err := q.roomRole(ctx, req.RoomID, req.Secret)
	if err != nil {
		return nil, err
	}
	if room.MarkedForDeletion {
		return nil, events.Errorf(events.CodeForbidden, "room %s is marked for deletion", room.RoomID)
	}
	if err := q.attached(); err != nil {
		return nil, err
	}
	opts := RoomOptions{RoomName: room.RoomName, AutoDeletionDate: room.AutoDeletionDate, Preferences: room.Preferences}
	if err := q.cfg.Tokens.EnsureRoom(ctx, room.RoomID, opts); err != nil {
		return nil, err
	}
	md, err := json.Marshal(participantMetadata{RoomID: room.RoomID, Role: role})
	if err != nil {
		return nil, err
	}
	token, err := q.cfg.Tokens.ParticipantToken(room.RoomID, req.ParticipantName, req.ParticipantName, role, string(md))
	if err != nil {
		return nil, err
	}
	return events.ParticipantTokenReply{Token: token, LiveKitURL: q.cfg.Tokens.URL(), Role: role}, nil
}

// decodeQuery unmarshals a request the schema already accepted, matching
// property names exactly as the schema does.
func decodeQuery(body []byte, v any) error {
	if err := handler.DecodeExact(body, v); err != nil {
		return events.Invalid("malformed request", events.FieldError{Field: schemas.BodyField, Message: "does not match the request's types"})
	}
	return nil
}
