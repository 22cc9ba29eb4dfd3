// Package ferret runs an in-process FerretDB v1 (SQLite backend), a
// MongoDB-wire-compatible server, for the tests of the MongoDB store and of
// whatever runs on it. Import it from _test files only, so FerretDB never
// links into the binaries.
//
// [Start] gives a server on a loopback port with its data in t.TempDir(),
// stopped by t.Cleanup. Clients reach FerretDB through a small TCP relay
// owned by the [Server], which is what lets [Server.Stop] cut every client
// connection at once (as a crashed or partitioned database would) and
// [Server.Restart] bring the same data back on the same address, and what
// keeps shutdown fast (FerretDB otherwise gives each open connection 3 s to
// go away).
//
// [MongoURI] returns TEST_MONGO_URI when set (a real MongoDB) and the URI
// of a fresh FerretDB otherwise; [DatabaseName] gives each test its own
// database, so tests sharing one server do not collide.
//
// FerretDB logs at error level to stderr (at warn it dumps every failed
// command, duplicate keys included); set FERRETDB_LOG to debug, info, warn
// or error to change that.
package ferret

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
)

// EnvMongoURI names the environment variable that points the tests at a
// real MongoDB instead of an in-process FerretDB.
const EnvMongoURI = "TEST_MONGO_URI"

// newMu serialises ferretdb.New, which sets a package-level variable.
var newMu sync.Mutex

// Server is an in-process FerretDB behind a relay on a fixed loopback
// address.
type Server struct {
	// URI is the mongodb:// URI clients use; it stays valid across Stop
	// and Restart.
	URI string
	// Addr is the host:port of URI.
	Addr string
	// Dir holds FerretDB's SQLite files.
	Dir string

	logger *slog.Logger

	mu      sync.Mutex
	running bool
	ln      net.Listener          // the relay's listener
	conns   map[net.Conn]struct{} // both ends of every relayed connection
	relays  sync.WaitGroup        // the accept loop and the relays
	backend string                // FerretDB's own address
	cancel  context.CancelFunc    // stops FerretDB
	done    chan struct{}         // closed when FerretDB has stopped
}

// Start runs FerretDB with its SQLite files in t.TempDir(), reachable on
// 127.0.0.1 at a free port; t.Cleanup stops it.
func Start(t testing.TB) *Server {
	t.Helper()
	s := &Server{Dir: t.TempDir(), logger: newLogger()}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("ferret: listen: %v", err)
	}
	s.Addr = ln.Addr().String()
	s.URI = "mongodb://" + s.Addr + "/"
	if err := s.start(ln); err != nil {
		_ = ln.Close()
		t.Fatalf("ferret: %v", err)
	}
	t.Cleanup(s.Stop)
	return s
}

// MongoURI returns TEST_MONGO_URI when it is set, and otherwise the URI of
// a FerretDB started for t.
func MongoURI(t testing.TB) string {
	t.Helper()
	if uri := os.Getenv(EnvMongoURI); uri != "" {
		return uri
	}
	return Start(t).URI
}

// DatabaseName returns a database name for t that no other test uses (its
// name, shortened, and a random suffix), so tests can share one server.
func DatabaseName(t testing.TB) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("t_")
	for _, r := range strings.ToLower(t.Name()) {
		if b.Len() >= 40 {
			break
		}
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	suffix := make([]byte, 6)
	_, _ = rand.Read(suffix)
	b.WriteByte('_')
	b.WriteString(hex.EncodeToString(suffix))
	return b.String()
}

// Running reports whether the server is up (not between Stop and Restart).
func (s *Server) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.running
}

// Stop cuts every client connection, closes the address (new connections
// are refused) and stops FerretDB. Its data stays in Dir. Stopping a
// stopped server does nothing.
func (s *Server) Stop() {
	s.mu.Lock()
	if !s.running {
		s.mu.Unlock()
		return
	}
	s.running = false
	_ = s.ln.Close()
	for c := range s.conns {
		_ = c.Close()
	}
	s.mu.Unlock()

	s.relays.Wait()
	s.cancel()
	<-s.done
}

// Restart starts FerretDB again on the same address with the same data.
// Restarting a running server does nothing.
func (s *Server) Restart() error {
	if s.Running() {
		return nil
	}
	var ln net.Listener
	var err error
	// The address was ours a moment ago; it is free again at once (Go's
	// listeners set SO_REUSEADDR), but retry briefly anyway.
	for deadline := time.Now().Add(5 * time.Second); ; {
		ln, err = net.Listen("tcp", s.Addr)
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		return fmt.Errorf("ferret: listen again on %s: %w", s.Addr, err)
	}
	if err := s.start(ln); err != nil {
		_ = ln.Close()
		return fmt.Errorf("ferret: restart: %w", err)
	}
	return nil
}

// start runs FerretDB on a free loopback port and the relay on ln.
func (s *Server) start(ln net.Listener) error {
	newMu.Lock() // ferretdb.New writes package-level state
	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: "127.0.0.1:0"},
		Logger:    s.logger,
		Handler:   "sqlite",
		SQLiteURL: "file:" + s.Dir + "/",
	})
	newMu.Unlock()
	if err != nil {
		return fmt.Errorf("new ferretdb: %w", err)
	}
	backend := strings.TrimSuffix(strings.TrimPrefix(f.MongoDBURI(), "mongodb://"), "/")

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = f.Run(ctx)
	}()

	s.mu.Lock()
	s.ln, s.backend, s.cancel, s.done = ln, backend, cancel, done
	s.conns = map[net.Conn]struct{}{}
	s.running = true
	s.mu.Unlock()

	s.relays.Add(1)
	go s.accept(ln)
	return nil
}

// accept relays each connection on ln to FerretDB until ln is closed.
func (s *Server) accept(ln net.Listener) {
	defer s.relays.Done()
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			time.Sleep(10 * time.Millisecond)
			continue
		}
		s.mu.Lock()
		if !s.running {
			s.mu.Unlock()
			_ = c.Close()
			return
		}
		s.conns[c] = struct{}{}
		backend := s.backend
		s.relays.Add(1)
		s.mu.Unlock()
		go s.relay(c, backend)
	}
}

// relay copies bytes both ways between client c and FerretDB, and closes
// both ends when either side ends.
func (s *Server) relay(c net.Conn, backend string) {
	defer s.relays.Done()
	defer s.forget(c)
	b, err := net.DialTimeout("tcp", backend, 5*time.Second)
	if err != nil {
		return
	}
	defer s.forget(b)
	s.mu.Lock()
	if !s.running {
		s.mu.Unlock()
		return
	}
	s.conns[b] = struct{}{}
	s.mu.Unlock()

	var wg sync.WaitGroup
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		// Whichever side ends first ends the other.
		_ = dst.Close()
		_ = src.Close()
	}
	wg.Go(func() { pipe(b, c) })
	pipe(c, b)
	wg.Wait()
}

func (s *Server) forget(c net.Conn) {
	_ = c.Close()
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

// newLogger is FerretDB's logger: text to stderr at the FERRETDB_LOG level
// (default error: at warn, FerretDB dumps every failed command, duplicate
// keys included).
func newLogger() *slog.Logger {
	level := slog.LevelError
	switch strings.ToLower(os.Getenv("FERRETDB_LOG")) {
	case "debug":
		level = slog.LevelDebug
	case "info":
		level = slog.LevelInfo
	case "warn":
		level = slog.LevelWarn
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}
