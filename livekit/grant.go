package livekit

import (
	"fmt"

	"github.com/livekit/protocol/auth"
	lkproto "github.com/livekit/protocol/livekit"
)

// Grant is what a participant token lets its holder do in a LiveKit room:
// the LiveKit side of a room role's permissions (the caller derives it
// from them).
type Grant struct {
	// Publish lists the track sources the participant may publish
	// (camera, microphone, screen_share, screen_share_audio); none means
	// it may publish nothing.
	Publish []lkproto.TrackSource
	// Subscribe lets it receive the others' tracks.
	Subscribe bool
	// PublishData lets it send data messages (chat, signals).
	PublishData bool
	// Admin lets it call the RoomService for the room (remove others,
	// update their permissions, end the meeting).
	Admin bool
}

// GrantToken signs a token that lets identity join roomID with grant for
// the configured TokenTTL. name is the display name (identity when empty);
// metadata is set as the participant's metadata as given; the participant
// may update its own metadata.
//
// Detached: ErrUnavailable.
func (c *Client) GrantToken(roomID, identity, name string, grant Grant, metadata string) (string, error) {
	if c.Detached() {
		return "", fmt.Errorf("livekit participant token: %w: detached (no LiveKit URL)", ErrUnavailable)
	}
	switch {
	case roomID == "":
		return "", fmt.Errorf("livekit participant token: %w: empty room ID", ErrInvalidArgument)
	case identity == "":
		return "", fmt.Errorf("livekit participant token: %w: empty identity", ErrInvalidArgument)
	}
	if name == "" {
		name = identity
	}
	canPublish := len(grant.Publish) > 0
	vg := &auth.VideoGrant{
		RoomJoin:             true,
		Room:                 roomID,
		RoomAdmin:            grant.Admin,
		CanPublish:           &canPublish,
		CanSubscribe:         &grant.Subscribe,
		CanPublishData:       &grant.PublishData,
		CanUpdateOwnMetadata: ptrTrue(),
	}
	if canPublish {
		// Only the listed sources; without it LiveKit allows every source.
		vg.SetCanPublishSources(grant.Publish)
	}
	return c.signParticipant(identity, name, metadata, vg)
}

func ptrTrue() *bool {
	t := true
	return &t
}

// ParticipantLimit is implemented by room options (EnsureRoom) that limit
// how many participants the LiveKit room admits.
type ParticipantLimit interface {
	// MaxParticipants is the limit; 0 means none.
	MaxParticipants() uint32
}

// maxParticipantsOf is the limit roomOptions sets, 0 when none.
func maxParticipantsOf(roomOptions any) uint32 {
	if l, ok := roomOptions.(ParticipantLimit); ok {
		return l.MaxParticipants()
	}
	return 0
}
