package console

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSamplerThroughputAndLatency(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	handled := prometheus.NewCounterVec(prometheus.CounterOpts{Name: metricHandled}, []string{"outcome"})
	latency := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: metricLatency}, []string{"type"})
	reg.MustRegister(handled, latency)
	s := newSampler(reg, 3)
	t0 := time.Unix(1000, 0)

	s.sample(t0)
	assert.Equal(t, "no sample yet", s.charts()[0].Last)
	for i := range 10 {
		handled.WithLabelValues([]string{"ok", "error"}[i%2]).Inc()
		latency.WithLabelValues([]string{"create", "delete"}[i%2]).Observe(0.020)
	}
	s.sample(t0.Add(5 * time.Second))
	c := s.charts()
	assert.Equal(t, "2.00", c[0].Last)                   // 10 messages in 5 s
	assert.Equal(t, "20.00", c[1].Last)                  // 20 ms each
	assert.NotContains(t, string(c[0].SVG), "<polyline") // one point is no line

	// An idle interval: no throughput, latency kept.
	s.sample(t0.Add(10 * time.Second))
	c = s.charts()
	assert.Equal(t, "0.00", c[0].Last)
	assert.Equal(t, "idle, last 20.00", c[1].Last)
	assert.Contains(t, string(c[0].SVG), "<polyline")

	// The ring keeps the last 3 samples: 2 intervals.
	for i := range 4 {
		handled.WithLabelValues("ok").Inc()
		latency.WithLabelValues("create").Observe(0.5)
		s.sample(t0.Add(time.Duration(15+i) * time.Second))
	}
	xs := s.ordered()
	require.Len(t, xs, 3)
	assert.True(t, xs[0].at.Before(xs[1].at) && xs[1].at.Before(xs[2].at))
	c = s.charts()
	assert.Equal(t, "1.00", c[0].Last)
	assert.Equal(t, "500.00", c[1].Last)
	assert.Equal(t, 2, strings.Count(string(c[0].SVG), ",")) // two points
}

func TestSparklineScalesToItsMaximum(t *testing.T) {
	t.Parallel()
	svg := string(sparkline([]float64{0, 1, 4, 2}))
	assert.Contains(t, svg, `points="0.0,46.0 80.0,35.0 160.0,2.0 240.0,24.0"`)
	assert.Contains(t, string(sparkline(nil)), "not enough samples")
}
