package nemesis

import (
	"fmt"
	"time"

	"github.com/livekit/protocol/auth"
	lksdk "github.com/livekit/server-sdk-go/v2"

	"github.com/roomkeeper/roomkeeper/events"
)

// maxMeetings bounds the participants in meetings at once: each is a
// WebRTC client in this process.
const maxMeetings = 3

// prepareMeeting draws a meeting in a known room: a participant joins the
// room in LiveKit (which creates it there; its room_started goes to the
// webhooks receiver), a graceful or forced delete of the room follows
// while the participant is in, and the participant leaves after a while.
// A graceful delete marks the room; its room_finished, once the
// participant left, deletes it, or the sweep's reconciliation does when
// LiveKit lost the room. A forced one deletes LiveKit's room (the
// participant is sent away) and the record at once.
func (l *load) prepareMeeting() func() {
	rng := l.rng
	rooms := l.pick(1)
	if len(rooms) == 0 {
		return func() {}
	}
	room := rooms[0]
	force := rng.IntN(3) == 0
	before := time.Second + time.Duration(rng.Int64N(int64(3*time.Second)))
	stay := 2*time.Second + time.Duration(rng.Int64N(int64(10*time.Second)))
	identity := l.nextID("participant")
	deleteID := l.nextID("delete")
	body := mustJSON(deleteBody([]string{room}, force))
	return func() {
		l.mu.Lock()
		if l.inMeeting >= maxMeetings {
			l.queries["meeting skipped (enough at once)"]++
			l.mu.Unlock()
			return
		}
		l.inMeeting++
		l.mu.Unlock()
		defer func() {
			l.mu.Lock()
			l.inMeeting--
			l.lastMeetingEnd = time.Now()
			l.mu.Unlock()
		}()
		p, err := l.join(room, identity)
		l.mu.Lock()
		switch {
		case err != nil:
			l.queries["meeting join failed"]++
		case force:
			l.queries["meeting then forced delete"]++
		default:
			l.queries["meeting then graceful delete"]++
		}
		l.mu.Unlock()
		if err == nil {
			defer p.Disconnect()
			time.Sleep(before)
		}
		l.publish(deleteID, events.SubjectDelete, body, false)
		if err == nil {
			time.Sleep(stay)
		}
	}
}

// join connects a participant to room on the livekit-server, with a token
// signed by its key. It fails while the server is away.
func (l *load) join(room, identity string) (*lksdk.Room, error) {
	token, err := auth.NewAccessToken(l.s.lk.APIKey, l.s.lk.APISecret).
		SetIdentity(identity).
		SetVideoGrant(&auth.VideoGrant{RoomJoin: true, Room: room}).
		SetValidFor(time.Hour).
		ToJWT()
	if err != nil {
		return nil, fmt.Errorf("participant token: %w", err)
	}
	return lksdk.ConnectToRoomWithToken(l.s.lk.URL, token, &lksdk.RoomCallback{},
		lksdk.WithAutoSubscribe(false),
		lksdk.WithConnectTimeout(15*time.Second),
	)
}
