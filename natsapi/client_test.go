package natsapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/internal/testenv"
	"github.com/roomkeeper/roomkeeper/natsapi"
)

// publishResult stores a result for command id as a worker does.
func publishResult(t *testing.T, js jetstream.JetStream, id, subject string) {
	t.Helper()
	raw, err := json.Marshal(events.Result{CommandID: id, Type: subject, OK: true, Data: json.RawMessage(`{}`)})
	require.NoError(t, err)
	_, err = js.Publish(t.Context(), events.ResultSubject(id), raw, jetstream.WithMsgID(events.ResultMsgID(id)))
	require.NoError(t, err)
}

func consumerCount(t *testing.T, js jetstream.JetStream, stream string) int {
	t.Helper()
	s, err := js.Stream(t.Context(), stream)
	require.NoError(t, err)
	info, err := s.Info(t.Context())
	require.NoError(t, err)
	return info.State.Consumers
}

// The server allows a bounded number of consumers per stream (1,000 by
// default on ROOMS_RESULTS's account): a client that left one behind per
// call failed after that many calls.
func TestDoAndResultLeaveNoConsumer(t *testing.T) {
	t.Parallel()
	n := testenv.StartNATS(t)
	nc, js := n.Bootstrap(t, nil)
	client, err := natsapi.NewClient(nc)
	require.NoError(t, err)
	before := consumerCount(t, js, events.StreamResults)

	const calls = 1100
	subs := 0 // the connection's own (request inbox) after the first call
	for i := range calls {
		id := fmt.Sprintf("leak-%d", i)
		publishResult(t, js, id, events.SubjectSweep)
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		if i%2 == 0 {
			_, err = client.Do(ctx, id, events.Sweep{})
		} else {
			_, err = client.Result(ctx, id)
		}
		cancel()
		require.NoError(t, err, "call %d", i)
		if i == 0 {
			subs = nc.NumSubscriptions()
		}
	}
	// One that times out waiting leaves nothing behind either.
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	_, err = client.Result(ctx, "never-answered")
	require.ErrorIs(t, err, natsapi.ErrTimeout)

	require.Equal(t, before, consumerCount(t, js, events.StreamResults))
	require.Equal(t, subs, nc.NumSubscriptions(), "subscriptions left on the connection")
}

// A result published after Result subscribed but not (or no longer) in the
// stream when it reads is taken from the subscription: here it is purged
// from the stream right after it was published, so only a subscription made
// before the read sees it.
func TestResultPublishedBetweenSubscribeAndReadIsNotMissed(t *testing.T) {
	t.Parallel()
	n := testenv.StartNATS(t)
	nc, js := n.Bootstrap(t, nil)
	client, err := natsapi.NewClient(nc)
	require.NoError(t, err)
	const id = "between-1"
	natsapi.SetAfterSubscribe(client, func() {
		publishResult(t, js, id, events.SubjectCreate)
		s, err := js.Stream(t.Context(), events.StreamResults)
		require.NoError(t, err)
		require.NoError(t, s.Purge(t.Context(), jetstream.WithPurgeSubject(events.ResultSubject(id))))
	})
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	r, err := client.Result(ctx, id)
	require.NoError(t, err)
	require.Equal(t, id, r.CommandID)
	require.Equal(t, events.SubjectCreate, r.Type)
}

// A result that comes while Result waits is returned.
func TestResultWaitsForALaterResult(t *testing.T) {
	t.Parallel()
	n := testenv.StartNATS(t)
	nc, js := n.Bootstrap(t, nil)
	client, err := natsapi.NewClient(nc)
	require.NoError(t, err)
	const id = "later-1"
	subscribed := make(chan struct{})
	natsapi.SetAfterSubscribe(client, func() { close(subscribed) })
	published := make(chan error, 1)
	go func() {
		<-subscribed
		time.Sleep(100 * time.Millisecond)
		raw, err := json.Marshal(events.Result{CommandID: id, Type: events.SubjectDelete, OK: true})
		if err == nil {
			_, err = js.Publish(context.Background(), events.ResultSubject(id), raw)
		}
		published <- err
	}()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	r, err := client.Result(ctx, id)
	require.NoError(t, err)
	require.Equal(t, events.SubjectDelete, r.Type)
	require.NoError(t, <-published)
}

func TestResultRejectsAMalformedCommandID(t *testing.T) {
	t.Parallel()
	n := testenv.StartNATS(t)
	nc, _ := n.Bootstrap(t, nil)
	client, err := natsapi.NewClient(nc)
	require.NoError(t, err)
	// A wildcard would subscribe to every command's result.
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	_, err = client.Result(ctx, "*")
	require.ErrorIs(t, err, natsapi.ErrConfig)
}

// The ledger keeps the first command's result for an ID: a command of
// another type sent with that ID gets an invalid_argument error, not the
// first command's result as its own.
func TestDoWithTheIDOfACommandOfAnotherType(t *testing.T) {
	t.Parallel()
	n := testenv.StartNATS(t)
	nc, js := n.Bootstrap(t, nil)
	client, err := natsapi.NewClient(nc)
	require.NoError(t, err)
	publishResult(t, js, "reused-1", events.SubjectCreate)

	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	r, err := client.Do(ctx, "reused-1", events.DeleteRooms{RoomIDs: []string{"Room-000000000000001"}})
	require.Nil(t, r)
	e, ok := events.AsError(err)
	require.True(t, ok, "error %v is not an *events.Error", err)
	require.Equal(t, events.CodeInvalidArgument, e.Code)
	require.Contains(t, e.Message, "command ID reused-1 belongs to a create command")
}

// A result stored without reaching the subscription (its copy lost in a
// reconnect) is found by a later read of the stream. Here it comes into
// ROOMS_RESULTS from a sourced stream, which publishes nothing on
// rooms.results.<id>.
func TestResultFoundByALaterReadWhenItsCopyIsLost(t *testing.T) {
	t.Parallel()
	n := testenv.StartNATS(t)
	nc, js := n.Bootstrap(t, nil)
	client, err := natsapi.NewClient(nc)
	require.NoError(t, err)
	ctx := t.Context()
	_, err = js.CreateStream(ctx, jetstream.StreamConfig{Name: "STAGING", Subjects: []string{"staging.results.>"}, Storage: jetstream.MemoryStorage})
	require.NoError(t, err)
	s, err := js.Stream(ctx, events.StreamResults)
	require.NoError(t, err)
	cfg := s.CachedInfo().Config
	cfg.Sources = []*jetstream.StreamSource{{
		Name:              "STAGING",
		SubjectTransforms: []jetstream.SubjectTransformConfig{{Source: "staging.results.*", Destination: events.ResultPrefix + "{{wildcard(1)}}"}},
	}}
	_, err = js.UpdateStream(ctx, cfg)
	require.NoError(t, err)

	const id = "lost-1"
	natsapi.SetAfterSubscribe(client, func() {
		raw, err := json.Marshal(events.Result{CommandID: id, Type: events.SubjectCreate, OK: true})
		require.NoError(t, err)
		_, err = js.Publish(ctx, "staging.results."+id, raw)
		require.NoError(t, err)
	})
	wait, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	r, err := client.Result(wait, id)
	require.NoError(t, err)
	require.Equal(t, id, r.CommandID)
}
