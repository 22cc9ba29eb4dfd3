package procs

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// NATS is a nats-server process with JetStream and a file store, alone or
// one node of a cluster, which a test can kill and start again on the same
// ports and store directory.
type NATS struct {
	t        testing.TB
	bin      string
	Name     string
	Addr     string // client address
	StoreDir string
	logPath  string
	args     []string
	monitor  string // HTTP monitoring address of a cluster node
	p        *Proc
	Starts   int
}

// StartNATS runs a single nats-server (`-js`) and waits until it answers
// JetStream requests. Its log is logDir/nats-server.log.
func StartNATS(t testing.TB, bin, logDir string) *NATS {
	t.Helper()
	n := &NATS{t: t, bin: bin, Name: "nats-server", Addr: FreeAddr(t), StoreDir: t.TempDir(), logPath: filepath.Join(logDir, "nats-server.log")}
	host, port, _ := net.SplitHostPort(n.Addr)
	n.args = []string{"-js", "-sd", n.StoreDir, "-a", host, "-p", port}
	n.Start()
	return n
}

// StartNATSCluster runs a JetStream cluster of size nodes on loopback
// (nats-1 ... nats-N, logs logDir/nats-<i>.log) and waits until every node
// reports itself healthy (/healthz: JetStream meta leader known and the
// node current).
func StartNATSCluster(t testing.TB, bin, logDir string, size int) []*NATS {
	t.Helper()
	nodes := make([]*NATS, size)
	routes := make([]string, size)
	clusterAddrs := make([]string, size)
	for i := range nodes {
		clusterAddrs[i] = FreeAddr(t)
		routes[i] = fmt.Sprintf("%q", "nats-route://"+clusterAddrs[i])
	}
	for i := range nodes {
		name := fmt.Sprintf("nats-%d", i+1)
		n := &NATS{t: t, bin: bin, Name: name, Addr: FreeAddr(t), StoreDir: t.TempDir(), monitor: FreeAddr(t),
			logPath: filepath.Join(logDir, name+".log")}
		host, port, _ := net.SplitHostPort(n.Addr)
		mhost, mport, _ := net.SplitHostPort(n.monitor)
		chost, cport, _ := net.SplitHostPort(clusterAddrs[i])
		conf := fmt.Sprintf(`server_name: %q
host: %q
port: %s
http: "%s:%s"
jetstream { store_dir: %q }
cluster {
  name: "nemesis"
  host: %q
  port: %s
  routes: [%s]
}
`, name, host, port, mhost, mport, n.StoreDir, chost, cport, strings.Join(routes, ", "))
		path := filepath.Join(n.StoreDir, "nats.conf")
		if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
			t.Fatalf("%s: config: %v", name, err)
		}
		n.args = []string{"-c", path}
		nodes[i] = n
	}
	// Every node first: none is healthy before a meta leader is elected.
	for _, n := range nodes {
		n.launch()
	}
	for _, n := range nodes {
		n.waitReady()
	}
	return nodes
}

// ClusterURL is the client URL list of nodes, as NATS_URL takes it.
func ClusterURL(nodes []*NATS) string {
	urls := make([]string, len(nodes))
	for i, n := range nodes {
		urls[i] = n.URL()
	}
	return strings.Join(urls, ",")
}

// URL is the client URL of the server.
func (n *NATS) URL() string { return "nats://" + n.Addr }

// Proc is the current process of the server.
func (n *NATS) Proc() *Proc { return n.p }

// Start runs the server and waits until it is ready.
func (n *NATS) Start() {
	n.t.Helper()
	n.launch()
	n.waitReady()
}

func (n *NATS) launch() {
	n.t.Helper()
	n.Starts++
	n.p = Start(n.t, n.Name, n.logPath, n.bin, n.args, BaseEnv())
}

func (n *NATS) waitReady() {
	n.t.Helper()
	if n.monitor != "" {
		waitReady(n.t, n.p, func() error { return httpOK("http://" + n.monitor + "/healthz") })
		return
	}
	waitReady(n.t, n.p, func() error {
		nc, err := nats.Connect(n.URL(), nats.Timeout(time.Second))
		if err != nil {
			return err
		}
		defer nc.Close()
		_, err = nc.Request("$JS.API.INFO", nil, time.Second)
		return err
	})
}

// Healthy reports whether a cluster node answers its /healthz with 200:
// connected to the meta leader, its streams and consumers current.
func (n *NATS) Healthy() error {
	if n.monitor == "" {
		return fmt.Errorf("%s: no monitoring port", n.Name)
	}
	return httpOK("http://" + n.monitor + "/healthz")
}

// Kill stops the server with SIGKILL: no flush, no goodbye to clients.
func (n *NATS) Kill() { n.p.Kill() }

// Stop stops the server with SIGTERM (a clean shutdown) and waits up to d.
func (n *NATS) Stop(d time.Duration) error {
	if err := n.p.Signal(syscall.SIGTERM); err != nil {
		return err
	}
	err := n.p.Wait(d)
	if err != nil && n.p.Running() {
		n.p.Kill()
		return err
	}
	return nil
}

// Ferret is a FerretDB process (internal/faulttest/ferretdb), which a test
// can kill and start again on the same port and SQLite directory.
type Ferret struct {
	t       testing.TB
	bin     string
	Addr    string
	dir     string
	logPath string
	p       *Proc
}

// StartFerret runs FerretDB and waits until it accepts connections. Its log
// is logDir/ferretdb.log.
func StartFerret(t testing.TB, bin, logDir string) *Ferret {
	t.Helper()
	f := &Ferret{t: t, bin: bin, Addr: FreeAddr(t), dir: t.TempDir(), logPath: filepath.Join(logDir, "ferretdb.log")}
	f.Start()
	return f
}

// URI is the MongoDB URI of the server.
func (f *Ferret) URI() string { return "mongodb://" + f.Addr + "/" }

// Start runs FerretDB and waits until it accepts connections.
func (f *Ferret) Start() {
	f.t.Helper()
	f.p = Start(f.t, "ferretdb", f.logPath, f.bin, []string{"-addr", f.Addr, "-dir", f.dir}, BaseEnv())
	waitReady(f.t, f.p, func() error {
		c, err := net.DialTimeout("tcp", f.Addr, time.Second)
		if err == nil {
			_ = c.Close()
		}
		return err
	})
}

// Kill stops FerretDB with SIGKILL: every connection drops at once.
func (f *Ferret) Kill() { f.p.Kill() }

// ReadStream reads every message of stream whose subject matches filter,
// with an ordered consumer, in stream order.
func ReadStream(ctx context.Context, js jetstream.JetStream, stream, filter string) ([]jetstream.Msg, error) {
	cons, err := js.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{FilterSubjects: []string{filter}})
	if err != nil {
		return nil, err
	}
	info, err := cons.Info(ctx)
	if err != nil {
		return nil, err
	}
	n := int(info.NumPending)
	out := make([]jetstream.Msg, 0, n)
	for len(out) < n {
		batch, err := cons.Fetch(min(n-len(out), 1000), jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			return out, err
		}
		got := 0
		for m := range batch.Messages() {
			out = append(out, m)
			got++
		}
		if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) {
			return out, err
		}
		if got == 0 {
			return out, fmt.Errorf("%s: read %d of %d messages", stream, len(out), n)
		}
	}
	return out, nil
}
