// Command charts draws the charts of BENCHMARKS.md from the figures file
// the benchmarks of internal/benchkit write:
//
//	go run ./internal/benchkit/cmd/charts [-figures docs/bench.json] [-out docs]
//
// It writes bench-latency.png (latency percentiles, publish → result, at
// half the maximum rate, per column) and bench-scaling.png (throughput
// against the number of worker processes, per column, beside N × one
// worker). With -ingest FILE it first records the webhook ingest figures
// from the output of `go test -bench Ingest ./webhooks` into the column
// -column.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"image/color"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"

	"github.com/roomkeeper/roomkeeper/internal/benchkit"
)

func main() {
	figures := flag.String("figures", "docs/bench.json", "figures file")
	out := flag.String("out", "docs", "directory of the PNGs")
	ingest := flag.String("ingest", "", "output of `go test -bench Ingest ./webhooks` to record first")
	column := flag.String("column", "before", "column -ingest records into")
	flag.Parse()
	if err := run(*figures, *out, *ingest, *column); err != nil {
		fmt.Fprintln(os.Stderr, "charts:", err)
		os.Exit(1)
	}
}

func run(figuresPath, out, ingest, column string) error {
	if ingest != "" {
		f, err := os.Open(ingest)
		if err != nil {
			return err
		}
		fig, err := parseIngest(f)
		_ = f.Close()
		if err != nil {
			return err
		}
		if err := benchkit.UpdateFigures(figuresPath, func(f *benchkit.Figures) { f.Column(column).Ingest = fig }); err != nil {
			return err
		}
	}
	f, err := benchkit.LoadFigures(figuresPath)
	if err != nil {
		return err
	}
	if err := latencyChart(f, filepath.Join(out, "bench-latency.png")); err != nil {
		return err
	}
	return scalingChart(f, filepath.Join(out, "bench-scaling.png"))
}

// columns lists the columns with figures, "before" and "after" first.
func columns(f *benchkit.Figures) []string {
	var names []string
	for name := range f.Columns {
		names = append(names, name)
	}
	rank := func(s string) int {
		switch s {
		case "before":
			return 0
		case "after":
			return 1
		}
		return 2
	}
	slices.SortFunc(names, func(a, b string) int {
		if r := rank(a) - rank(b); r != 0 {
			return r
		}
		return strings.Compare(a, b)
	})
	return names
}

func latencyChart(f *benchkit.Figures, path string) error {
	p := plot.New()
	p.Title.Text = "room.create latency, publish → result, at half the maximum rate"
	p.Y.Label.Text = "milliseconds"
	p.Y.Min = 0
	p.Legend.Top = true
	p.Legend.Left = true
	const w = 28
	var shown []string
	for _, name := range columns(f) {
		if f.Columns[name].Latency != nil {
			shown = append(shown, name)
		}
	}
	for i, name := range shown {
		l := f.Columns[name].Latency
		bars, err := plotter.NewBarChart(plotter.Values{l.P50, l.P90, l.P99, l.Max}, vg.Points(w))
		if err != nil {
			return err
		}
		bars.Color = plotutil.Color(i)
		bars.LineStyle.Width = 0
		bars.Offset = vg.Points(w * (float64(i) - float64(len(shown)-1)/2))
		p.Add(bars)
		p.Legend.Add(fmt.Sprintf("%s (%.0f/s of max %.0f/s)", name, l.Rate, l.MaxRate), bars)
		labels, err := barLabels([]float64{l.P50, l.P90, l.P99, l.Max}, bars.Offset)
		if err != nil {
			return err
		}
		p.Add(labels)
	}
	p.NominalX("p50", "p90", "p99", "max")
	return p.Save(8*vg.Inch, 5*vg.Inch, path)
}

// barLabels writes each value above its bar.
func barLabels(vals []float64, offset vg.Length) (*plotter.Labels, error) {
	xys := make(plotter.XYs, len(vals))
	txt := make([]string, len(vals))
	for i, v := range vals {
		xys[i] = plotter.XY{X: float64(i), Y: v}
		txt[i] = strconv.FormatFloat(v, 'f', 1, 64)
	}
	labels, err := plotter.NewLabels(plotter.XYLabels{XYs: xys, Labels: txt})
	if err != nil {
		return nil, err
	}
	for i := range labels.TextStyle {
		labels.TextStyle[i].XAlign = -0.5
		labels.TextStyle[i].YAlign = 0
		labels.TextStyle[i].Font.Size = vg.Points(8)
	}
	labels.Offset = vg.Point{X: offset}
	return labels, nil
}

func scalingChart(f *benchkit.Figures, path string) error {
	p := plot.New()
	p.Title.Text = "Throughput against worker processes (I/O-bound deletes)"
	p.X.Label.Text = "worker processes"
	p.Y.Label.Text = "commands per second"
	p.X.Min, p.Y.Min = 0, 0
	p.Legend.Top = true
	p.Legend.Left = true
	p.X.Tick.Marker = plot.ConstantTicks([]plot.Tick{{Value: 1, Label: "1"}, {Value: 2, Label: "2"}, {Value: 4, Label: "4"}})
	for i, name := range columns(f) {
		s := f.Columns[name].Scaling
		if s == nil || len(s.Points) == 0 {
			continue
		}
		var got, ideal plotter.XYs
		for _, pt := range s.Points {
			got = append(got, plotter.XY{X: float64(pt.Workers), Y: pt.Throughput})
			if one := s.Points[0]; one.Workers == 1 {
				ideal = append(ideal, plotter.XY{X: float64(pt.Workers), Y: float64(pt.Workers) * one.Throughput})
			}
		}
		line, points, err := plotter.NewLinePoints(got)
		if err != nil {
			return err
		}
		line.Color, points.Color = plotutil.Color(i), plotutil.Color(i)
		line.Width = vg.Points(2)
		p.Add(line, points)
		p.Legend.Add(fmt.Sprintf("%s: measured (%d handlers/process, +%.0f ms per LiveKit call)", name, s.WorkerConcurrency, s.LiveKitLatencyMs), line, points)
		if len(ideal) > 0 {
			dash, err := plotter.NewLine(ideal)
			if err != nil {
				return err
			}
			dash.Color = plotutil.Color(i)
			dash.Dashes = []vg.Length{vg.Points(4), vg.Points(4)}
			p.Add(dash)
			p.Legend.Add(name+": N × one worker", dash)
		}
	}
	p.Add(plotter.NewGrid())
	p.Y.Max *= 1.15 // room for the legend
	p.X.Max = max(p.X.Max, 4) + 0.5
	p.BackgroundColor = color.White
	return p.Save(8*vg.Inch, 5*vg.Inch, path)
}

// parseIngest reads `go test -bench Ingest` output and keeps the highest
// concurrency's sub-benchmark (its receiver/bare metrics).
func parseIngest(r io.Reader) (*benchkit.IngestFigures, error) {
	var best *benchkit.IngestFigures
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 4 || !strings.HasPrefix(fields[0], "BenchmarkIngest/c=") {
			continue
		}
		cs := strings.TrimPrefix(fields[0], "BenchmarkIngest/c=")
		if i := strings.IndexByte(cs, '-'); i >= 0 {
			cs = cs[:i]
		}
		c, err := strconv.Atoi(cs)
		if err != nil {
			continue
		}
		fig := &benchkit.IngestFigures{Concurrency: c}
		for i := 2; i+1 < len(fields); i += 2 {
			v, err := strconv.ParseFloat(fields[i], 64)
			if err != nil {
				continue
			}
			switch fields[i+1] {
			case "receiver_req/s":
				fig.Receiver = v
			case "bare_req/s":
				fig.Bare = v
			case "receiver/bare":
				fig.Ratio = v
			}
		}
		if best == nil || c > best.Concurrency {
			best = fig
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if best == nil {
		return nil, fmt.Errorf("no BenchmarkIngest/c=... line in the input")
	}
	return best, nil
}
