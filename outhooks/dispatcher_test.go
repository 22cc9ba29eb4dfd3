package outhooks_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/stretchr/testify/require"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/internal/testenv"
	"github.com/roomkeeper/roomkeeper/natsapi"
	"github.com/roomkeeper/roomkeeper/outhooks"
)

// Every webhook event reaches the receivers that want it, signed, in
// upstream's shape, each with its event ID; a receiver with a filter gets
// only its events; domain events that are not webhook events reach none.
func TestDeliversEventsWithFilters(t *testing.T) {
	t.Parallel()
	b := setup(t)
	all, meetings := newReceiver(t), newReceiver(t)
	targets, err := outhooks.ParseTargets(all.URL("/all") + "," + meetings.URL("/m") + "|meetingStarted,meetingEnded")
	require.NoError(t, err)
	m := &counts{}
	b.start(t, outhooks.Config{Targets: targets, Metrics: m})

	const room = "Room-aaaaaaaaaaaaaaa"
	want := []events.Event{
		b.publish(t, "lk:EV_1", events.EventMeetingStarted, room, sampleRoom(room)),
		b.publish(t, "lk:EV_2", events.EventRecordingStarted, room, sampleRecording(room, "EG_1", "starting")),
		b.publish(t, "lk:EV_3", events.EventRecordingUpdated, room, sampleRecording(room, "EG_1", "active")),
		b.publish(t, "lk:EV_4", events.EventRecordingEnded, room, sampleRecording(room, "EG_1", "complete")),
		b.publish(t, "lk:EV_5", events.EventMeetingEnded, room, sampleRoom(room)),
	}
	b.publish(t, "create-1", events.EventCreated, room, sampleRoom(room))
	b.publish(t, "lk:EV_6", events.EventRecordingDeleted, room, sampleRecording(room, "EG_1", "complete"))

	var wantIDs []string
	for _, ev := range want {
		wantIDs = append(wantIDs, ev.ID)
	}
	require.Eventually(t, func() bool { return len(all.ids()) == 5 && len(meetings.ids()) == 2 }, 20*time.Second, 20*time.Millisecond)
	require.ElementsMatch(t, wantIDs, all.ids())
	require.ElementsMatch(t, []string{want[0].ID, want[4].ID}, meetings.ids())
	byID := map[string]delivery{}
	for _, d := range all.deliveries() {
		byID[d.EventID] = d
	}
	for i, name := range []string{"meetingStarted", "recordingStarted", "recordingUpdated", "recordingEnded", "meetingEnded"} {
		require.Equal(t, name, byID[want[i].ID].Event)
	}
	require.Equal(t, room, byID[want[0].ID].Data["roomId"])
	require.Equal(t, room+"--EG_1", byID[want[3].ID].Data["recordingId"])
	require.Equal(t, "complete", byID[want[3].ID].Data["status"])
	time.Sleep(300 * time.Millisecond)
	require.Len(t, all.deliveries(), 5, "nothing more: created and recording_deleted make no webhook")
	require.Equal(t, 2, m.get("meetingStarted/"+outhooks.OutcomeDelivered))
	require.Equal(t, 1, m.get("recordingEnded/"+outhooks.OutcomeDelivered))
}

// A receiver answering a 4xx other than 408 and 429 is given up on at
// once: one try, a dead letter with the reason, the event ID and the
// target, which roomctl dead replay refuses with a clear message.
func TestRejectedWebhookIsDeadLettered(t *testing.T) {
	t.Parallel()
	b := setup(t)
	r := newReceiver(t)
	r.Status.Store(http.StatusBadRequest)
	ok := newReceiver(t)
	m := &counts{}
	// A URL with credentials: they stay out of the dead letter, the logs
	// and the consumer's description.
	secretURL := "http://hookuser:hookpass@" + r.addr + "/hook?token=s3cret&v=1"
	redacted := "http://hookuser:xxxxx@" + r.addr + "/hook?token=xxxxx&v=xxxxx"
	logs := &testenv.Buffer{}
	log := logrus.New()
	log.SetOutput(logs)
	log.SetLevel(logrus.DebugLevel)
	b.start(t, outhooks.Config{Targets: []outhooks.Target{{URL: secretURL}, {URL: ok.URL("/ok")}}, Metrics: m, RetryMin: 50 * time.Millisecond, Log: log})
	const room = "Room-bbbbbbbbbbbbbbb"
	ev := b.publish(t, "lk:EV_1", events.EventMeetingStarted, room, sampleRoom(room))

	require.Eventually(t, func() bool { return len(b.deadLetters(t)) == 1 }, 20*time.Second, 20*time.Millisecond)
	dl := b.deadLetters(t)[0]
	require.Equal(t, "rooms.dead.outgoing_meeting_started", dl.Subject)
	require.Equal(t, events.EventSubject(events.EventMeetingStarted), dl.OriginalSubject)
	require.Equal(t, ev.ID, dl.CommandID)
	require.Equal(t, redacted, dl.TargetURL)
	require.Equal(t, "HTTP 400 Bad Request", dl.Reason)
	require.JSONEq(t, string(mustJSON(t, ev)), string(dl.Data), "the body is the domain event")
	require.Len(t, r.deliveries(), 1, "no retry")
	require.Eventually(t, func() bool { return len(ok.ids()) == 1 }, 10*time.Second, 20*time.Millisecond, "the other receiver gets it")
	require.Equal(t, []string{ev.ID}, ok.ids())
	require.Equal(t, 1, m.get("meetingStarted/"+outhooks.OutcomeRejected))

	_, err := natsapi.ReplayDead(context.Background(), b.JS, dl.Seq, "")
	require.ErrorIs(t, err, natsapi.ErrNotReplayable)
	require.ErrorContains(t, err, redacted)
	cons, err := b.JS.Consumer(context.Background(), events.StreamEvents, outhooks.Target{URL: secretURL}.Consumer())
	require.NoError(t, err)
	require.Contains(t, cons.CachedInfo().Config.Description, redacted)
	require.Contains(t, logs.String(), "hookuser:xxxxx")
	require.NotContains(t, logs.String()+cons.CachedInfo().Config.Description, "hookpass")
	require.NotContains(t, logs.String()+cons.CachedInfo().Config.Description, "s3cret")
}

// A receiver that keeps failing (5xx, 429) is retried with backoff until
// Tries deliveries were made, then given up: a dead letter.
func TestRetriedThenDeadLettered(t *testing.T) {
	t.Parallel()
	b := setup(t)
	r := newReceiver(t)
	r.Status.Store(http.StatusServiceUnavailable)
	m := &counts{}
	b.start(t, outhooks.Config{Targets: []outhooks.Target{{URL: r.URL("/hook")}}, Metrics: m,
		RetryMin: 100 * time.Millisecond, RetryMax: 200 * time.Millisecond, Tries: 4})
	const room = "Room-ccccccccccccccc"
	ev := b.publish(t, "lk:EV_1", events.EventRecordingStarted, room, sampleRecording(room, "EG_1", "starting"))

	require.Eventually(t, func() bool { return len(b.deadLetters(t)) == 1 }, 20*time.Second, 20*time.Millisecond)
	dl := b.deadLetters(t)[0]
	require.Equal(t, "rooms.dead.outgoing_recording_started", dl.Subject)
	require.Equal(t, "given up after 4 tries: HTTP 503 Service Unavailable", dl.Reason)
	require.Equal(t, ev.ID, dl.CommandID)
	time.Sleep(500 * time.Millisecond)
	require.Len(t, r.deliveries(), 4)
	require.Equal(t, []string{ev.ID}, r.ids(), "every try carries the event ID")
	bodies := map[string]bool{}
	for _, d := range r.deliveries() {
		bodies[string(d.Body)] = true
	}
	require.Len(t, bodies, 1, "every try sends the same body")
	require.Equal(t, 3, m.get("recordingStarted/"+outhooks.OutcomeRetry))
	require.Equal(t, 1, m.get("recordingStarted/"+outhooks.OutcomeExhausted))
}

// A receiver down for a minute (connections refused) gets the event once
// it is back, with the default schedule's growth (capped here at 8s to
// keep the wait after its return short).
func TestReceiverDownForAMinute(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("a minute long")
	}
	b := setup(t)
	r := newReceiver(t)
	r.down()
	m := &counts{}
	b.start(t, outhooks.Config{Targets: []outhooks.Target{{URL: r.URL("/hook")}}, Metrics: m, RetryMax: 8 * time.Second})
	const room = "Room-ddddddddddddddd"
	ev := b.publish(t, "lk:EV_1", events.EventMeetingEnded, room, sampleRoom(room))
	time.Sleep(time.Minute)
	require.Empty(t, r.deliveries())
	require.GreaterOrEqual(t, m.get("meetingEnded/"+outhooks.OutcomeRetry), 5, "retried while down")
	r.up(t)
	require.Eventually(t, func() bool { return len(r.ids()) == 1 }, 20*time.Second, 50*time.Millisecond)
	require.Equal(t, []string{ev.ID}, r.ids())
	require.Empty(t, b.deadLetters(t))
}

// A dispatcher that stops mid-delivery (its context ends while the
// receiver holds the POST) leaves the event to the next one, which
// delivers it; a dispatcher whose connection dies mid-delivery cannot ack
// what the receiver took, so the next one delivers it again: a duplicate
// with the same event ID and body.
func TestDispatcherStoppedMidDelivery(t *testing.T) {
	t.Parallel()
	for _, how := range []string{"stopped", "connection-lost"} {
		t.Run(how, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			r := newReceiver(t)
			arrived, release := make(chan struct{}, 4), make(chan struct{})
			hold := func(req *http.Request) {
				arrived <- struct{}{}
				select {
				case <-release:
				case <-req.Context().Done():
				}
			}
			r.Hold.Store(&hold)
			cfg := outhooks.Config{Targets: []outhooks.Target{{URL: r.URL("/hook")}}, Timeout: 5 * time.Second, AckWait: 6 * time.Second}
			first := b.start(t, cfg)
			const room = "Room-eeeeeeeeeeeeeee"
			ev := b.publish(t, "lk:EV_1", events.EventMeetingStarted, room, sampleRoom(room))
			<-arrived
			if how == "stopped" {
				first.stop()
			} else {
				first.NC.Close()
				close(release) // the receiver takes it; the ack cannot go
			}
			r.Hold.Store(nil)
			b.start(t, cfg)
			// The first POST (interrupted, or taken without an ack) and the
			// next dispatcher's.
			require.Eventually(t, func() bool { return len(r.deliveries()) >= 2 }, 30*time.Second, 50*time.Millisecond)
			require.Equal(t, []string{ev.ID}, r.ids(), "every delivery carries the event ID")
			ds := r.deliveries()
			for _, d := range ds {
				require.Equal(t, string(ds[0].Body), string(d.Body))
			}
			time.Sleep(500 * time.Millisecond)
			require.Len(t, r.deliveries(), 2, "delivered, then no more")
		})
	}
}

// A target's consumer deleted under a running dispatcher is made again,
// and the events published after that are delivered.
func TestConsumerDeletedIsMadeAgain(t *testing.T) {
	t.Parallel()
	b := setup(t)
	r := newReceiver(t)
	target := outhooks.Target{URL: r.URL("/hook")}
	b.start(t, outhooks.Config{Targets: []outhooks.Target{target}, ConsumerCheck: 200 * time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, b.JS.DeleteConsumer(ctx, events.StreamEvents, target.Consumer()))
	require.Eventually(t, func() bool {
		_, err := b.JS.Consumer(ctx, events.StreamEvents, target.Consumer())
		return err == nil
	}, 10*time.Second, 50*time.Millisecond, "made again")
	const room = "Room-fffffffffffffff"
	ev := b.publish(t, "lk:EV_1", events.EventMeetingStarted, room, sampleRoom(room))
	require.Eventually(t, func() bool { return len(r.ids()) == 1 }, 10*time.Second, 20*time.Millisecond)
	require.Equal(t, []string{ev.ID}, r.ids())
}
