package console

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/roomkeeper/roomkeeper/events"
)

func (c *Console) eventsPage(w http.ResponseWriter, _ *http.Request, p *page) {
	p.Title, p.Nav = "Live events", "events"
	c.render(w, http.StatusOK, "events", p)
}

// liveEvent is what the events page receives for one domain event.
type liveEvent struct {
	Seq   uint64       `json:"seq"`
	Event events.Event `json:"event"`
	Type  string       `json:"type"` // the event type without the CloudEvents prefix
}

// eventStream streams the domain events of ROOMS_EVENTS published after
// the request as server-sent events: a "ready" event once the consumer
// runs, then one message per domain event, and a comment every 15s to
// keep proxies from closing the connection. It reads through an ordered
// consumer (no durable state) that starts after the stream's last message
// at the time of the request.
func (c *Console) eventStream(w http.ResponseWriter, r *http.Request, _ *page) {
	rc := http.NewResponseController(w)
	// The server's WriteTimeout would cut the stream.
	_ = rc.SetWriteDeadline(time.Time{})
	ctx := r.Context()
	stream, err := c.js.Stream(ctx, events.StreamEvents)
	if err != nil {
		http.Error(w, "stream "+events.StreamEvents+": "+err.Error(), http.StatusBadGateway)
		return
	}
	cons, err := c.js.OrderedConsumer(ctx, events.StreamEvents, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{events.EventPrefix + ">"},
		DeliverPolicy:  jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:    stream.CachedInfo().State.LastSeq + 1,
	})
	if err != nil {
		http.Error(w, "consumer on "+events.StreamEvents+": "+err.Error(), http.StatusBadGateway)
		return
	}
	msgs := make(chan liveEvent, 64)
	cc, err := cons.Consume(func(m jetstream.Msg) {
		var ev events.Event
		if json.Unmarshal(m.Data(), &ev) != nil || ev.ID == "" {
			return
		}
		le := liveEvent{Event: ev, Type: strings.TrimPrefix(ev.Type, events.CloudEventsType)}
		if meta, err := m.Metadata(); err == nil {
			le.Seq = meta.Sequence.Stream
		}
		select {
		case msgs <- le:
		case <-ctx.Done():
		}
	})
	if err != nil {
		http.Error(w, "consume "+events.StreamEvents+": "+err.Error(), http.StatusBadGateway)
		return
	}
	defer func() { cc.Stop(); <-cc.Closed() }()
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	_, _ = fmt.Fprint(w, "event: ready\ndata: {}\n\n")
	_ = rc.Flush()
	keep := time.NewTicker(15 * time.Second)
	defer keep.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.done:
			return
		case <-keep.C:
			_, _ = fmt.Fprint(w, ": keep-alive\n\n")
		case le := <-msgs:
			b, _ := json.Marshal(le)
			_, _ = fmt.Fprintf(w, "data: %s\n\n", b)
		}
		if err := rc.Flush(); err != nil {
			return
		}
	}
}
