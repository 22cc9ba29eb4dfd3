package app_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/roomkeeper/roomkeeper/internal/app"
)

// TestBusyPortFailsAtOnce: a port another process holds makes Start fail
// within a second, with the address and the cause, for the embedded NATS
// server and for the HTTP server.
func TestBusyPortFailsAtOnce(t *testing.T) {
	for _, which := range []string{"EMBEDDED_NATS_ADDR", "HTTP_ADDR"} {
		t.Run(which, func(t *testing.T) {
			taken, err := net.Listen("tcp", "127.0.0.1:0")
			require.NoError(t, err)
			defer func() { _ = taken.Close() }()
			addr := taken.Addr().String()
			cfg := testConfig(t)
			if which == "HTTP_ADDR" {
				cfg.HTTPAddr = addr
			} else {
				cfg.EmbeddedNATSAddr = addr
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			start := time.Now()
			_, err = app.Start(ctx, cfg, app.All, cfg.Logger())
			took := time.Since(start)
			require.Error(t, err)
			require.Contains(t, err.Error(), addr)
			require.Contains(t, err.Error(), "address already in use")
			require.Contains(t, err.Error(), which)
			require.Less(t, took, time.Second, "failed after %s: %v", took, err)
		})
	}
}
