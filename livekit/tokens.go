package livekit

import (
	"encoding/json"
	"fmt"

	"github.com/livekit/protocol/auth"
)

// Participant roles, as rooms.api.role answers them.
const (
	RoleModerator = "moderator"
	RolePublisher = "publisher"
	// RoleSpeaker and RoleRecording are the current model's: the speaker
	// link (the old publisher link) and the anonymous recording link.
	RoleSpeaker   = "speaker"
	RoleRecording = "recording"
)

func validRole(role string) bool {
	switch role {
	case RoleModerator, RolePublisher, RoleSpeaker, RoleRecording:
		return true
	}
	return false
}

// ParticipantToken signs a token that lets identity join roomID for the
// configured TokenTTL: join, publish, subscribe and publish data for every
// role, and room admin (mute, remove, update others) for a moderator. name
// is the display name (identity when empty); metadata is set as the
// participant's metadata as given.
//
// Detached: ErrUnavailable.
func (c *Client) ParticipantToken(roomID, identity, name, role, metadata string) (string, error) {
	if c.Detached() {
		return "", fmt.Errorf("livekit participant token: %w: detached (no LiveKit URL)", ErrUnavailable)
	}
	switch {
	case roomID == "":
		return "", fmt.Errorf("livekit participant token: %w: empty room ID", ErrInvalidArgument)
	case identity == "":
		return "", fmt.Errorf("livekit participant token: %w: empty identity", ErrInvalidArgument)
	case !validRole(role):
		return "", fmt.Errorf("livekit participant token: %w: unknown role %q", ErrInvalidArgument, role)
	}
	if name == "" {
		name = identity
	}
	yes := true
	grant := &auth.VideoGrant{
		RoomJoin:       true,
		Room:           roomID,
		RoomAdmin:      role == RoleModerator,
		CanPublish:     &yes,
		CanSubscribe:   &yes,
		CanPublishData: &yes,
	}
	return c.signParticipant(identity, name, metadata, grant)
}

// signParticipant signs a participant token with grant for the configured
// TokenTTL; metadata, when set, is the participant's metadata.
func (c *Client) signParticipant(identity, name, metadata string, grant *auth.VideoGrant) (string, error) {
	at := auth.NewAccessToken(c.cfg.APIKey, c.cfg.APISecret).
		SetIdentity(identity).
		SetName(name).
		SetVideoGrant(grant).
		SetValidFor(c.cfg.TokenTTL)
	if metadata != "" {
		at.SetMetadata(metadata)
	}
	token, err := at.ToJWT()
	if err != nil {
		return "", fmt.Errorf("livekit participant token: %w", err)
	}
	return token, nil
}

// RecordingPermissions say what the holder of a recording token may do with
// the room's recordings.
type RecordingPermissions struct {
	CanRetrieveRecordings bool `json:"canRetrieveRecordings"`
	CanDeleteRecordings   bool `json:"canDeleteRecordings"`
}

// RecordingTokenMetadata is the JSON metadata of a recording token.
type RecordingTokenMetadata struct {
	Role                 string               `json:"role"`
	RecordingPermissions RecordingPermissions `json:"recordingPermissions"`
}

// RecordingToken signs a token, valid for the configured RecordingTokenTTL
// (2h by default), whose metadata carries the role and the recording
// permissions, for the services that serve recordings. It names the room
// but grants no join, publish, subscribe or data: it cannot enter a meeting.
//
// Detached: ErrUnavailable.
func (c *Client) RecordingToken(roomID, role string, canRetrieve, canDelete bool) (string, error) {
	if c.Detached() {
		return "", fmt.Errorf("livekit recording token: %w: detached (no LiveKit URL)", ErrUnavailable)
	}
	switch {
	case roomID == "":
		return "", fmt.Errorf("livekit recording token: %w: empty room ID", ErrInvalidArgument)
	case !validRole(role):
		return "", fmt.Errorf("livekit recording token: %w: unknown role %q", ErrInvalidArgument, role)
	}
	md, err := json.Marshal(RecordingTokenMetadata{
		Role: role,
		RecordingPermissions: RecordingPermissions{
			CanRetrieveRecordings: canRetrieve,
			CanDeleteRecordings:   canDelete,
		},
	})
	if err != nil {
		return "", fmt.Errorf("livekit recording token: %w", err)
	}
	no := false
	token, err := auth.NewAccessToken(c.cfg.APIKey, c.cfg.APISecret).
		SetVideoGrant(&auth.VideoGrant{
			Room:           roomID,
			CanPublish:     &no,
			CanSubscribe:   &no,
			CanPublishData: &no,
		}).
		SetMetadata(string(md)).
		SetValidFor(c.cfg.RecordingTokenTTL).
		ToJWT()
	if err != nil {
		return "", fmt.Errorf("livekit recording token: %w", err)
	}
	return token, nil
}
