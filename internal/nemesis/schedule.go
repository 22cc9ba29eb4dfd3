package nemesis

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"time"
)

// FaultKind is one kind of fault the nemesis injects.
type FaultKind string

// The faults, each followed by its repair.
const (
	// KillWorker, KillScheduler, KillWebhooks: kill -9 of one roomkeeper
	// process, started again after Fault.Pause.
	KillWorker    FaultKind = "kill-worker"
	KillScheduler FaultKind = "kill-scheduler"
	KillWebhooks  FaultKind = "kill-webhooks"
	// StopWorker, StopScheduler: SIGSTOP of one process for Fault.Pause
	// (longer than AckWait), then SIGCONT.
	StopWorker    FaultKind = "stop-worker"
	StopScheduler FaultKind = "stop-scheduler"
	// KillNATS: kill -9 of one nats-server node, started again after
	// Fault.Pause on the same ports and store.
	KillNATS FaultKind = "kill-nats"
	// RollNATS: a rolling restart of every node (SIGTERM, start, wait until
	// it is current, next).
	RollNATS FaultKind = "rolling-restart-nats"
	// LockStore: another process holds the SQLite file's write lock for
	// Fault.Pause (shorter than the workers' retry budget).
	LockStore FaultKind = "lock-store"
	// LockStoreLong: the same for longer than the retry budget, so that
	// commands reach their last delivery with the ledger unreachable
	// (drawn once, in runs of at least LongLockMinRun).
	LockStoreLong FaultKind = "lock-store-long"
	// KillLiveKit: kill -9 of livekit-server, started again after
	// Fault.Pause on the same ports and keys, without the rooms it had
	// (LiveKit keeps them in memory): the meetings in them end without a
	// room_finished.
	KillLiveKit FaultKind = "kill-livekit"
	// KillAPI, KillDispatcher: kill -9 of an HTTP API process (requests
	// in flight break; the load retries them with the same
	// Idempotency-Key) or of the outgoing webhook dispatcher, started
	// again after Fault.Pause.
	KillAPI        FaultKind = "kill-api"
	KillDispatcher FaultKind = "kill-dispatcher"
	// ReceiverDown: the outgoing webhooks' receiver answers 503 for
	// Fault.Pause (up to a minute and a half).
	ReceiverDown FaultKind = "receiver-down"
)

// LongLockMinRun is the shortest run that gets a LockStoreLong, and
// LongLock how long it holds the lock: past the retry budget of a command
// (nak delays of 250 ms doubling to 30 s over 10 deliveries, each waiting
// up to the 10 s busy timeout: about 190 s).
const (
	LongLockMinRun = 4 * time.Minute
	LongLock       = 200 * time.Second
)

type faultWeight struct {
	kind   FaultKind
	weight int
}

// faultWeights is how often each kind is drawn, relative to the others.
var faultWeights = []faultWeight{
	{KillWorker, 4}, {KillScheduler, 1}, {KillWebhooks, 1},
	{StopWorker, 2}, {StopScheduler, 1},
	{KillNATS, 2}, {RollNATS, 1},
	{LockStore, 2}, {LockStoreLong, 0},
	{KillLiveKit, 1},
	{KillAPI, 2}, {KillDispatcher, 1}, {ReceiverDown, 1},
}

// Fault is one fault of a schedule.
type Fault struct {
	// At is when the fault starts, from the start of the run.
	At   time.Duration
	Kind FaultKind
	// Target is the index of the process among those of its role (worker
	// 0..Workers-1, NATS node 0..NATSNodes-1, ...).
	Target int
	// Pause is how long the process stays down or stopped.
	Pause time.Duration
}

func (f Fault) String() string {
	s := fmt.Sprintf("%8s %s #%d", f.At.Round(time.Millisecond), f.Kind, f.Target+1)
	if f.Pause > 0 {
		s += fmt.Sprintf(" for %s", f.Pause.Round(time.Millisecond))
	}
	return s
}

// ScheduleConfig is what a schedule is drawn for.
type ScheduleConfig struct {
	// Duration of the faults: none starts after Duration - Cooldown.
	Duration time.Duration
	// Warmup before the first fault (default 5s) and Cooldown (default
	// 5s).
	Warmup, Cooldown time.Duration
	// MeanGap between the starts of two faults (default 5s).
	MeanGap time.Duration
	// AckWait of the workers consumer: a stop lasts longer (default 30s).
	AckWait time.Duration
	// How many processes of each kind run (defaults 3, 2, 1, 3, 2, 1).
	Workers, Schedulers, Webhooks, NATSNodes, APIs, Dispatchers int
}

// WithDefaults returns c with every zero field set to its default.
func (c ScheduleConfig) WithDefaults() ScheduleConfig {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	defi := func(n *int, v int) {
		if *n == 0 {
			*n = v
		}
	}
	def(&c.Warmup, 5*time.Second)
	def(&c.Cooldown, 5*time.Second)
	def(&c.MeanGap, 5*time.Second)
	def(&c.AckWait, 30*time.Second)
	defi(&c.Workers, 3)
	defi(&c.Schedulers, 2)
	defi(&c.Webhooks, 1)
	defi(&c.NATSNodes, 3)
	defi(&c.APIs, 2)
	defi(&c.Dispatchers, 1)
	return c
}

// NewSchedule draws the faults of a run from seed: the same seed and
// configuration give the same schedule. Faults are sorted by start.
func NewSchedule(seed uint64, c ScheduleConfig) []Fault {
	c = c.WithDefaults()
	rng := rand.New(rand.NewPCG(seed, 0x6e656d65736973)) // "nemesis"
	span := func(lo, hi time.Duration) time.Duration { return lo + time.Duration(rng.Int64N(int64(hi-lo)+1)) }
	var out []Fault
	for at := c.Warmup; ; {
		at += span(c.MeanGap/2, c.MeanGap*3/2)
		if at > c.Duration-c.Cooldown {
			break
		}
		kind := draw(rng, faultWeights, func(w faultWeight) (FaultKind, int) { return w.kind, w.weight })
		f := Fault{At: at, Kind: kind}
		switch kind {
		case KillWorker:
			f.Target, f.Pause = rng.IntN(c.Workers), span(500*time.Millisecond, 5*time.Second)
		case KillScheduler:
			f.Target, f.Pause = rng.IntN(c.Schedulers), span(500*time.Millisecond, 5*time.Second)
		case KillWebhooks:
			f.Target, f.Pause = rng.IntN(c.Webhooks), span(500*time.Millisecond, 5*time.Second)
		case StopWorker:
			f.Target, f.Pause = rng.IntN(c.Workers), c.AckWait+span(time.Second, 8*time.Second)
		case StopScheduler:
			f.Target, f.Pause = rng.IntN(c.Schedulers), c.AckWait+span(time.Second, 8*time.Second)
		case KillNATS:
			f.Target, f.Pause = rng.IntN(c.NATSNodes), span(time.Second, 6*time.Second)
		case LockStore:
			f.Pause = span(2*time.Second, 25*time.Second)
		case KillLiveKit:
			f.Pause = span(time.Second, 6*time.Second)
		case KillAPI:
			f.Target, f.Pause = rng.IntN(c.APIs), span(500*time.Millisecond, 5*time.Second)
		case KillDispatcher:
			f.Target, f.Pause = rng.IntN(c.Dispatchers), span(500*time.Millisecond, 5*time.Second)
		case ReceiverDown:
			// Up to a minute and a half, in a run that long.
			f.Pause = span(5*time.Second, max(10*time.Second, min(90*time.Second, c.Duration)))
		case RollNATS:
		}
		out = append(out, f)
	}
	if c.Duration >= LongLockMinRun {
		// Early enough for the commands it holds up to be given up and
		// requeued, and answered before the end.
		out = append(out, Fault{At: c.Warmup + span(0, c.Duration-LongLock-c.Warmup-c.Cooldown), Kind: LockStoreLong, Pause: LongLock})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].At < out[j].At })
	return out
}

// CountByKind returns "kill-worker 3, kill-nats 1, ..." for the kinds of
// faults, in the order of FaultKinds.
func CountByKind(faults []Fault) string {
	n := map[FaultKind]int{}
	for _, f := range faults {
		n[f.Kind]++
	}
	var parts []string
	for _, w := range faultWeights {
		if n[w.kind] > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", w.kind, n[w.kind]))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// draw picks one of choices at random, each as often as its weight.
func draw[C, K any](rng *rand.Rand, choices []C, kw func(C) (K, int)) K {
	total := 0
	for _, c := range choices {
		_, w := kw(c)
		total += w
	}
	n := rng.IntN(total)
	for _, c := range choices {
		k, w := kw(c)
		if n < w {
			return k
		}
		n -= w
	}
	panic("nemesis: draw from no weight")
}
