package workertest

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	lktest "github.com/roomkeeper/roomkeeper/internal/testenv/livekit"
	"github.com/roomkeeper/roomkeeper/livekit"
	"github.com/roomkeeper/roomkeeper/webhooks"
)

// LiveKitWithWebhooks starts a livekit-server (1 s empty and departure
// timeouts) whose webhooks, signed with its key, go to a webhook receiver
// publishing on the bundle's JetStream, as in a deployment, and makes it
// the bundle's LiveKit.
func (b *Bundle) LiveKitWithWebhooks(t testing.TB) *lktest.Server {
	t.Helper()
	var rc atomic.Pointer[webhooks.Receiver]
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h := rc.Load(); h != nil {
			h.ServeHTTP(w, r)
			return
		}
		http.Error(w, "not yet", http.StatusServiceUnavailable)
	}))
	t.Cleanup(hook.Close)
	srv := lktest.Start(t, lktest.Options{WebhookURL: hook.URL + webhooks.Path, EmptyTimeout: time.Second, DepartureTimeout: time.Second})
	r, err := webhooks.New(webhooks.Config{APIKey: srv.APIKey, APISecret: srv.APISecret}, b.JS, nil)
	require.NoError(t, err)
	rc.Store(r)
	lk, err := livekit.New(livekit.Config{URL: srv.URL, APIKey: srv.APIKey, APISecret: srv.APISecret,
		EmptyTimeout: time.Second, DepartureTimeout: time.Second})
	require.NoError(t, err)
	b.Rooms.Meetings = lk
	return srv
}
