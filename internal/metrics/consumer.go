package metrics

import (
	"context"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/roomkeeper/roomkeeper/events"
)

// consumerStreams are the streams whose `workers` consumer is read at
// scrape time.
var consumerStreams = []string{events.StreamCommands, events.StreamWebhooks}

// consumerCollector reads the info of the shared `workers` consumer at
// scrape time. The figures are JetStream's, the same from every process.
type consumerCollector struct {
	js      jetstream.JetStream
	timeout time.Duration

	up, pending, ackPending, redelivered, waiting *prometheus.Desc
}

func newConsumerCollector(js jetstream.JetStream, timeout time.Duration) *consumerCollector {
	labels := []string{"stream", "consumer"}
	desc := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(Namespace, "consumer", name), help, labels, nil)
	}
	return &consumerCollector{
		js: js, timeout: timeout,
		up:          desc("info_up", "1 when the consumer info could be read at this scrape, 0 when NATS did not answer in time (the other consumer metrics are then absent)."),
		pending:     desc("num_pending", "Messages in the stream not yet delivered to the consumer (the backlog)."),
		ackPending:  desc("num_ack_pending", "Messages delivered to workers and not yet acknowledged (in flight)."),
		redelivered: desc("num_redelivered", "Messages delivered and not yet acknowledged that were delivered more than once."),
		waiting:     desc("num_waiting", "Pull requests waiting for messages (idle worker capacity)."),
	}
}

// Describe implements prometheus.Collector.
func (c *consumerCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.up, c.pending, c.ackPending, c.redelivered, c.waiting} {
		ch <- d
	}
}

// Collect implements prometheus.Collector: one consumer info request per
// stream, in parallel, bounded by the timeout together.
func (c *consumerCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	var wg sync.WaitGroup
	for _, stream := range consumerStreams {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.collect(ctx, stream, ch)
		}()
	}
	wg.Wait()
}

func (c *consumerCollector) collect(ctx context.Context, stream string, ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, stream, events.ConsumerWorkers)
	}
	cons, err := c.js.Consumer(ctx, stream, events.ConsumerWorkers)
	if err != nil {
		gauge(c.up, 0)
		return
	}
	info := cons.CachedInfo()
	gauge(c.up, 1)
	gauge(c.pending, float64(info.NumPending))
	gauge(c.ackPending, float64(info.NumAckPending))
	gauge(c.redelivered, float64(info.NumRedelivered))
	gauge(c.waiting, float64(info.NumWaiting))
}
