package rooms

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/handler"
	"github.com/roomkeeper/roomkeeper/store"
)

// Meetings is what the room handlers need from LiveKit (*livekit.Client
// satisfies it).
type Meetings interface {
	// HasActiveMeeting reports whether the room has a live meeting.
	HasActiveMeeting(ctx context.Context, roomID string) (bool, error)
	// RoomExists reports whether LiveKit has the room (and so will still
	// send its room_finished).
	RoomExists(ctx context.Context, roomID string) (bool, error)
	// MeetingStart reports when LiveKit created the room (its meeting's
	// start) and the room's SID (the meeting's ID); ok is false when
	// LiveKit does not have the room.
	MeetingStart(ctx context.Context, roomID string) (start time.Time, sid string, ok bool, err error)
	// DeleteRoom ends the room's meeting; a room LiveKit does not have is
	// not an error.
	DeleteRoom(ctx context.Context, roomID string) error
	// SendData sends a reliable data message to the room's participants.
	SendData(ctx context.Context, roomID, topic string, payload []byte) error
}

// Detached is the Meetings of a deployment without LiveKit: no meeting is
// ever active.
type Detached struct{}

// HasActiveMeeting always reports false.
func (Detached) HasActiveMeeting(context.Context, string) (bool, error) { return false, nil }

// RoomExists always reports false.
func (Detached) RoomExists(context.Context, string) (bool, error) { return false, nil }

// MeetingStart always reports no room.
func (Detached) MeetingStart(context.Context, string) (time.Time, string, bool, error) {
	return time.Time{}, "", false, nil
}

// DeleteRoom does nothing.
func (Detached) DeleteRoom(context.Context, string) error { return nil }

// SendData has no one to send to.
func (Detached) SendData(context.Context, string, string, []byte) error { return nil }

// Rooms holds what the room handlers share.
type Rooms struct {
	Store    store.Store
	Meetings Meetings
	// BaseURL prefixes the room links.
	BaseURL string
	// MinAutoDeletionDelay is how far ahead autoDeletionDate must be.
	MinAutoDeletionDelay time.Duration
	// Sweep bounds the work of one expiry sweep; zero fields take their
	// defaults.
	Sweep SweepConfig
	// Sweeps, when set, receives the figures of every sweep that ran.
	Sweeps SweepObserver
	// Signals, when set, learns the outcome of every participant signal.
	Signals SignalObserver
}

// SweepObserver receives the figures of a sweep (internal/metrics
// implements it).
type SweepObserver interface {
	SweepObserved(took time.Duration, expired, deleteCommands, reconciled int)
}

// Register adds the handlers of every room command to reg.
func (r *Rooms) Register(reg *handler.Registry) error {
	if r.Meetings == nil {
		r.Meetings = Detached{}
	}
	return errors.Join(
		handler.Register(reg, createHandler{r}, handler.Options[events.CreateRoom]{}),
		handler.Register(reg, deleteHandler{r}, handler.Options[events.DeleteRooms]{Decode: decodeDelete}),
		handler.Register(reg, updateHandler{r}, handler.Options[events.UpdatePreferences]{}),
		handler.Register(reg, updateConfigHandler{r}, handler.Options[events.UpdateConfig]{}),
		handler.Register(reg, updateStatusHandler{r}, handler.Options[events.UpdateStatus]{}),
		handler.Register(reg, updateRolesHandler{r}, handler.Options[events.UpdateRoles]{}),
		handler.Register(reg, updateAccessHandler{r}, handler.Options[events.UpdateAccess]{}),
		handler.Register(reg, newSweepHandler(r), handler.Options[events.Sweep]{}),
		r.registerMeetings(reg),
		r.registerRecordings(reg),
	)
}

// SanitizeName keeps letters, digits, spaces, '-' and '_', collapses runs of
// spaces, '-' and '_', and trims spaces, '-' and '_' at both ends.
func SanitizeName(s string) string {
	var b strings.Builder
	var prev rune
	for _, c := range s {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == ' ' || c == '-' || c == '_'
		if !ok {
			continue
		}
		if (c == ' ' || c == '-' || c == '_') && c == prev {
			continue
		}
		b.WriteRune(c)
		prev = c
	}
	return strings.Trim(b.String(), " -_")
}

// SanitizeRoomID sanitises a room ID the way names are, without spaces.
func SanitizeRoomID(s string) string {
	return strings.ReplaceAll(SanitizeName(s), " ", "")
}

const idAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789"

// randomSuffix returns n characters from [a-z0-9] from crypto/rand, without
// modulo bias.
func randomSuffix(n int) (string, error) {
	out := make([]byte, 0, n)
	buf := make([]byte, n*2)
	for len(out) < n {
		if _, err := rand.Read(buf); err != nil {
			return "", err
		}
		for _, b := range buf {
			if b < 252 && len(out) < n { // 252 = 7*36: uniform
				out = append(out, idAlphabet[b%36])
			}
		}
	}
	return string(out), nil
}

// newSecret returns a secret of 130 random bits.
func newSecret() string { return rand.Text() }

// roomURL is the link of a room for a secret.
func (r *Rooms) roomURL(roomID, secret string) string {
	return fmt.Sprintf("%s/room/%s?secret=%s", strings.TrimRight(r.BaseURL, "/"), roomID, secret)
}

// updateRoom applies change to room id with compare-and-set, retrying on a
// concurrent write, and records command cmdID in the same write. change
// returns false to leave the room as it is. A room that command cmdID
// already changed is returned unchanged, so a re-run has no second effect.
// It returns errGone when the room does not exist.
func (r *Rooms) updateRoom(ctx context.Context, id, cmdID string, change func(*store.Room) bool) (*store.Room, error) {
	for {
		room, err := r.Store.GetRoom(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return nil, errGone
		}
		if err != nil {
			return nil, err
		}
		if room.WasApplied(cmdID) || !change(room) {
			return room, nil
		}
		version := room.Version
		room.MarkApplied(cmdID)
		err = r.Store.UpdateRoom(ctx, room, version)
		switch {
		case err == nil:
			return room, nil
		case errors.Is(err, store.ErrConflict):
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			continue
		case errors.Is(err, store.ErrNotFound):
			return nil, errGone
		default:
			return nil, err
		}
	}
}
