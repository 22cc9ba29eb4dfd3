package livekit

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	protologger "github.com/livekit/protocol/logger"
	lksdk "github.com/livekit/server-sdk-go/v2"
)

// readyTopic is the topic of the probes Join sends until the participant
// receives one; probes are not kept in Messages.
const readyTopic = "roomkeeper.testenv.ready"

// LogEnv, when set to 1, keeps server-sdk-go's (and pion's) client logs,
// which are discarded otherwise: they are many, and interleave across
// parallel tests.
const LogEnv = "ROOMKEEPER_LKSDK_LOG"

func init() {
	// Set once before any room exists: the SDK reads this global without a
	// lock when it creates peer connections.
	if os.Getenv(LogEnv) != "1" {
		lksdk.SetLogger(protologger.GetDiscardLogger())
	}
}

// DataMessage is a user data packet a participant received.
type DataMessage struct {
	Topic   string
	Payload []byte
	// From is the sender's identity; empty for data sent by the server API
	// (RoomService SendData).
	From string
}

// Participant is a real participant connected to a room with server-sdk-go.
type Participant struct {
	Room     *lksdk.Room
	Identity string

	mu           sync.Mutex
	messages     []DataMessage
	changed      chan struct{} // closed and replaced on every new message
	ready        chan struct{} // closed when the first probe arrives
	readyOnce    sync.Once
	disconnected chan struct{}
	reason       lksdk.DisconnectionReason
	leaveOnce    sync.Once
	discOnce     sync.Once
}

// Join connects a participant named identity to roomName on srv, with a
// token signed by the server's key, and disconnects it when the test ends.
// Without grants it may join, publish, subscribe and send data; a grant
// given is used as is, with RoomJoin and Room set to roomName.
func Join(t testing.TB, srv *Server, roomName, identity string, grants ...auth.VideoGrant) *Participant {
	t.Helper()
	grant := auth.VideoGrant{}
	if len(grants) > 0 {
		grant = grants[0]
	}
	grant.RoomJoin = true
	grant.Room = roomName
	token, err := auth.NewAccessToken(srv.APIKey, srv.APISecret).
		SetIdentity(identity).
		SetName(identity).
		SetVideoGrant(&grant).
		SetValidFor(time.Hour).
		ToJWT()
	if err != nil {
		t.Fatalf("participant token: %v", err)
	}
	return JoinWithToken(t, srv, token)
}

// JoinWithToken connects a participant with a token made elsewhere (by the
// code under test) and fails the test if the server refuses it. Like Join,
// it returns once the participant receives data messages.
func JoinWithToken(t testing.TB, srv *Server, token string) *Participant {
	t.Helper()
	p, err := Connect(t, srv, token)
	if err != nil {
		t.Fatalf("join %s: %v", srv.URL, err)
	}
	return p
}

// Connect is JoinWithToken that returns the server's refusal instead of
// failing, for tests of tokens that must not join.
func Connect(t testing.TB, srv *Server, token string) (*Participant, error) {
	t.Helper()
	p := &Participant{
		changed:      make(chan struct{}),
		ready:        make(chan struct{}),
		disconnected: make(chan struct{}),
	}
	cb := &lksdk.RoomCallback{
		OnDisconnectedWithReason: func(reason lksdk.DisconnectionReason) {
			p.discOnce.Do(func() {
				p.mu.Lock()
				p.reason = reason
				p.mu.Unlock()
				close(p.disconnected)
			})
		},
		ParticipantCallback: lksdk.ParticipantCallback{
			OnDataPacket: func(data lksdk.DataPacket, params lksdk.DataReceiveParams) {
				user, ok := data.(*lksdk.UserDataPacket)
				if !ok {
					return
				}
				if user.Topic == readyTopic && params.SenderIdentity == "" {
					p.readyOnce.Do(func() { close(p.ready) })
					return
				}
				p.mu.Lock()
				p.messages = append(p.messages, DataMessage{
					Topic:   user.Topic,
					Payload: slices.Clone(user.Payload),
					From:    params.SenderIdentity,
				})
				close(p.changed)
				p.changed = make(chan struct{})
				p.mu.Unlock()
			},
		},
	}
	room, err := lksdk.ConnectToRoomWithToken(srv.URL, token, cb,
		lksdk.WithAutoSubscribe(false),
		lksdk.WithConnectTimeout(15*time.Second),
	)
	if err != nil {
		return nil, err
	}
	p.Room = room
	p.Identity = room.LocalParticipant.Identity()
	t.Cleanup(p.Leave)
	if err := p.waitReady(srv, 10*time.Second); err != nil {
		t.Fatalf("participant %s: %v", p.Identity, err)
	}
	return p, nil
}

// waitReady sends probe data messages from the server API to the participant
// until one arrives. Joining returns before the subscriber's data channel is
// open, and a message sent before that is lost, so without this a test that
// sends data right after a join would be flaky.
func (p *Participant) waitReady(srv *Server, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	rs := lksdk.NewRoomServiceClient(srv.URL, srv.APIKey, srv.APISecret)
	topic := readyTopic
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		_, _ = rs.SendData(ctx, &livekit.SendDataRequest{
			Room:                  p.Room.Name(),
			Data:                  []byte("{}"),
			Kind:                  livekit.DataPacket_RELIABLE,
			DestinationIdentities: []string{p.Identity},
			Topic:                 &topic,
		})
		select {
		case <-p.ready:
			return nil
		case <-p.disconnected:
			return errors.New("disconnected before it could receive data")
		case <-ctx.Done():
			return fmt.Errorf("could not receive data within %s", timeout)
		case <-tick.C:
		}
	}
}

// Leave disconnects the participant (client initiated). Safe to call more
// than once; called at the end of the test.
func (p *Participant) Leave() {
	p.leaveOnce.Do(p.Room.Disconnect)
}

// Messages returns the data messages received so far.
func (p *Participant) Messages() []DataMessage {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.messages)
}

// WaitData waits up to timeout for a data message with topic and returns the
// first one, failing the test when none comes.
func (p *Participant) WaitData(t testing.TB, topic string, timeout time.Duration) DataMessage {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		p.mu.Lock()
		for _, m := range p.messages {
			if m.Topic == topic {
				p.mu.Unlock()
				return m
			}
		}
		changed := p.changed
		p.mu.Unlock()
		select {
		case <-changed:
		case <-deadline.C:
			t.Fatalf("participant %s: no data message with topic %q within %s (got %d others)", p.Identity, topic, timeout, len(p.Messages()))
			return DataMessage{}
		}
	}
}

// Disconnected is closed when the server disconnects the participant (the
// room was deleted, the participant removed, the server went away). A
// client-initiated Leave does not close it.
func (p *Participant) Disconnected() <-chan struct{} { return p.disconnected }

// WaitDisconnected waits up to timeout for the server to disconnect the
// participant and returns the reason, failing the test otherwise.
func (p *Participant) WaitDisconnected(t testing.TB, timeout time.Duration) lksdk.DisconnectionReason {
	t.Helper()
	select {
	case <-p.disconnected:
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.reason
	case <-time.After(timeout):
		t.Fatalf("participant %s was not disconnected within %s", p.Identity, timeout)
		return ""
	}
}
