// Package livekit starts a real livekit-server for tests, on loopback only,
// and joins real participants to its rooms with server-sdk-go.
//
// It is a test helper: import it from _test files only. The binary is the
// one `make livekit-server` installs (pinned, cached outside the checkout);
// LIVEKIT_SERVER_BIN overrides its path. A missing binary fails the test,
// it never skips it (only -short skips the tests that need the server).
//
// Every server gets its own block of ports (HTTP and a small ICE UDP range)
// reserved by a file lock shared by all test processes on the machine, so
// parallel tests and parallel packages never collide.
package livekit

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Version is the livekit-server release the Makefile pins.
const Version = "v1.13.5"

// BinaryEnv names the environment variable holding the binary's path.
const BinaryEnv = "LIVEKIT_SERVER_BIN"

// Options configure a test server. The zero value is a server with
// LiveKit's own room defaults and no webhook.
type Options struct {
	// WebhookURL, when set, receives every webhook, signed with the
	// server's API key.
	WebhookURL string
	// EmptyTimeout is how long a room nobody joined lives (room.empty_timeout,
	// whole seconds, rounded up); zero keeps LiveKit's default.
	EmptyTimeout time.Duration
	// DepartureTimeout is how long a room lives after its last participant
	// left (room.departure_timeout, whole seconds, rounded up); zero keeps
	// LiveKit's default.
	DepartureTimeout time.Duration
	// LogLevel of the server (default "info"; the server log is shown when
	// the test fails).
	LogLevel string
	// StartTimeout bounds the wait for the server to answer (default 20s).
	StartTimeout time.Duration
}

// Server is a running livekit-server.
type Server struct {
	// URL is the WebSocket URL participants and server SDKs use
	// (ws://127.0.0.1:port).
	URL string
	// HTTPURL is the same endpoint as http://127.0.0.1:port.
	HTTPURL   string
	Port      int
	APIKey    string
	APISecret string
	// LogPath is the file holding the server's output.
	LogPath string

	bin, cfgPath string

	mu      sync.Mutex
	cmd     *exec.Cmd     // the current process
	done    chan struct{} // closed when the current process has exited
	waitErr error         // its exit error, set before done is closed
	stopped bool          // Stop was called: Restart starts nothing
}

// BinaryPath is where the livekit-server binary is looked for:
// $LIVEKIT_SERVER_BIN, else the Makefile's cache path.
func BinaryPath() string {
	if p := os.Getenv(BinaryEnv); p != "" {
		return p
	}
	home, err := os.UserHomeDir()
	if err != nil {
		home = os.Getenv("HOME")
	}
	return filepath.Join(home, ".cache", "roomkeeper", "livekit-server-"+Version, "server")
}

// Start starts livekit-server with `--dev --bind 127.0.0.1` and a generated
// config (random API key and secret, free ports, loopback-only ICE), waits
// until it answers, and stops it when the test ends. The server's output is
// kept in a file whose tail is logged if the test failed.
//
// Under `go test -short` (make test/short: the tests that need no
// livekit-server) it skips the test; in every other run a missing binary
// fails it.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	if testing.Short() {
		t.Skip("needs livekit-server; not run with -short")
	}
	bin := BinaryPath()
	if st, err := os.Stat(bin); err != nil || st.IsDir() {
		t.Fatalf("livekit-server %s not found at %s: run `make livekit-server` to install it (or set %s)", Version, bin, BinaryEnv)
	}
	if opts.LogLevel == "" {
		opts.LogLevel = "info"
	}
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = 20 * time.Second
	}

	ports, err := reservePorts()
	if err != nil {
		t.Fatalf("livekit-server: %v", err)
	}
	t.Cleanup(ports.release)

	dir, err := os.MkdirTemp("", "roomkeeper-livekit-")
	if err != nil {
		t.Fatalf("livekit-server: %v", err)
	}
	srv := &Server{
		URL:       fmt.Sprintf("ws://127.0.0.1:%d", ports.HTTP),
		HTTPURL:   fmt.Sprintf("http://127.0.0.1:%d", ports.HTTP),
		Port:      ports.HTTP,
		APIKey:    "API" + randomHex(6),
		APISecret: randomHex(32),
		LogPath:   filepath.Join(dir, "livekit-server.log"),
		bin:       bin,
		cfgPath:   filepath.Join(dir, "config.yaml"),
	}
	// Registered before the stop below, so it runs after it (LIFO).
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("livekit-server output kept in %s; last lines:\n%s", srv.LogPath, tail(srv.LogPath, 80))
			return
		}
		_ = os.RemoveAll(dir)
	})

	if err := os.WriteFile(srv.cfgPath, srv.config(ports, opts), 0o600); err != nil {
		t.Fatalf("livekit-server config: %v", err)
	}
	if err := srv.start(); err != nil {
		t.Fatalf("start livekit-server: %v", err)
	}
	t.Cleanup(srv.Stop)
	if err := srv.waitReady(opts.StartTimeout); err != nil {
		t.Fatalf("livekit-server did not start: %v\n%s", err, tail(srv.LogPath, 40))
	}
	return srv
}

// config renders the server's configuration. YAML is a superset of JSON, so
// it is written as JSON.
func (s *Server) config(ports *portBlock, opts Options) []byte {
	cfg := map[string]any{
		"port":      ports.HTTP,
		"log_level": opts.LogLevel,
		"keys":      map[string]string{s.APIKey: s.APISecret},
		"rtc": map[string]any{
			"tcp_port":                  0,
			"port_range_start":          ports.RTCStart,
			"port_range_end":            ports.RTCEnd,
			"node_ip":                   "127.0.0.1",
			"use_external_ip":           false,
			"enable_loopback_candidate": true,
			"interfaces":                map[string]any{"includes": []string{"lo"}},
			"ips":                       map[string]any{"includes": []string{"127.0.0.1/8"}},
		},
	}
	room := map[string]any{}
	if opts.EmptyTimeout > 0 {
		room["empty_timeout"] = seconds(opts.EmptyTimeout)
	}
	if opts.DepartureTimeout > 0 {
		room["departure_timeout"] = seconds(opts.DepartureTimeout)
	}
	if len(room) > 0 {
		cfg["room"] = room
	}
	if opts.WebhookURL != "" {
		cfg["webhook"] = map[string]any{"api_key": s.APIKey, "urls": []string{opts.WebhookURL}}
	}
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		panic(err) // only plain values above
	}
	return b
}

// start runs a server process with the configuration file, its output
// appended to LogPath.
func (s *Server) start() error {
	logFile, err := os.OpenFile(s.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer func() { _ = logFile.Close() }() // the child keeps its own descriptor
	cmd := exec.Command(s.bin, "--dev", "--bind", "127.0.0.1", "--config", s.cfgPath)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	// The server dies with the test process, even when that one is killed
	// (a test timeout), so no orphan keeps the ports.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan struct{})
	s.mu.Lock()
	s.cmd, s.done, s.waitErr = cmd, done, nil
	s.mu.Unlock()
	go func() {
		err := cmd.Wait()
		s.mu.Lock()
		if s.cmd == cmd {
			s.waitErr = err
		}
		s.mu.Unlock()
		close(done)
	}()
	return nil
}

// current returns the current process and its done channel.
func (s *Server) current() (*exec.Cmd, chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cmd, s.done
}

// Kill kills the server with SIGKILL, as a crash would, and waits for it
// to exit. LiveKit keeps its rooms in memory: they are gone, without a
// room_finished.
func (s *Server) Kill() {
	cmd, done := s.current()
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-done
}

// Restart starts the server again after Kill, on the same ports with the
// same keys and configuration, and waits up to timeout until it answers.
// After Stop it does nothing.
func (s *Server) Restart(timeout time.Duration) error {
	_, done := s.current()
	<-done
	s.mu.Lock()
	stopped := s.stopped
	s.mu.Unlock()
	if stopped {
		return nil
	}
	if err := s.start(); err != nil {
		return fmt.Errorf("restart livekit-server: %w", err)
	}
	if err := s.waitReady(timeout); err != nil {
		return fmt.Errorf("livekit-server did not restart: %w", err)
	}
	return nil
}

func (s *Server) waitReady(timeout time.Duration) error {
	_, done := s.current()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	client := &http.Client{Timeout: time.Second}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.HTTPURL+"/", nil)
		if resp, err := client.Do(req); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-done:
			s.mu.Lock()
			err := s.waitErr
			s.mu.Unlock()
			return fmt.Errorf("exited: %v", err)
		case <-ctx.Done():
			return fmt.Errorf("no answer on %s within %s", s.HTTPURL, timeout)
		case <-tick.C:
		}
	}
}

// Stop stops the server: SIGTERM, a second SIGTERM (LiveKit's forced
// shutdown, which does not wait for participants) after a second, SIGKILL
// after a few more. It is safe to call more than once and is called at the
// end of the test; a Restart after it starts nothing.
func (s *Server) Stop() {
	s.mu.Lock()
	s.stopped = true
	s.mu.Unlock()
	cmd, done := s.current()
	steps := []struct {
		sig  os.Signal
		wait time.Duration
	}{
		{syscall.SIGTERM, time.Second},
		{syscall.SIGTERM, 3 * time.Second},
		{syscall.SIGKILL, 5 * time.Second},
	}
	for _, st := range steps {
		select {
		case <-done:
			return
		default:
		}
		if err := cmd.Process.Signal(st.sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
			break
		}
		select {
		case <-done:
			return
		case <-time.After(st.wait):
		}
	}
	<-done
}

// Stopped is closed once the current server process has exited.
func (s *Server) Stopped() <-chan struct{} {
	_, done := s.current()
	return done
}

func seconds(d time.Duration) int {
	return int((d + time.Second - 1) / time.Second)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// tail returns the last n lines of the file at path.
func tail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", path, err)
	}
	defer func() { _ = f.Close() }()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return strings.Join(lines, "\n")
}
