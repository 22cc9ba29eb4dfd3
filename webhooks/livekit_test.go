package webhooks

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/internal/testenv"
	lktest "github.com/roomkeeper/roomkeeper/internal/testenv/livekit"
)

// liveBundle is a real livekit-server posting its webhooks to a receiver.
type liveBundle struct {
	*testBundle
	lk    *lktest.Server
	rooms *lksdk.RoomServiceClient
}

// setupLive starts NATS, a receiver on 127.0.0.1 and a livekit-server whose
// webhooks go to it, signed with the server's generated key pair.
func setupLive(t *testing.T) *liveBundle {
	t.Helper()
	if testing.Short() {
		t.Skip("needs livekit-server")
	}
	n := testenv.StartNATS(t)
	nc, js := n.Bootstrap(t, nil)

	// The server's key pair is made by Start, which needs the webhook URL:
	// bind the listener first, start serving once the receiver exists.
	mux := http.NewServeMux()
	web := httptest.NewUnstartedServer(mux)
	t.Cleanup(web.Close)
	url := "http://" + web.Listener.Addr().String() + Path
	lk := lktest.Start(t, lktest.Options{WebhookURL: url, EmptyTimeout: 3 * time.Second})

	m := &countMetrics{}
	rc, err := New(Config{APIKey: lk.APIKey, APISecret: lk.APISecret, Metrics: m}, js, nil)
	require.NoError(t, err)
	rc.Routes(mux)
	web.Start()

	return &liveBundle{
		testBundle: &testBundle{nats: n, nc: nc, js: js, rc: rc, url: url, metrics: m},
		lk:         lk,
		rooms:      lksdk.NewRoomServiceClient(lk.URL, lk.APIKey, lk.APISecret),
	}
}

func (b *liveBundle) createRoom(t *testing.T, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := b.rooms.CreateRoom(ctx, &livekit.CreateRoomRequest{Name: name, EmptyTimeout: 3})
	require.NoError(t, err)
}

// waitEvent waits for the event of room on subject and checks it is stored
// as LiveKit sent it: a WebhookEvent whose id is the message ID.
func (b *liveBundle) waitEvent(t *testing.T, subject, room string, within time.Duration) *livekit.WebhookEvent {
	t.Helper()
	var msg *jetstream.RawStreamMsg
	require.Eventually(t, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		s, err := b.js.Stream(ctx, events.StreamWebhooks)
		if err != nil {
			return false
		}
		msg, err = s.GetLastMsgForSubject(ctx, subject)
		return err == nil
	}, within, 50*time.Millisecond, "no %s stored", subject)
	var ev livekit.WebhookEvent
	require.NoError(t, protojson.UnmarshalOptions{DiscardUnknown: true}.Unmarshal(msg.Data, &ev))
	require.Equal(t, room, ev.GetRoom().GetName())
	require.Equal(t, subject, events.WebhookPrefix+ev.GetEvent())
	require.NotEmpty(t, ev.GetId())
	require.Equal(t, ev.GetId(), msg.Header.Get(jetstream.MsgIDHeader))
	return &ev
}

// TestLiveKitRoomLifecycle: a real livekit-server's room_started and
// room_finished for a room created through server-sdk-go land on the
// stream.
func TestLiveKitRoomLifecycle(t *testing.T) {
	t.Parallel()
	b := setupLive(t)
	b.createRoom(t, "live-lifecycle")

	b.waitEvent(t, events.SubjectRoomStarted, "live-lifecycle", 10*time.Second)
	// Nobody joins: the room finishes after its 3 s empty timeout.
	b.waitEvent(t, events.SubjectRoomFinished, "live-lifecycle", 15*time.Second)
	require.EqualValues(t, 2, b.stored(t))
	require.Zero(t, b.metrics.get(OutcomeUnauthorized))
	require.Zero(t, b.metrics.get(OutcomeMalformed))
}

// TestLiveKitRetryLandsAfterOutage: room_finished sent while JetStream
// cannot store it is answered 503, and LiveKit's own retry lands it, once,
// when JetStream is back.
func TestLiveKitRetryLandsAfterOutage(t *testing.T) {
	t.Parallel()
	b := setupLive(t)
	b.createRoom(t, "live-outage")
	started := b.waitEvent(t, events.SubjectRoomStarted, "live-outage", 10*time.Second)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, b.js.DeleteStream(ctx, events.StreamWebhooks))

	// room_finished comes after about 3.5 s and is refused.
	require.Eventually(t, func() bool { return b.metrics.get(OutcomeUnavailable) > 0 },
		15*time.Second, 20*time.Millisecond, "room_finished was never refused")
	b.rebootstrap(t)

	finished := b.waitEvent(t, events.SubjectRoomFinished, "live-outage", 20*time.Second)
	require.NotEqual(t, started.GetId(), finished.GetId())
	require.EqualValues(t, 1, b.stored(t))            // room_started went with the deleted stream
	require.Equal(t, 2, b.metrics.get(OutcomeStored)) // room_started, then the retried room_finished
}
