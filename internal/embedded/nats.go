// Package embedded runs the in-process engines of the single-machine
// default: a NATS server with JetStream whose file store lives under the
// data directory, and the keys that authenticate its clients (auth.go):
// one client nkey with every permission, and publishers limited to
// publishing commands and reading their results.
package embedded

import (
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// NATSConfig configures the embedded NATS server.
type NATSConfig struct {
	// Addr is host:port to listen on; port 0 picks a free one.
	Addr string
	// StoreDir is the JetStream file store directory.
	StoreDir string
	// ReadyTimeout bounds the wait for the server to accept connections.
	ReadyTimeout time.Duration
	// Logs turns the server's own logging on.
	Logs bool
	// Auth, when set, makes the server accept only the nkeys it names; nil
	// accepts any connection (tests, EMBEDDED_NATS_AUTH=none).
	Auth *Auth
}

func (c *NATSConfig) withDefaults() {
	if c.Addr == "" {
		c.Addr = "127.0.0.1:4222"
	}
	if c.ReadyTimeout == 0 {
		c.ReadyTimeout = 10 * time.Second
	}
}

// StartNATS starts a NATS server with JetStream and waits until it accepts
// connections. Stop it with Shutdown and WaitForShutdown.
func StartNATS(cfg NATSConfig) (*server.Server, error) {
	cfg.withDefaults()
	host, portStr, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("embedded nats address %q: %w", cfg.Addr, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, fmt.Errorf("embedded nats port %q: %w", portStr, err)
	}
	if port == 0 {
		port = server.RANDOM_PORT
	}
	if cfg.StoreDir == "" {
		return nil, fmt.Errorf("embedded nats: store directory required")
	}
	if port != server.RANDOM_PORT {
		// The server reports a port it cannot bind only by never becoming
		// ready: try it first, so that a busy port fails at once with
		// its address and cause.
		l, err := net.Listen("tcp", cfg.Addr)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrListen, err)
		}
		_ = l.Close()
	}
	opts := &server.Options{
		ServerName: "roomkeeper-embedded",
		Host:       host,
		Port:       port,
		JetStream:  true,
		StoreDir:   cfg.StoreDir,
		NoSigs:     true,
		NoLog:      !cfg.Logs,
		// Large enough for the 1 MiB webhook bodies plus headers.
		MaxPayload: 8 << 20,
	}
	if cfg.Auth != nil {
		users, err := cfg.Auth.users()
		if err != nil {
			return nil, err
		}
		// Only these nkeys: no anonymous user, no passwords.
		opts.Nkeys = users
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("embedded nats: %w", err)
	}
	if cfg.Logs {
		ns.ConfigureLogger()
	}
	go ns.Start()
	if !ns.ReadyForConnections(cfg.ReadyTimeout) {
		ns.Shutdown()
		return nil, ErrNotReady
	}
	return ns, nil
}
