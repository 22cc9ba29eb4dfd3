package rooms

import (
	"context"
	"encoding/json"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/store"
)

// Topics of the data messages participants receive when their room changes
// (the signals OpenVidu Meet's frontend listens to).
const (
	TopicPreferencesUpdated = "MEET_ROOM_PREFERENCES_UPDATED"
	TopicMarkedForDeletion  = "MEET_ROOM_MARKED_FOR_DELETION"
)

// signalTimeout bounds one signal (the meeting check and the send), so a
// slow or unreachable LiveKit delays a command by at most this much.
const signalTimeout = 10 * time.Second

// preferencesSignal is the payload of TopicPreferencesUpdated.
type preferencesSignal struct {
	RoomID      string             `json:"roomId"`
	Preferences events.Preferences `json:"preferences"`
}

// markedSignal is the payload of TopicMarkedForDeletion.
type markedSignal struct {
	RoomID string `json:"roomId"`
}

// SignalObserver learns the outcome of every participant signal (a failed
// signal never fails the command that caused it; it is logged and
// reported here). internal/metrics implements it.
type SignalObserver interface {
	// Signaled reports one signal of topic that was sent (err nil) or
	// failed. A room without a live meeting gets no signal and no call.
	Signaled(topic string, err error)
}

// signal tells the participants of room roomID's live meeting, if it has
// one, about a change: a reliable LiveKit data message on topic. A room
// without a live meeting gets nothing. It never fails: an error is logged
// and counted. Signals are at least once: a command re-run after a crash
// signals again, which is harmless, since each payload carries the whole
// new state.
func (r *Rooms) signal(ctx context.Context, log logrus.FieldLogger, roomID, topic string, payload any) {
	if r.Meetings == nil {
		return
	}
	fail := func(err error, msg string) {
		r.signaled(topic, err)
		log.WithError(err).WithFields(logrus.Fields{"room_id": roomID, "topic": topic}).Warn(msg)
	}
	ctx, cancel := context.WithTimeout(ctx, signalTimeout)
	defer cancel()
	live, err := r.Meetings.HasActiveMeeting(ctx, roomID)
	if err != nil {
		fail(err, "participant signal not sent: cannot tell whether the room has a meeting")
		return
	}
	if !live {
		return
	}
	raw, err := json.Marshal(payload)
	if err != nil {
		fail(err, "participant signal not sent: cannot encode its payload")
		return
	}
	if err := r.Meetings.SendData(ctx, roomID, topic, raw); err != nil {
		fail(err, "participant signal failed")
		return
	}
	r.signaled(topic, nil)
}

// sendSignal sends a data message on topic to the participants of room
// roomID, which LiveKit has, and returns the error; the observer learns
// the outcome.
func (r *Rooms) sendSignal(ctx context.Context, roomID, topic string, payload any) error {
	raw, err := json.Marshal(payload)
	if err == nil {
		ctx, cancel := context.WithTimeout(ctx, signalTimeout)
		err = r.Meetings.SendData(ctx, roomID, topic, raw)
		cancel()
	}
	r.signaled(topic, err)
	return err
}

func (r *Rooms) signaled(topic string, err error) {
	if r.Signals != nil {
		r.Signals.Signaled(topic, err)
	}
}

// signalPreferences tells a room's participants its new preferences.
func (r *Rooms) signalPreferences(ctx context.Context, log logrus.FieldLogger, room *store.Room) {
	r.signal(ctx, log, room.RoomID, TopicPreferencesUpdated, preferencesSignal{RoomID: room.RoomID, Preferences: room.Preferences})
}

// signalMarkedLog tells the participants of room roomID that it is marked
// for deletion (it goes when their meeting ends). Call it after the mark is
// stored; it never fails (see signal).
func (r *Rooms) signalMarkedLog(ctx context.Context, log logrus.FieldLogger, roomID string) {
	r.signal(ctx, log, roomID, TopicMarkedForDeletion, markedSignal{RoomID: roomID})
}
