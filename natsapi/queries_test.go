package natsapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/internal/testenv"
	"github.com/roomkeeper/roomkeeper/natsapi"
)

func publishEvent(t *testing.T, js jetstream.JetStream, cause, roomID string) {
	t.Helper()
	ev, err := events.NewEvent(cause, events.EventCreated, roomID, time.Now(), map[string]string{"roomId": roomID})
	require.NoError(t, err)
	raw, err := json.Marshal(ev)
	require.NoError(t, err)
	_, err = js.Publish(t.Context(), events.EventSubject(events.EventCreated), raw, jetstream.WithMsgID(ev.ID))
	require.NoError(t, err)
}

func TestWatchDeliversEventsPublishedAfterTheCall(t *testing.T) {
	t.Parallel()
	n := testenv.StartNATS(t)
	nc, js := n.Bootstrap(t, nil)
	client, err := natsapi.NewClient(nc)
	require.NoError(t, err)
	publishEvent(t, js, "before", "Old-000000000000001")

	ctx, cancel := context.WithCancel(t.Context())
	var mu sync.Mutex
	var got []events.Event
	done := make(chan error, 1)
	go func() {
		done <- client.Watch(ctx, func(ev events.Event) {
			mu.Lock()
			got = append(got, ev)
			mu.Unlock()
		})
	}()
	// Not an event: skipped. Watch starts when its goroutine runs, so
	// publish until it has seen two events.
	_, err = js.Publish(t.Context(), events.EventSubject("junk"), []byte("not json"))
	require.NoError(t, err)
	i := 0
	require.Eventually(t, func() bool {
		i++
		publishEvent(t, js, fmt.Sprintf("after-%d", i), fmt.Sprintf("New-%015d", i))
		mu.Lock()
		defer mu.Unlock()
		return len(got) >= 2
	}, 10*time.Second, 50*time.Millisecond)
	cancel()
	require.NoError(t, <-done)
	require.GreaterOrEqual(t, len(got), 2)
	for _, ev := range got {
		require.NotEqual(t, "Old-000000000000001", ev.Subject, "an event from before the call")
	}
	require.Less(t, got[0].Subject, got[1].Subject, "in order")
	require.Equal(t, events.EventCreated, got[0].ShortType())
}

func TestRequestErrors(t *testing.T) {
	t.Parallel()
	n := testenv.StartNATS(t)
	nc, _ := n.Bootstrap(t, nil)
	client, err := natsapi.NewClient(nc)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()

	// Nobody answers.
	_, err = client.GetRoom(ctx, "Any-000000000000001")
	require.ErrorIs(t, err, natsapi.ErrNoService)

	// A micro error with no {"error"} body keeps its headers' meaning.
	sub, err := nc.Subscribe(events.APIRole, func(m *nats.Msg) {
		reply := nats.NewMsg(m.Reply)
		reply.Header.Set(events.HeaderServiceError, "go away")
		reply.Header.Set(events.HeaderServiceErrorCode, "503")
		_ = m.RespondMsg(reply)
	})
	require.NoError(t, err)
	defer func() { _ = sub.Unsubscribe() }()
	_, err = client.Role(ctx, "Any-000000000000001", "secret")
	e, ok := events.AsError(err)
	require.True(t, ok, "%v", err)
	require.Equal(t, events.CodeUnavailable, e.Code)
	require.Equal(t, "go away", e.Message)
}

func TestStatusOf(t *testing.T) {
	t.Parallel()
	for code, status := range map[string]string{
		events.CodeInvalidArgument: "422", events.CodeInvalidSecret: "401", events.CodeForbidden: "403",
		events.CodeNotFound: "404", events.CodeConflict: "409", events.CodeUnavailable: "503", events.CodeInternal: "500", "other": "500",
	} {
		require.Equal(t, status, events.StatusOf(code), code)
	}
}

// A failed reply's REST status reaches the caller's *Error: from the body,
// or from the header alone when there is no body (422 and 409 included).
func TestRequestErrorStatuses(t *testing.T) {
	t.Parallel()
	n := testenv.StartNATS(t)
	nc, _ := n.Bootstrap(t, nil)
	client, err := natsapi.NewClient(nc)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()

	var (
		mu           sync.Mutex
		body, header string
	)
	sub, err := nc.Subscribe(events.APIConfig, func(m *nats.Msg) {
		mu.Lock()
		defer mu.Unlock()
		reply := nats.NewMsg(m.Reply)
		reply.Header.Set(events.HeaderServiceError, "no")
		reply.Header.Set(events.HeaderServiceErrorCode, header)
		reply.Data = []byte(body)
		_ = m.RespondMsg(reply)
	})
	require.NoError(t, err)
	defer func() { _ = sub.Unsubscribe() }()
	for _, tc := range []struct {
		body, header, code string
		status             int
	}{
		{`{"status":400,"error":{"code":"invalid_secret","message":"no"}}`, "400", events.CodeInvalidSecret, 400},
		{`{"status":404,"error":{"code":"not_found","message":"no"}}`, "404", events.CodeNotFound, 404},
		{``, "422", events.CodeInvalidArgument, 422},
		{``, "400", events.CodeInvalidArgument, 422},
		{``, "409", events.CodeConflict, 409},
	} {
		mu.Lock()
		body, header = tc.body, tc.header
		mu.Unlock()
		_, err := client.RoomConfig(ctx, "any")
		e, ok := events.AsError(err)
		require.True(t, ok, "%v", err)
		require.Equal(t, tc.code, e.Code, "%+v", tc)
		require.Equal(t, tc.status, e.HTTPStatus(), "%+v", tc)
	}
}

// TestWatchWithLastWalksBack: --last finds the last events of a room far
// back in the stream (more windows than the first), in order, then
// follows the new ones; Since starts at a time; Type filters.
func TestWatchWithLastWalksBack(t *testing.T) {
	t.Parallel()
	n := testenv.StartNATS(t)
	nc, js := n.Bootstrap(t, nil)
	client, err := natsapi.NewClient(nc)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	publish := func(typ, room string, i int) {
		ev, err := events.NewEvent(fmt.Sprintf("cause-%d", i), typ, room, time.Now(), map[string]int{"i": i})
		require.NoError(t, err)
		raw, err := json.Marshal(ev)
		require.NoError(t, err)
		_, err = js.Publish(ctx, events.EventPrefix+typ, raw)
		require.NoError(t, err)
	}
	// Room old's three events come first, then 1,500 of other rooms.
	publish(events.EventCreated, "old", 0)
	publish(events.EventStatusUpdated, "old", 1)
	publish(events.EventDeleted, "old", 2)
	for i := range 1500 {
		publish(events.EventCreated, fmt.Sprintf("room-%d", i%7), 3+i)
	}
	watch := func(o natsapi.WatchOptions, count int, during func()) []string {
		t.Helper()
		wctx, wcancel := context.WithTimeout(ctx, 20*time.Second)
		defer wcancel()
		var got []string
		done := make(chan error, 1)
		go func() {
			done <- client.WatchWith(wctx, o, func(ev events.Event) {
				got = append(got, ev.ShortType()+" "+ev.Subject)
				if len(got) == count {
					wcancel()
				}
			})
		}()
		if during != nil {
			during()
		}
		require.NoError(t, <-done)
		require.Len(t, got, count)
		return got
	}
	require.Equal(t, []string{"status_updated old", "deleted old"},
		watch(natsapi.WatchOptions{Last: 2, RoomID: "old"}, 2, nil))
	require.Equal(t, []string{"created old", "status_updated old", "deleted old", "created old"},
		watch(natsapi.WatchOptions{Last: 10, RoomID: "old"}, 4, func() {
			// Follows: a new event of the room after the backlog.
			time.Sleep(200 * time.Millisecond)
			publish(events.EventCreated, "old", 9999)
		}))
	require.Equal(t, []string{"deleted old"},
		watch(natsapi.WatchOptions{Last: 1, Type: events.EventDeleted}, 1, nil))
	require.Equal(t, []string{"created old", "status_updated old"},
		watch(natsapi.WatchOptions{Since: time.Now().Add(-time.Hour)}, 2, nil))

	for _, o := range []natsapi.WatchOptions{{Last: -1}, {Last: 1, Since: time.Now()}, {Type: "a.b"}} {
		require.ErrorIs(t, client.WatchWith(ctx, o, func(events.Event) {}), natsapi.ErrConfig)
	}
}
