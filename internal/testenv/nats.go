// Package testenv starts the real servers tests run against (NATS with
// JetStream, the stores, FerretDB, livekit-server) on loopback, and stops
// them with t.Cleanup.
package testenv

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/roomkeeper/roomkeeper/internal/embedded"
	"github.com/roomkeeper/roomkeeper/natsapi"
)

// NATS is a running NATS server with JetStream.
type NATS struct {
	Server *server.Server
	URL    string
	Dir    string
}

// StartNATS starts a NATS server with JetStream on a random loopback port,
// its file store in a temporary directory, stopped at the end of the test.
func StartNATS(t testing.TB) *NATS {
	t.Helper()
	return StartNATSAt(t, "127.0.0.1:0", t.TempDir())
}

// StartNATSAt starts a NATS server on addr with its file store in dir, so a
// test can restart it on the same port and data.
func StartNATSAt(t testing.TB, addr, dir string) *NATS {
	t.Helper()
	ns, err := embedded.StartNATS(embedded.NATSConfig{Addr: addr, StoreDir: dir})
	if err != nil {
		t.Fatalf("start nats: %v", err)
	}
	t.Cleanup(func() {
		ns.Shutdown()
		ns.WaitForShutdown()
	})
	return &NATS{Server: ns, URL: ns.ClientURL(), Dir: dir}
}

// Connect opens a client connection closed at the end of the test.
func (n *NATS) Connect(t testing.TB) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := nats.Connect(n.URL, nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	if err != nil {
		t.Fatalf("connect nats: %v", err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("jetstream: %v", err)
	}
	return nc, js
}

// Bootstrap connects and creates the contract's streams and consumers with
// topology top (natsapi.DefaultTopology() when nil).
func (n *NATS) Bootstrap(t testing.TB, top *natsapi.Topology) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, js := n.Connect(t)
	tp := natsapi.DefaultTopology()
	if top != nil {
		tp = *top
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := natsapi.Bootstrap(ctx, js, tp); err != nil {
		t.Fatalf("bootstrap: %v", err)
	}
	return nc, js
}
