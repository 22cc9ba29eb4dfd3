package app_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/natsapi"
)

// A deleted workers consumer: the worker process says it is not ready
// (unless it has already put the consumer back), recreates the consumer,
// is ready again, and handles the commands published meanwhile and after.
func TestWorkerRecreatesDeletedConsumer(t *testing.T) {
	cfg := testConfig(t)
	p := serve(t, cfg)
	c, js := appClient(t, p.app)
	addr := p.app.HTTPAddr()
	create := func(t *testing.T, name string) {
		t.Helper()
		_, err := c.CreateRoom(ctxT(t, 30*time.Second), cmdID("create"), events.CreateRoom{RoomName: &name})
		require.NoError(t, err)
	}
	create(t, "before")

	for _, stream := range events.ConsumedStreams {
		t.Run(stream, func(t *testing.T) {
			before, err := js.Consumer(ctxT(t, 10*time.Second), stream, events.ConsumerWorkers)
			require.NoError(t, err)
			require.NoError(t, js.DeleteConsumer(ctxT(t, 10*time.Second), stream, events.ConsumerWorkers))
			// Published while no consumer exists: kept by the stream.
			id := cmdID("meanwhile")
			name := "meanwhile"
			require.NoError(t, c.Send(ctxT(t, 10*time.Second), id, events.CreateRoom{RoomName: &name}))

			code, body := get(t, addr, "/readyz")
			if code == http.StatusOK {
				// Already recreated: then it must be a new consumer.
				now, err := js.Consumer(ctxT(t, 10*time.Second), stream, events.ConsumerWorkers)
				require.NoError(t, err, "ready without the consumer: %s", body)
				require.True(t, now.CachedInfo().Created.After(before.CachedInfo().Created))
			} else {
				require.Equal(t, http.StatusServiceUnavailable, code)
				require.True(t, strings.Contains(body, "consumer "+stream+"/workers"), body)
			}
			require.Eventually(t, func() bool {
				code, body = get(t, addr, "/readyz")
				return code == http.StatusOK
			}, 15*time.Second, 50*time.Millisecond, "last answer %d %s", code, body)
			now, err := js.Consumer(ctxT(t, 10*time.Second), stream, events.ConsumerWorkers)
			require.NoError(t, err)
			cfg := now.CachedInfo().Config
			require.Equal(t, jetstream.AckExplicitPolicy, cfg.AckPolicy)
			require.Equal(t, natsapi.DefaultTopology().MaxDeliver, cfg.MaxDeliver, "recreated with the topology")

			r, err := c.Result(ctxT(t, 30*time.Second), id)
			require.NoError(t, err)
			require.True(t, r.OK, "%+v", r)
			create(t, "after "+stream)
		})
	}

	// Deleted and put back at once by someone else: the worker moves to
	// the new consumer.
	t.Run("recreated by another", func(t *testing.T) {
		top := natsapi.DefaultTopology()
		require.NoError(t, js.DeleteConsumer(ctxT(t, 10*time.Second), events.StreamCommands, events.ConsumerWorkers))
		_, err := js.CreateOrUpdateConsumer(ctxT(t, 10*time.Second), events.StreamCommands, top.Consumer(events.StreamCommands))
		require.NoError(t, err)
		create(t, "after another")
		code, body := get(t, addr, "/readyz")
		require.Equal(t, http.StatusOK, code, body)
	})
}
