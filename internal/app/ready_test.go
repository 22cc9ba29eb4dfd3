package app_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/internal/app"
	"github.com/roomkeeper/roomkeeper/internal/testenv"
)

// readyz fetches /readyz and decodes its JSON body.
func readyz(t *testing.T, addr string) (int, app.Readiness) {
	t.Helper()
	code, body := get(t, addr, "/readyz")
	var r app.Readiness
	require.NoError(t, json.Unmarshal([]byte(body), &r), "/readyz body is JSON: %q", body)
	return code, r
}

// TestReadyzSaysWhichDependency: /readyz answers a JSON body naming the
// state of each dependency: all "ok" with 200 in a serving process; a
// missing workers consumer, then a missing stream, each with 503 and the
// name of what is missing, in a process without the worker role (which
// would recreate the consumer).
func TestReadyzSaysWhichDependency(t *testing.T) {
	n := testenv.StartNATS(t)
	cfg := testConfig(t)
	cfg.NATSURL = n.URL

	p := serve(t, cfg)
	code, r := readyz(t, p.app.HTTPAddr())
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, app.Readiness{Ready: true, Checks: map[string]string{
		"nats": "ok", "streams": "ok", "consumers": "ok", "store": "ok", "worker": "ok",
	}}, r)
	p.stop(t)

	cfg.HTTPAddr = "127.0.0.1:0"
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.Start(ctx, cfg, app.Roles{Webhooks: true}, cfg.Logger())
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	addr := a.HTTPAddr()
	require.Eventually(t, func() bool { code, _ := readyz(t, addr); return code == http.StatusOK }, 5*time.Second, 20*time.Millisecond)
	_, r = readyz(t, addr)
	require.Equal(t, map[string]string{"nats": "ok", "streams": "ok", "consumers": "ok"}, r.Checks, "no store, no worker in this role")

	_, js := client(t, n.URL)
	dctx, dcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer dcancel()
	require.NoError(t, js.DeleteConsumer(dctx, events.StreamWebhooks, events.ConsumerWorkers))
	code, r = readyz(t, addr)
	require.Equal(t, http.StatusServiceUnavailable, code)
	require.False(t, r.Ready)
	require.Equal(t, "ok", r.Checks["nats"])
	require.Equal(t, "ok", r.Checks["streams"])
	require.Contains(t, r.Checks["consumers"], "LIVEKIT_WEBHOOKS/workers")

	require.NoError(t, js.DeleteStream(dctx, events.StreamDead))
	code, r = readyz(t, addr)
	require.Equal(t, http.StatusServiceUnavailable, code)
	require.Contains(t, r.Checks["streams"], "ROOMS_DEAD")
}
