package nemesis

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/roomkeeper/roomkeeper/internal/procs"
)

// nemesis injects a schedule of faults into a system and logs what it did.
type nemesis struct {
	s     *system
	start time.Time

	mu      sync.Mutex
	log     []string
	done    []Fault     // faults injected
	skipped []Fault     // faults whose target was still under a fault
	failed  []Violation // processes that did not come back
}

func newNemesis(s *system) *nemesis {
	return &nemesis{s: s}
}

func (n *nemesis) logf(format string, args ...any) {
	line := fmt.Sprintf("%8s ", time.Since(n.start).Round(time.Millisecond)) + fmt.Sprintf(format, args...)
	n.mu.Lock()
	n.log = append(n.log, line)
	n.mu.Unlock()
}

// Run injects the faults at their times, each in its own goroutine, and
// returns once every fault is repaired. A fault whose target (or, for
// NATS, any node: the cluster loses one at a time; for the store, the
// store) is still under a fault at its time is skipped: queued, faults
// would chain into one long outage and run past the end.
func (n *nemesis) Run(start time.Time, faults []Fault) {
	n.start = start
	var wg sync.WaitGroup
	busy := map[string]bool{}
	for _, f := range faults {
		time.Sleep(time.Until(start.Add(f.At)))
		key := n.key(f)
		n.mu.Lock()
		if busy[key] {
			n.skipped = append(n.skipped, f)
			n.mu.Unlock()
			n.logf("skip %s: %s still under a fault", f.Kind, key)
			continue
		}
		busy[key] = true
		n.done = append(n.done, f)
		n.mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			n.inject(f)
			n.mu.Lock()
			delete(busy, key)
			n.mu.Unlock()
		}()
	}
	wg.Wait()
}

func (n *nemesis) key(f Fault) string {
	switch f.Kind {
	case KillWorker, StopWorker:
		return n.s.workers[f.Target].Name()
	case KillScheduler, StopScheduler:
		return n.s.schedulers[f.Target].Name()
	case KillWebhooks:
		return n.s.webhooks[f.Target].Name()
	case KillAPI:
		return n.s.apis[f.Target].Name()
	case KillDispatcher:
		return n.s.dispatchers[f.Target].Name()
	case ReceiverDown:
		return "receiver"
	case LockStore, LockStoreLong:
		return "store"
	case KillLiveKit:
		return "livekit"
	default:
		return "nats"
	}
}

func (n *nemesis) inject(f Fault) {
	switch f.Kind {
	case KillWorker:
		n.kill(n.s.workers[f.Target], f.Pause)
	case KillScheduler:
		n.kill(n.s.schedulers[f.Target], f.Pause)
	case KillWebhooks:
		n.kill(n.s.webhooks[f.Target], f.Pause)
	case StopWorker:
		n.stop(n.s.workers[f.Target], f.Pause)
	case StopScheduler:
		n.stop(n.s.schedulers[f.Target], f.Pause)
	case KillNATS:
		node := n.s.nats[f.Target]
		n.logf("kill -9 %s", node.Name)
		node.Kill()
		time.Sleep(f.Pause)
		node.Start()
		n.logf("%s back after %s", node.Name, f.Pause.Round(time.Millisecond))
	case LockStore, LockStoreLong:
		n.lockStore(f.Pause)
	case KillAPI:
		n.kill(n.s.apis[f.Target], f.Pause)
	case KillDispatcher:
		n.kill(n.s.dispatchers[f.Target], f.Pause)
	case ReceiverDown:
		n.logf("outgoing webhook receiver down")
		n.s.receiver.down.Store(true)
		time.Sleep(f.Pause)
		n.s.receiver.down.Store(false)
		n.logf("outgoing webhook receiver back after %s", f.Pause.Round(time.Millisecond))
	case KillLiveKit:
		n.logf("kill -9 livekit-server")
		n.s.lk.Kill()
		time.Sleep(f.Pause)
		if err := n.s.lk.Restart(time.Minute); err != nil {
			n.logf("livekit-server: %v", err)
			n.mu.Lock()
			n.failed = append(n.failed, Violation{Rule: "restart-failed", ID: "livekit-server", Detail: err.Error()})
			n.mu.Unlock()
			return
		}
		n.logf("livekit-server back after %s (without its rooms)", f.Pause.Round(time.Millisecond))
	case RollNATS:
		for _, node := range n.s.nats {
			n.logf("rolling restart: SIGTERM %s", node.Name)
			if err := node.Stop(30 * time.Second); err != nil {
				n.logf("%s: %v (killed)", node.Name, err)
			}
			node.Start()
			n.logf("rolling restart: %s back and current", node.Name)
		}
	}
}

// restartBound is how long a killed process may take to be up again, the
// longest store lock included.
const restartBound = LongLock + time.Minute

func (n *nemesis) kill(r *procs.Role, pause time.Duration) {
	n.logf("kill -9 %s", r.Name())
	r.Proc().Kill()
	time.Sleep(pause)
	// Started again until it stays up, as a supervisor would: a worker
	// cannot start while the store is locked.
	if err := r.TryStart(restartBound); err != nil {
		n.logf("%s: %v", r.Name(), err)
		n.mu.Lock()
		n.failed = append(n.failed, Violation{Rule: "restart-failed", ID: r.Name(), Detail: err.Error()})
		n.mu.Unlock()
		return
	}
	n.logf("%s started again after %s", r.Name(), pause.Round(time.Millisecond))
}

func (n *nemesis) stop(r *procs.Role, pause time.Duration) {
	p := r.Proc()
	n.logf("SIGSTOP %s", r.Name())
	_ = p.Signal(syscall.SIGSTOP)
	time.Sleep(pause)
	_ = p.Signal(syscall.SIGCONT)
	n.logf("SIGCONT %s after %s", r.Name(), pause.Round(time.Millisecond))
}

// Log is the fault log.
func (n *nemesis) Log() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return strings.Join(n.log, "\n")
}

// lockStore holds the write lock of the workers' SQLite file for pause, as
// another process (this one) with an exclusive transaction: every write of
// the workers waits for its busy timeout and fails. On MongoDB it kills the
// FerretDB process and starts it again after pause.
func (n *nemesis) lockStore(pause time.Duration) {
	if f := n.s.ferret; f != nil {
		// MongoDB: the server goes away (kill -9) and comes back.
		n.logf("kill -9 ferretdb")
		f.Kill()
		time.Sleep(pause)
		f.Start()
		n.logf("ferretdb back after %s", pause.Round(time.Millisecond))
		return
	}
	ctx := context.Background()
	db, err := sql.Open("sqlite", "file:"+n.s.storePath()+"?_pragma=busy_timeout(60000)")
	if err != nil {
		n.logf("lock store: %v", err)
		return
	}
	defer func() { _ = db.Close() }()
	conn, err := db.Conn(ctx)
	if err != nil {
		n.logf("lock store: %v", err)
		return
	}
	defer func() { _ = conn.Close() }()
	if _, err := conn.ExecContext(ctx, "BEGIN EXCLUSIVE"); err != nil {
		n.logf("lock store: %v", err)
		return
	}
	n.logf("store locked (BEGIN EXCLUSIVE on the SQLite file)")
	time.Sleep(pause)
	if _, err := conn.ExecContext(ctx, "ROLLBACK"); err != nil {
		n.logf("unlock store: %v", err)
	}
	n.logf("store unlocked after %s", pause.Round(time.Millisecond))
}
