package benchkit

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Latency histogram range: 1 µs to 10 min, 3 significant digits.
const (
	histMinMicros = 1
	histMaxMicros = int64(10 * time.Minute / time.Microsecond)
	histSigFigs   = 3
)

// Report is the outcome of a [Run] or a [Ceiling].
type Report struct {
	// Sent is how many commands were published (or, for a ceiling,
	// applied).
	Sent int `json:"sent"`
	// OK and Failed count results; Failed by error code.
	OK     int            `json:"ok"`
	Failed map[string]int `json:"failed,omitempty"`
	// PublishErrors counts commands JetStream did not store; TimedOut
	// those whose result did not come back in time.
	PublishErrors int `json:"publishErrors,omitempty"`
	TimedOut      int `json:"timedOut,omitempty"`
	// Ops counts the commands sent per kind.
	Ops map[string]int `json:"ops"`
	// Elapsed is from the first publish to the last result.
	Elapsed time.Duration `json:"elapsed"`
	// Throughput is results (ok or not) per second over Elapsed.
	Throughput float64 `json:"throughput"`
	// Latency percentiles, publish → result (ceiling: one command's
	// writes).
	P50 time.Duration `json:"p50"`
	P90 time.Duration `json:"p90"`
	P99 time.Duration `json:"p99"`
	Max time.Duration `json:"max"`
}

// Errors is every command that did not end with an ok result.
func (r *Report) Errors() int {
	n := r.PublishErrors + r.TimedOut
	for _, c := range r.Failed {
		n += c
	}
	return n
}

// Results is how many results came back.
func (r *Report) Results() int { return r.Sent - r.PublishErrors - r.TimedOut }

// recorder collects latencies and counts; safe for concurrent use.
type recorder struct {
	mu     sync.Mutex
	hist   *hdrhistogram.Histogram
	ok     int
	failed map[string]int
	ops    map[string]int
}

func newRecorder() *recorder {
	return &recorder{
		hist:   hdrhistogram.New(histMinMicros, histMaxMicros, histSigFigs),
		failed: map[string]int{},
		ops:    map[string]int{},
	}
}

// done records one result; code is "" for ok.
func (r *recorder) done(lat time.Duration, code string) {
	us := min(max(lat.Microseconds(), histMinMicros), histMaxMicros)
	r.mu.Lock()
	defer r.mu.Unlock()
	_ = r.hist.RecordValue(us) // in range by construction
	if code == "" {
		r.ok++
	} else {
		r.failed[code]++
	}
}

func (r *recorder) sent(op Op) {
	r.mu.Lock()
	r.ops[op.String()]++
	r.mu.Unlock()
}

// report fills the counts and percentiles of rep.
func (r *recorder) report(rep *Report) {
	r.mu.Lock()
	defer r.mu.Unlock()
	rep.OK = r.ok
	if len(r.failed) > 0 {
		rep.Failed = maps.Clone(r.failed)
	}
	rep.Ops = maps.Clone(r.ops)
	for _, n := range r.ops {
		rep.Sent += n
	}
	us := func(q float64) time.Duration {
		return time.Duration(r.hist.ValueAtQuantile(q)) * time.Microsecond
	}
	if r.hist.TotalCount() > 0 {
		rep.P50, rep.P90, rep.P99 = us(50), us(90), us(99)
		rep.Max = time.Duration(r.hist.Max()) * time.Microsecond
	}
	if rep.Elapsed > 0 {
		rep.Throughput = float64(r.hist.TotalCount()) / rep.Elapsed.Seconds()
	}
}

// ms prints a duration in milliseconds with a fixed precision.
func ms(d time.Duration) string { return fmt.Sprintf("%.2f", float64(d)/float64(time.Millisecond)) }

// Print writes the report as lines of "name: value", the form
// `roomctl bench` prints and its tests parse:
//
//	commands: 1000 (create 1000)
//	results: 1000 ok, 0 errors
//	errors: none
//	elapsed: 1.234s
//	throughput: 810.4 commands/s
//	latency ms: p50 10.10 p90 20.20 p99 30.30 max 40.40
func (r *Report) Print(w io.Writer, label string) {
	ops := make([]string, 0, len(r.Ops))
	for _, k := range slices.Sorted(maps.Keys(r.Ops)) {
		ops = append(ops, fmt.Sprintf("%s %d", k, r.Ops[k]))
	}
	_, _ = fmt.Fprintf(w, "%s commands: %d (%s)\n", label, r.Sent, strings.Join(ops, ", "))
	_, _ = fmt.Fprintf(w, "%s results: %d ok, %d errors\n", label, r.OK, r.Errors())
	var errs []string
	for _, k := range slices.Sorted(maps.Keys(r.Failed)) {
		errs = append(errs, fmt.Sprintf("%s %d", k, r.Failed[k]))
	}
	if r.PublishErrors > 0 {
		errs = append(errs, fmt.Sprintf("publish %d", r.PublishErrors))
	}
	if r.TimedOut > 0 {
		errs = append(errs, fmt.Sprintf("timeout %d", r.TimedOut))
	}
	if len(errs) == 0 {
		errs = []string{"none"}
	}
	_, _ = fmt.Fprintf(w, "%s errors: %s\n", label, strings.Join(errs, ", "))
	_, _ = fmt.Fprintf(w, "%s elapsed: %s\n", label, r.Elapsed.Round(time.Millisecond))
	_, _ = fmt.Fprintf(w, "%s throughput: %.1f commands/s\n", label, r.Throughput)
	_, _ = fmt.Fprintf(w, "%s latency ms: p50 %s p90 %s p99 %s max %s\n", label, ms(r.P50), ms(r.P90), ms(r.P99), ms(r.Max))
}
