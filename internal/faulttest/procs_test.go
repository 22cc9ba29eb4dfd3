package faulttest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// proc is a child process with its output in a log file.
type proc struct {
	name    string
	logPath string
	cmd     *exec.Cmd
	done    chan struct{} // closed when the process has exited
	exitErr error
	exitAt  time.Time
}

// startProc runs bin with args and env, its stdout and stderr appended to
// logPath; t.Cleanup kills it if it still runs.
func startProc(t *testing.T, name, logPath, bin string, args, env []string) *proc {
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
	p := &proc{name: name, logPath: logPath, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.exitErr = cmd.Wait()
		p.exitAt = time.Now()
		_ = out.Close()
		close(p.done)
	}()
	t.Cleanup(func() { p.kill() })
	return p
}

// running reports whether the process has not exited yet.
func (p *proc) running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// kill sends SIGKILL and waits for the process to go.
func (p *proc) kill() {
	if p.running() {
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
	}
	<-p.done
}

// signal sends sig to the process.
func (p *proc) signal(sig os.Signal) error { return p.cmd.Process.Signal(sig) }

// wait waits up to d for the process to exit and returns its exit error.
func (p *proc) wait(d time.Duration) error {
	select {
	case <-p.done:
		return p.exitErr
	case <-time.After(d):
		return fmt.Errorf("%s still running after %s", p.name, d)
	}
}

// freeAddr returns a loopback address with a port that was free a moment
// ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	defer func() { _ = ln.Close() }()
	return ln.Addr().String()
}

// dumpLogsOnFailure logs the tail of every file in dir when t failed.
func dumpLogsOnFailure(t *testing.T, dir string) {
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

// natsProc is a nats-server process with JetStream and a file store, which
// a test can kill and start again on the same port and store directory.
type natsProc struct {
	t        *testing.T
	addr     string
	storeDir string
	logPath  string
	p        *proc
	starts   int
}

func startNATSProc(t *testing.T, logDir string) *natsProc {
	t.Helper()
	n := &natsProc{t: t, addr: freeAddr(t), storeDir: t.TempDir(), logPath: filepath.Join(logDir, "nats-server.log")}
	n.start()
	return n
}

// url is the client URL of the server.
func (n *natsProc) url() string { return "nats://" + n.addr }

// start runs the server and waits until it answers JetStream requests.
func (n *natsProc) start() {
	n.t.Helper()
	host, port, _ := net.SplitHostPort(n.addr)
	n.starts++
	n.p = startProc(n.t, "nats-server", n.logPath, natsServerBin,
		[]string{"-js", "-sd", n.storeDir, "-a", host, "-p", port}, baseEnv())
	deadline := time.Now().Add(30 * time.Second)
	for {
		if !n.p.running() {
			n.t.Fatalf("nats-server exited: %v", n.p.exitErr)
		}
		nc, err := nats.Connect(n.url(), nats.Timeout(time.Second))
		if err == nil {
			_, err = nc.Request("$JS.API.INFO", nil, time.Second)
			nc.Close()
			if err == nil {
				return
			}
		}
		if time.Now().After(deadline) {
			n.t.Fatalf("nats-server not ready after 30s: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// kill stops the server with SIGKILL: no flush, no goodbye to clients.
func (n *natsProc) kill() { n.p.kill() }

// ferretProc is a FerretDB process (./ferretdb), which a test can kill and
// start again on the same port and SQLite directory.
type ferretProc struct {
	t       *testing.T
	addr    string
	dir     string
	logPath string
	p       *proc
}

func startFerretProc(t *testing.T, logDir string) *ferretProc {
	t.Helper()
	f := &ferretProc{t: t, addr: freeAddr(t), dir: t.TempDir(), logPath: filepath.Join(logDir, "ferretdb.log")}
	f.start()
	return f
}

// uri is the MongoDB URI of the server.
func (f *ferretProc) uri() string { return "mongodb://" + f.addr + "/" }

// start runs FerretDB and waits until it accepts connections.
func (f *ferretProc) start() {
	f.t.Helper()
	f.p = startProc(f.t, "ferretdb", f.logPath, ferretDBBin, []string{"-addr", f.addr, "-dir", f.dir}, baseEnv())
	deadline := time.Now().Add(30 * time.Second)
	for {
		if !f.p.running() {
			f.t.Fatalf("ferretdb exited: %v", f.p.exitErr)
		}
		c, err := net.DialTimeout("tcp", f.addr, time.Second)
		if err == nil {
			_ = c.Close()
			return
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("ferretdb not accepting connections after 30s: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// kill stops FerretDB with SIGKILL: every connection drops at once.
func (f *ferretProc) kill() { f.p.kill() }

// baseEnv is the environment of child processes: only what any process
// needs, so no setting of the test's own environment leaks in.
func baseEnv() []string {
	var env []string
	for _, k := range []string{"PATH", "HOME", "TMPDIR", "USER", "LANG"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}

// workerSpec configures roomkeeper worker processes.
type workerSpec struct {
	natsURL     string
	dataDir     string // DATA_DIR (SQLite file shared by the workers)
	mongoURI    string // MONGO_URI; empty: SQLite
	mongoDB     string
	concurrency int
	logDir      string
}

// workerProc is one `roomkeeper worker` process.
type workerProc struct {
	*proc
	httpAddr string
}

// startWorker runs `roomkeeper worker` and waits until its /readyz answers
// 200.
func startWorker(t *testing.T, spec workerSpec, name string) *workerProc {
	t.Helper()
	httpAddr := freeAddr(t)
	env := append(baseEnv(),
		"NATS_URL="+spec.natsURL,
		"DATA_DIR="+spec.dataDir,
		"HTTP_ADDR="+httpAddr,
		"WORKER_CONCURRENCY="+strconv.Itoa(spec.concurrency),
		"LOG_LEVEL=warn",
		"LOG_FORMAT=text",
	)
	if spec.mongoURI != "" {
		env = append(env, "MONGO_URI="+spec.mongoURI, "MONGO_DB="+spec.mongoDB)
	}
	w := &workerProc{
		proc:     startProc(t, name, filepath.Join(spec.logDir, name+".log"), roomkeeperBin, []string{"worker"}, env),
		httpAddr: httpAddr,
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		if !w.running() {
			t.Fatalf("%s exited at start: %v", name, w.exitErr)
		}
		resp, err := http.Get("http://" + httpAddr + "/readyz")
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return w
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready after 60s", name)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// handled scrapes the worker's /metrics and returns
// roomkeeper_messages_handled_total of create commands by outcome, and
// roomkeeper_redeliveries_total of creates.
func (w *workerProc) handled(ctx context.Context) (map[string]int, int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+w.httpAddr+"/metrics", nil)
	if err != nil {
		return nil, 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, 0, err
	}
	outcomes := map[string]int{}
	redelivered := 0
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Text()
		if !strings.Contains(line, `type="create"`) || !strings.Contains(line, `kind="command"`) {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		switch {
		case strings.HasPrefix(line, "roomkeeper_messages_handled_total{"):
			if o := label(line, "outcome"); o != "" {
				outcomes[o] += int(v)
			}
		case strings.HasPrefix(line, "roomkeeper_redeliveries_total{"):
			redelivered += int(v)
		}
	}
	if len(outcomes) == 0 && redelivered == 0 && !bytes.Contains(b, []byte("roomkeeper_")) {
		return nil, 0, errors.New("no roomkeeper metrics")
	}
	return outcomes, redelivered, sc.Err()
}

func label(line, name string) string {
	_, rest, ok := strings.Cut(line, name+`="`)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(rest, `"`)
	return v
}
