package benchkit

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"slices"
	"sort"
)

// Figures is docs/bench.json: the figures of BENCHMARKS.md, per column
// ("before", "after"), written by the benchmarks and read by the charts.
type Figures struct {
	// Machine describes where the figures were measured.
	Machine Machine `json:"machine"`
	// Columns holds one set of figures per column name.
	Columns map[string]*Column `json:"columns"`
}

// Machine is the machine and its load during the measurements.
type Machine struct {
	CPU   string `json:"cpu,omitempty"`
	VCPUs int    `json:"vcpus,omitempty"`
	// Load is `uptime`'s load averages, per column, when measured.
	Load map[string]string `json:"load,omitempty"`
}

// Column is one set of figures.
type Column struct {
	Create  *CreateFigures  `json:"create,omitempty"`
	Latency *LatencyFigures `json:"latency,omitempty"`
	Ingest  *IngestFigures  `json:"ingest,omitempty"`
	Scaling *ScaleFigures   `json:"scaling,omitempty"`
}

// CreateFigures: room.create end to end vs the raw store ceiling.
type CreateFigures struct {
	N           int     `json:"n"`
	Concurrency int     `json:"concurrency"`
	Store       string  `json:"store"`
	E2E         float64 `json:"e2ePerSec"`
	Ceiling     float64 `json:"ceilingPerSec"`
	Ratio       float64 `json:"ratio"`
	Runs        int     `json:"runs"`
}

// LatencyFigures: latency percentiles at a fraction of the maximum rate.
type LatencyFigures struct {
	N           int     `json:"n"`
	Concurrency int     `json:"concurrency"`
	MaxRate     float64 `json:"maxRatePerSec"`
	Rate        float64 `json:"ratePerSec"`
	Throughput  float64 `json:"throughputPerSec"`
	P50         float64 `json:"p50Ms"`
	P90         float64 `json:"p90Ms"`
	P99         float64 `json:"p99Ms"`
	Max         float64 `json:"maxMs"`
	P99OverP50  float64 `json:"p99OverP50"`
	Runs        int     `json:"runs"`
}

// IngestFigures: webhook receiver vs bare verify-and-200 handler.
type IngestFigures struct {
	Concurrency int     `json:"concurrency"`
	Receiver    float64 `json:"receiverPerSec"`
	Bare        float64 `json:"barePerSec"`
	Ratio       float64 `json:"ratio"`
}

// ScaleFigures: throughput of N worker processes on I/O-bound handlers.
type ScaleFigures struct {
	LiveKitLatencyMs  float64      `json:"livekitLatencyMs"`
	WorkerConcurrency int          `json:"workerConcurrency"`
	Workload          string       `json:"workload"`
	Points            []ScalePoint `json:"points"`
}

// ScalePoint is the throughput of one worker count.
type ScalePoint struct {
	Workers    int     `json:"workers"`
	Throughput float64 `json:"throughputPerSec"`
	// Ratio is Throughput / (Workers × the one-worker throughput).
	Ratio float64 `json:"ratio"`
	Runs  int     `json:"runs"`
}

// LoadFigures reads path; a missing file gives empty figures.
func LoadFigures(path string) (*Figures, error) {
	f := &Figures{Columns: map[string]*Column{}}
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return f, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(raw, f); err != nil {
		return nil, err
	}
	if f.Columns == nil {
		f.Columns = map[string]*Column{}
	}
	return f, nil
}

// Column returns the column name, adding it when missing.
func (f *Figures) Column(name string) *Column {
	c := f.Columns[name]
	if c == nil {
		c = &Column{}
		f.Columns[name] = c
	}
	return c
}

// Save writes f to path, indented.
func (f *Figures) Save(path string) error {
	raw, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(raw, '\n'), 0o644) //nolint:gosec // docs/bench.json is a committed, public document
}

// UpdateFigures loads path, lets update change the figures and saves them.
func UpdateFigures(path string, update func(*Figures)) error {
	f, err := LoadFigures(path)
	if err != nil {
		return err
	}
	update(f)
	return f.Save(path)
}

// Median returns the median of xs (the mean of the middle two for an even
// count); 0 for none.
func Median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
