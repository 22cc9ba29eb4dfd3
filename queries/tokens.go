package queries

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode"

	lkproto "github.com/livekit/protocol/livekit"
	"golang.org/x/text/unicode/norm"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/handler"
	"github.com/roomkeeper/roomkeeper/livekit"
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

// archivedRoleFor is RoleOf with the invalid_secret error, for the
// recording metadata of a room (old model: moderator or publisher); it
// names the room, never the secret.
func archivedRoleFor(roomID, secret, moderatorSecret, publisherSecret string) (string, error) {
	role, ok := RoleOf(secret, moderatorSecret, publisherSecret)
	if !ok {
		return "", invalidSecret(roomID)
	}
	return role, nil
}

func invalidSecret(roomID string) *events.Error {
	return roomError(events.CodeInvalidSecret, "the secret is not recognized for room '%s'", roomID)
}

// speakerSecret is the secret of the room's speaker link: the old
// publisher secret in a record not yet migrated.
func speakerSecret(r *store.Room) string {
	if r.SpeakerSecret != "" {
		return r.SpeakerSecret
	}
	return r.PublisherSecret
}

// roleFor is the role (moderator or speaker) secret gives in room r,
// compared in constant time; invalid_secret, naming the room and never
// the secret, when it is neither link's secret.
func roleFor(r *store.Room, secret string) (string, error) {
	role, ok := RoleOf(secret, r.ModeratorSecret, speakerSecret(r))
	if !ok {
		return "", invalidSecret(r.RoomID)
	}
	if role == events.RolePublisher {
		role = events.RoleSpeaker
	}
	return role, nil
}

// permissionsOf are the permissions of role in room r.
func permissionsOf(r *store.Room, role string) events.Permissions {
	if role == events.RoleModerator {
		return r.Roles.Moderator.Permissions
	}
	return r.Roles.Speaker.Permissions
}

// roomRole reads room roomID and the role secret gives in it.
func (q *Service) roomRole(ctx context.Context, roomID, secret string) (*store.Room, string, error) {
	room, err := q.room(ctx, roomID)
	if err != nil {
		return nil, "", err
	}
	role, err := roleFor(room, secret)
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
	room, err := q.cfg.Store.GetRoom(ctx, req.RoomID)
	switch {
	case err == nil:
		return q.roomRecordingToken(room, req.Secret)
	case !errors.Is(err, store.ErrNotFound):
		return nil, err
	}
	// A room deleted under the old model keeps its archived metadata.
	a, err := q.cfg.Store.GetArchivedRoom(ctx, req.RoomID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, events.Errorf(events.CodeNotFound, "no recording metadata for room %s", req.RoomID)
	}
	if err != nil {
		return nil, err
	}
	role, err := archivedRoleFor(a.RoomID, req.Secret, a.ModeratorSecret, a.PublisherSecret)
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

// roomRecordingToken signs the recording token of a room that exists (a
// closed room keeps its recordings readable): the moderator and speaker
// links give their role's recording permissions (list or play to
// retrieve; delete), the anonymous recording link, while enabled, gives
// retrieval only.
func (q *Service) roomRecordingToken(room *store.Room, secret string) (any, error) {
	var canRetrieve, canDelete bool
	role, err := roleFor(room, secret)
	switch {
	case err == nil:
		p := permissionsOf(room, role)
		canRetrieve, canDelete = p.RecordingList || p.RecordingPlay, p.RecordingDelete
	case recordingLink(room, secret):
		role, canRetrieve = events.RoleRecording, true
	default:
		return nil, err
	}
	if err := q.attached(); err != nil {
		return nil, err
	}
	token, err := q.cfg.Tokens.RecordingToken(room.RoomID, role, canRetrieve, canDelete)
	if err != nil {
		return nil, err
	}
	return events.TokenReply{Token: token}, nil
}

// recordingLink reports whether secret is the room's anonymous recording
// link's, while that link is enabled (compared in constant time).
func recordingLink(room *store.Room, secret string) bool {
	rec, ok := RoleOf(secret, room.RecordingSecret, "")
	return ok && rec == events.RoleModerator && room.Access.Anonymous.Recording.Enabled
}

// attached answers "unavailable" when there is no LiveKit to sign for.
func (q *Service) attached() error {
	if q.cfg.Tokens == nil || q.cfg.Tokens.Detached() {
		return events.Errorf(events.CodeUnavailable, "LiveKit is not configured")
	}
	return nil
}

// RoomOptions is the roomOptions of a LiveKit room's metadata, as OpenVidu
// Meet writes it (its MeetRoomHelper.toRoomOptions): the room's name,
// expiry, config, roles and which anonymous links are enabled (never
// their URLs: every participant can read the room's metadata).
type RoomOptions struct {
	RoomName           string                     `json:"roomName"`
	AutoDeletionDate   *int64                     `json:"autoDeletionDate,omitempty"`
	AutoDeletionPolicy *events.AutoDeletionPolicy `json:"autoDeletionPolicy,omitempty"`
	Config             events.Config              `json:"config"`
	Roles              events.Roles               `json:"roles"`
	Access             accessView                 `json:"access"`
}

// MaxParticipants is the room's config.maxParticipants (0: unlimited): the
// LiveKit room is created with it, so LiveKit refuses the participant over
// the limit.
func (o RoomOptions) MaxParticipants() uint32 {
	if n := o.Config.MaxParticipants; n != nil && *n > 0 {
		return uint32(*n)
	}
	return 0
}

func roomOptions(v *events.Room) RoomOptions {
	o := RoomOptions{
		RoomName: v.RoomName, AutoDeletionDate: v.AutoDeletionDate, AutoDeletionPolicy: v.AutoDeletionPolicy,
		Config: v.Config, Roles: v.Roles,
	}
	o.Access.Anonymous.Moderator.Enabled = v.Access.Anonymous.Moderator.Enabled
	o.Access.Anonymous.Speaker.Enabled = v.Access.Anonymous.Speaker.Enabled
	o.Access.Anonymous.Recording.Enabled = v.Access.Anonymous.Recording.Enabled
	o.Access.User = events.Link{Enabled: v.Access.User.Enabled}
	return o
}

// Grant is the LiveKit grant of a role's permissions: it publishes the
// sources its media permissions allow, subscribes, sends data (chat
// messages and the frontend's signals share the data channel; chatWrite is
// enforced by the frontend, which reads the permissions from the token's
// metadata, as upstream does), and administers the LiveKit room when it
// may kick, promote or end the meeting (those are RoomService calls).
func Grant(p events.Permissions) livekit.Grant {
	g := livekit.Grant{Subscribe: true, PublishData: true,
		Admin: p.ParticipantKick || p.ParticipantPromote || p.MeetingEnd}
	if p.MediaPublishVideo {
		g.Publish = append(g.Publish, lkproto.TrackSource_CAMERA)
	}
	if p.MediaPublishAudio {
		g.Publish = append(g.Publish, lkproto.TrackSource_MICROPHONE)
	}
	if p.MediaShareScreen {
		g.Publish = append(g.Publish, lkproto.TrackSource_SCREEN_SHARE, lkproto.TrackSource_SCREEN_SHARE_AUDIO)
	}
	return g
}

// ParticipantIdentity is a LiveKit identity for one join of name: the name
// as upstream turns it into an identity prefix (NFD, lower case, '-' and
// spaces to '_', only [a-z0-9_], runs of '_' collapsed and trimmed;
// "participant" when nothing is left), '-', and 15 random characters, so
// two people with one name never collide.
func ParticipantIdentity(name string) (string, error) {
	prefix := IdentityPrefix(name)
	if prefix == "" {
		prefix = "participant"
	}
	suffix, err := randomSuffix(identitySuffixLen)
	if err != nil {
		return "", err
	}
	return prefix + "-" + suffix, nil
}

const identitySuffixLen = 15

// IdentityPrefix is upstream's createParticipantIdentityPrefixFromName.
func IdentityPrefix(name string) string {
	var b strings.Builder
	underscore := false
	for _, r := range norm.NFD.String(strings.ToLower(name)) {
		switch {
		case r == '-' || unicode.IsSpace(r) || r == '_':
			underscore = true
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			if underscore && b.Len() > 0 {
				b.WriteByte('_')
			}
			underscore = false
			b.WriteRune(r)
		}
	}
	return b.String()
}

// randomSuffix is n characters of [a-z0-9] from crypto/rand.
func randomSuffix(n int) (string, error) {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	out := make([]byte, 0, n)
	buf := make([]byte, 2*n)
	for len(out) < n {
		if _, err := rand.Read(buf); err != nil {
			return "", fmt.Errorf("participant identity: %w", err)
		}
		for _, c := range buf {
			// 252 = 7*36: reject the tail so every character is equally likely.
			if c < 252 && len(out) < n {
				out = append(out, alphabet[c%36])
			}
		}
	}
	return string(out), nil
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
	v := room.View()
	link := v.Access.Anonymous.Speaker
	if role == events.RoleModerator {
		link = v.Access.Anonymous.Moderator
	}
	perms := permissionsOf(room, role)
	switch {
	case v.Status == events.StatusClosed:
		return nil, roomError(events.CodeConflict, "Room '%s' is closed and cannot be joined", room.RoomID)
	case !link.Enabled:
		// Upstream leaves a disabled link's secret unusable: the link is
		// what lets an anonymous participant in.
		return nil, roomError(events.CodeForbidden, "anonymous %s access to room '%s' is disabled", role, room.RoomID)
	case !perms.MeetingJoin:
		return nil, roomError(events.CodeForbidden, "the %s role may not join the meeting of room '%s'", role, room.RoomID)
	}
	if err := q.attached(); err != nil {
		return nil, err
	}
	if err := q.cfg.Tokens.EnsureRoom(ctx, room.RoomID, roomOptions(&v)); err != nil {
		return nil, err
	}
	identity, err := ParticipantIdentity(req.ParticipantName)
	if err != nil {
		return nil, err
	}
	md, err := json.Marshal(events.ParticipantTokenMetadata{RoomID: room.RoomID, Role: role, Permissions: perms})
	if err != nil {
		return nil, err
	}
	token, err := q.cfg.Tokens.GrantToken(room.RoomID, identity, req.ParticipantName, Grant(perms), string(md))
	if err != nil {
		return nil, err
	}
	return events.ParticipantTokenReply{
		Token: token, LiveKitURL: q.cfg.Tokens.URL(), Role: role,
		ParticipantIdentity: identity, Permissions: perms,
	}, nil
}

// decodeQuery unmarshals a request the schema already accepted, matching
// property names exactly as the schema does.
func decodeQuery(body []byte, v any) error {
	if err := handler.DecodeExact(body, v); err != nil {
		return events.Invalid("malformed request", events.FieldError{Field: schemas.BodyField, Message: "does not match the request's types"})
	}
	return nil
}
