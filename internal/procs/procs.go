// Package procs runs the programs of a roomkeeper deployment as separate OS
// processes on loopback, for the tests that break them: the roomkeeper
// roles, nats-server (alone or as a JetStream cluster) and FerretDB. It
// builds the binaries, starts each process with its output in a log file,
// waits until it is ready, and kills, stops or signals it on demand.
//
// It is test support (internal/faulttest, internal/nemesis): every start
// registers a cleanup on the testing.TB that kills what still runs.
package procs

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// ReadyTimeout bounds how long a start waits for a process to be ready.
const ReadyTimeout = 60 * time.Second

// Proc is a child process with its output in a log file.
type Proc struct {
	Name    string
	LogPath string
	cmd     *exec.Cmd
	done    chan struct{} // closed when the process has exited
	exitErr error
	exitAt  time.Time
}

// Start runs bin with args and env, its stdout and stderr appended to
// logPath; t.Cleanup kills it if it still runs.
func Start(t testing.TB, name, logPath, bin string, args, env []string) *Proc {
	t.Helper()
	out, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatalf("%s: log file: %v", name, err)
	}
	_, _ = fmt.Fprintf(out, "==== %s start %s\n", time.Now().Format(time.RFC3339Nano), name)
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		_ = out.Close()
		t.Fatalf("%s: start: %v", name, err)
	}
	p := &Proc{Name: name, LogPath: logPath, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.exitErr = cmd.Wait()
		p.exitAt = time.Now()
		_ = out.Close()
		close(p.done)
	}()
	t.Cleanup(func() { p.Kill() })
	return p
}

// Running reports whether the process has not exited yet.
func (p *Proc) Running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// Kill sends SIGKILL (after SIGCONT, should the process be stopped) and
// waits for the process to go.
func (p *Proc) Kill() {
	if p.Running() {
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
	}
	<-p.done
}

// Signal sends sig to the process.
func (p *Proc) Signal(sig os.Signal) error { return p.cmd.Process.Signal(sig) }

// Wait waits up to d for the process to exit and returns its exit error.
func (p *Proc) Wait(d time.Duration) error {
	select {
	case <-p.done:
		return p.exitErr
	case <-time.After(d):
		return fmt.Errorf("%s still running after %s", p.Name, d)
	}
}

// ExitErr is the exit error of a process that has exited.
func (p *Proc) ExitErr() error { <-p.done; return p.exitErr }

// ExitAt is when a process that has exited was seen to exit.
func (p *Proc) ExitAt() time.Time { <-p.done; return p.exitAt }

// FreeAddr returns a loopback address with a port that was free a moment
// ago, below the kernel's ephemeral range (ip_local_port_range, 32768 and
// up by default). A port from that range (what "127.0.0.1:0" gives) can be
// taken, before the process meant to listen on it starts, as the source
// port of an outgoing connection, and a NATS node dialing a route peer not
// yet listening can even connect to itself (TCP self-connect) and keep
// the peer's port: both were seen as "address already in use".
func FreeAddr(t testing.TB) string {
	t.Helper()
	for range 200 {
		port := freeLow + rand.IntN(freeHigh-freeLow)
		if _, taken := handedOut.LoadOrStore(port, true); taken {
			continue // never the same port twice in a process
		}
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue
		}
		addr := ln.Addr().String()
		_ = ln.Close()
		return addr
	}
	t.Fatalf("free port: none free in %d..%d", freeLow, freeHigh)
	return ""
}

// handedOut holds the ports FreeAddr returned in this process.
var handedOut sync.Map

// The ports FreeAddr picks from: below the ephemeral range.
const (
	freeLow  = 20000
	freeHigh = 32768
)

// DumpLogsOnFailure logs the last lines of every *.log file in dir when t
// failed.
func DumpLogsOnFailure(t testing.TB, dir string) {
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		files, _ := filepath.Glob(filepath.Join(dir, "*.log"))
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				continue
			}
			lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
			t.Logf("---- last lines of %s:\n%s", filepath.Base(f), strings.Join(lines[max(0, len(lines)-40):], "\n"))
		}
	})
}

// BaseEnv is the environment of child processes: only what any process
// needs, so no setting of the test's own environment leaks in.
func BaseEnv() []string {
	var env []string
	for _, k := range []string{"PATH", "HOME", "TMPDIR", "USER", "LANG"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}

// Build builds each package of pkgs (binary name → Go package, built at
// the version go.mod pins) into dir and returns the binaries' paths by
// name.
func Build(dir string, pkgs map[string]string) (map[string]string, error) {
	out := make(map[string]string, len(pkgs))
	for name, pkg := range pkgs {
		bin := filepath.Join(dir, name)
		cmd := exec.Command("go", "build", "-o", bin, pkg)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			return nil, fmt.Errorf("go build %s: %w", pkg, err)
		}
		out[name] = bin
	}
	return out, nil
}

// RunWithBinaries is the body of a TestMain that needs binaries: it builds
// pkgs (binary name → Go package) into a temporary directory, sets each
// *bins[name] to its path, runs m and removes the directory. who names the
// caller in what it prints.
func RunWithBinaries(m *testing.M, who string, pkgs map[string]string, bins map[string]*string) int {
	dir, err := os.MkdirTemp("", who+"-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, who+":", err)
		return 1
	}
	defer func() { _ = os.RemoveAll(dir) }()
	start := time.Now()
	built, err := Build(dir, pkgs)
	if err != nil {
		fmt.Fprintln(os.Stderr, who+":", err)
		return 1
	}
	names := make([]string, 0, len(built))
	for name, path := range built {
		*bins[name] = path
		names = append(names, name)
	}
	sort.Strings(names)
	fmt.Fprintf(os.Stderr, "%s: built %s in %s\n", who, strings.Join(names, ", "), time.Since(start).Round(time.Millisecond))
	return m.Run()
}

// Packages of the binaries the tests build.
const (
	PkgRoomkeeper = "github.com/roomkeeper/roomkeeper/cmd/roomkeeper"
	PkgNATSServer = "github.com/nats-io/nats-server/v2"
	// PkgFerretDB is a test-only command running FerretDB v1 on SQLite.
	PkgFerretDB = "github.com/roomkeeper/roomkeeper/internal/faulttest/ferretdb"
)

// waitReady polls ready every 50 ms until it returns nil, failing t when p
// exits or ReadyTimeout passes.
func waitReady(t testing.TB, p *Proc, ready func() error) {
	t.Helper()
	if err := pollReady(p, ReadyTimeout, ready); err != nil {
		t.Fatal(err)
	}
}

// pollReady polls ready every 50 ms until it returns nil, or returns an
// error when p exits or d passes.
func pollReady(p *Proc, d time.Duration, ready func() error) error {
	deadline := time.Now().Add(d)
	for {
		if !p.Running() {
			return fmt.Errorf("%s exited at start: %v", p.Name, p.exitErr)
		}
		err := ready()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after %s: %v", p.Name, d, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// httpOK returns nil when GET url answers 200.
func httpOK(url string) error {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return err
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s %s", url, resp.Status, strings.TrimSpace(string(b)))
	}
	return nil
}

// Role is one roomkeeper process (`roomkeeper worker`, `scheduler`,
// `webhooks`, ...), which a test can kill, stop and start again with the
// same settings.
type Role struct {
	t      testing.TB
	bin    string
	args   []string
	env    []string
	logDir string

	// fixedAddr, when set, is the HTTP address of every start.
	fixedAddr string

	mu       sync.Mutex
	name     string
	p        *Proc
	httpAddr string
	starts   int
}

// StartRole runs `bin args...` with env (and an HTTP_ADDR of its own) and
// waits until its /readyz answers 200. Its log is logDir/name.log.
func StartRole(t testing.TB, bin, name, logDir string, args, env []string) *Role {
	t.Helper()
	r := &Role{t: t, bin: bin, args: args, env: env, logDir: logDir, name: name}
	r.Start()
	return r
}

// StartRoleAt is StartRole with an HTTP address of its own, kept across
// restarts: for a role another process calls back (LiveKit's webhooks).
func StartRoleAt(t testing.TB, bin, name, logDir, httpAddr string, args, env []string) *Role {
	t.Helper()
	r := &Role{t: t, bin: bin, args: args, env: env, logDir: logDir, name: name, fixedAddr: httpAddr}
	r.Start()
	return r
}

// Start runs the process again (it must have exited) and waits until it is
// ready, failing the test when it is not within ReadyTimeout.
func (r *Role) Start() {
	r.t.Helper()
	if err := r.TryStart(ReadyTimeout); err != nil {
		r.t.Fatal(err)
	}
}

// TryStart runs the process again and waits up to d until it is ready. A
// process that exits before is started again, as a supervisor would, until
// d passes; then the last process is killed and the error returned.
func (r *Role) TryStart(d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		r.mu.Lock()
		addr := r.fixedAddr
		if addr == "" {
			addr = FreeAddr(r.t)
		}
		r.starts++
		p := Start(r.t, r.name, filepath.Join(r.logDir, r.name+".log"), r.bin, r.args, append(append([]string(nil), r.env...), "HTTP_ADDR="+addr))
		r.p, r.httpAddr = p, addr
		r.mu.Unlock()
		err := pollReady(p, time.Until(deadline), func() error { return httpOK("http://" + addr + "/readyz") })
		switch {
		case err == nil:
			return nil
		case p.Running() || time.Now().After(deadline):
			p.Kill()
			return err
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// Name is the name the role was started with.
func (r *Role) Name() string { return r.name }

// Proc is the current process of the role.
func (r *Role) Proc() *Proc { r.mu.Lock(); defer r.mu.Unlock(); return r.p }

// HTTPAddr is the HTTP address of the current process.
func (r *Role) HTTPAddr() string { r.mu.Lock(); defer r.mu.Unlock(); return r.httpAddr }

// Starts is how many times the role was started.
func (r *Role) Starts() int { r.mu.Lock(); defer r.mu.Unlock(); return r.starts }
