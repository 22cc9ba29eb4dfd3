package console

import (
	"fmt"
	"html/template"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
)

// The metrics the charts sample (internal/metrics).
const (
	metricHandled = "roomkeeper_messages_handled_total"
	metricLatency = "roomkeeper_message_handling_seconds"
)

// streamRow is one stream with its consumers.
type streamRow struct {
	Info      *jetstream.StreamInfo
	Consumers []*jetstream.ConsumerInfo
	Err       string
}

func (c *Console) streamsPage(w http.ResponseWriter, r *http.Request, p *page) {
	p.Title, p.Nav = "Streams and consumers", "streams"
	ctx, cancel := c.ctx(r)
	defer cancel()
	var rows []streamRow
	lister := c.js.ListStreams(ctx)
	for info := range lister.Info() {
		row := streamRow{Info: info}
		if s, err := c.js.Stream(ctx, info.Config.Name); err != nil {
			row.Err = err.Error()
		} else {
			cl := s.ListConsumers(ctx)
			for ci := range cl.Info() {
				row.Consumers = append(row.Consumers, ci)
			}
			if err := cl.Err(); err != nil {
				row.Err = err.Error()
			}
		}
		rows = append(rows, row)
	}
	if err := lister.Err(); err != nil {
		p.Error = "list streams: " + err.Error()
	}
	p.Data = map[string]any{"Streams": rows, "Charts": c.charts.charts()}
	c.render(w, http.StatusOK, "streams", p)
}

func (c *Console) chartsFragment(w http.ResponseWriter, _ *http.Request, p *page) {
	p.Data = map[string]any{"Charts": c.charts.charts()}
	c.render(w, http.StatusOK, "charts_fragment", p)
}

// sample is one reading of the registry.
type sample struct {
	at               time.Time
	handled          float64 // messages handled, all kinds and outcomes
	latSum, latCount float64 // handling time histogram's sum and count
}

// sampler keeps the last n samples of the registry in a ring.
type sampler struct {
	g prometheus.Gatherer

	mu   sync.Mutex
	ring []sample
	next int
	full bool
}

func newSampler(g prometheus.Gatherer, n int) *sampler {
	return &sampler{g: g, ring: make([]sample, n)}
}

func (s *sampler) sample(now time.Time) {
	if s.g == nil {
		return
	}
	fams, err := s.g.Gather()
	if err != nil && len(fams) == 0 {
		return
	}
	x := sample{at: now}
	for _, f := range fams {
		switch f.GetName() {
		case metricHandled:
			for _, m := range f.GetMetric() {
				x.handled += m.GetCounter().GetValue()
			}
		case metricLatency:
			for _, m := range f.GetMetric() {
				x.latSum += m.GetHistogram().GetSampleSum()
				x.latCount += float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ring[s.next] = x
	s.next = (s.next + 1) % len(s.ring)
	if s.next == 0 {
		s.full = true
	}
}

// ordered returns the samples oldest first.
func (s *sampler) ordered() []sample {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.full {
		return append([]sample(nil), s.ring[:s.next]...)
	}
	return append(append([]sample(nil), s.ring[s.next:]...), s.ring[:s.next]...)
}

// chart is one sparkline with its last value.
type chart struct {
	Title string
	Unit  string
	Last  string
	SVG   template.HTML
}

// charts returns the throughput (messages handled per second) and the mean
// handling latency (ms) between consecutive samples.
func (s *sampler) charts() []chart {
	xs := s.ordered()
	var rate, lat []float64
	idle := false // no message in the last interval
	for i := 1; i < len(xs); i++ {
		a, b := xs[i-1], xs[i]
		dt := b.at.Sub(a.at).Seconds()
		if dt <= 0 {
			continue
		}
		rate = append(rate, max(0, b.handled-a.handled)/dt)
		// An interval without messages has no latency: the line keeps the
		// last one.
		n := b.latCount - a.latCount
		idle = n <= 0
		switch {
		case !idle:
			lat = append(lat, (b.latSum-a.latSum)/n*1000)
		case len(lat) > 0:
			lat = append(lat, lat[len(lat)-1])
		default:
			lat = append(lat, 0)
		}
	}
	latLast := last(lat)
	if idle {
		latLast = "idle, last " + latLast
	}
	return []chart{
		{Title: "Throughput", Unit: "msg/s", Last: last(rate), SVG: sparkline(rate)},
		{Title: "Handling latency (mean)", Unit: "ms", Last: latLast, SVG: sparkline(lat)},
	}
}

func last(v []float64) string {
	if len(v) == 0 {
		return "no sample yet"
	}
	return fmt.Sprintf("%.2f", v[len(v)-1])
}

// sparkline draws vs as an inline SVG polyline, scaled to its maximum.
func sparkline(vs []float64) template.HTML {
	const w, h = 240.0, 48.0
	if len(vs) < 2 {
		return template.HTML(`<svg class="spark" width="240" height="48" role="img" aria-label="not enough samples yet"></svg>`)
	}
	top := 0.0
	for _, v := range vs {
		top = max(top, v)
	}
	if top == 0 {
		top = 1
	}
	var pts strings.Builder
	for i, v := range vs {
		x := float64(i) * w / float64(len(vs)-1)
		y := h - 2 - v/top*(h-4)
		fmt.Fprintf(&pts, "%.1f,%.1f ", x, y)
	}
	// Only numbers go into the markup.
	return template.HTML(fmt.Sprintf( //nolint:gosec // numbers only
		`<svg class="spark" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f" role="img" aria-label="max %.2f"><polyline fill="none" stroke="#2563eb" stroke-width="1.5" points="%s"/></svg>`,
		w, h, w, h, top, strings.TrimSpace(pts.String())))
}
