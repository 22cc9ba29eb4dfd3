package nemesis

import (
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

	mu   sync.Mutex
	log  []string
	done []Fault // faults injected
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

// Run injects the faults at their times and returns once every fault is
// repaired. Faults on different processes overlap; faults on the same
// process (or, for NATS, on any node: the cluster loses one at a time)
// wait for the one before to be repaired, in schedule order.
func (n *nemesis) Run(start time.Time, faults []Fault) {
	n.start = start
	var wg sync.WaitGroup
	queues := map[string]chan Fault{}
	for _, f := range faults {
		time.Sleep(time.Until(start.Add(f.At)))
		key := n.key(f)
		q, ok := queues[key]
		if !ok {
			q = make(chan Fault, len(faults))
			queues[key] = q
			wg.Add(1)
			go func() {
				defer wg.Done()
				for f := range q {
					n.mu.Lock()
					n.done = append(n.done, f)
					n.mu.Unlock()
					n.inject(f)
				}
			}()
		}
		q <- f
	}
	for _, q := range queues {
		close(q)
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

func (n *nemesis) kill(r *procs.Role, pause time.Duration) {
	n.logf("kill -9 %s", r.Name())
	r.Proc().Kill()
	time.Sleep(pause)
	r.Start()
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
