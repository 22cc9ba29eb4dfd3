package workers

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/store"
)

// maxStoredScan bounds the events unstored reads; a command older than
// that many events of its types is published again as it is.
const maxStoredScan = 100_000

// storedScanSkew is how long before the completion unstored starts
// reading, for the clocks of the store and of JetStream.
const storedScanSkew = time.Minute

// unstored returns msgs without the events ROOMS_EVENTS already holds,
// looking at the events of their types stored since completed (less a
// skew), by Nats-Msg-Id. Messages to other streams are kept: results
// replace themselves (one per subject), fan-out commands and dead letters
// are answered by the ledger. It is the slow path of a replay past the
// duplicates window, where JetStream can no longer drop a copy.
func (w *Worker) unstored(ctx context.Context, completed time.Time, msgs []store.OutMsg) ([]store.OutMsg, error) {
	want := map[string]bool{}
	var subjects []string
	for _, m := range msgs {
		if strings.HasPrefix(m.Subject, events.EventPrefix) {
			want[m.MsgID] = true
			if !slices.Contains(subjects, m.Subject) {
				subjects = append(subjects, m.Subject)
			}
		}
	}
	if len(want) == 0 {
		return msgs, nil
	}
	cons, err := w.js.OrderedConsumer(ctx, events.StreamEvents, jetstream.OrderedConsumerConfig{
		FilterSubjects: subjects,
		DeliverPolicy:  jetstream.DeliverByStartTimePolicy,
		OptStartTime:   ptrTime(completed.Add(-storedScanSkew)),
	})
	if err != nil {
		return nil, err
	}
	found := map[string]bool{}
	for read := 0; read < maxStoredScan && len(found) < len(want); {
		batch, err := cons.Fetch(500, jetstream.FetchMaxWait(time.Second))
		if err != nil {
			return nil, err
		}
		n := 0
		var pending uint64
		for m := range batch.Messages() {
			n++
			if id := m.Headers().Get(nats.MsgIdHdr); want[id] {
				found[id] = true
			}
			if meta, err := m.Metadata(); err == nil {
				pending = meta.NumPending
			}
		}
		if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) {
			return nil, err
		}
		read += n
		if n == 0 || pending == 0 {
			break
		}
	}
	kept := make([]store.OutMsg, 0, len(msgs))
	for _, m := range msgs {
		if !found[m.MsgID] || !strings.HasPrefix(m.Subject, events.EventPrefix) {
			kept = append(kept, m)
		}
	}
	return kept, nil
}

func ptrTime(t time.Time) *time.Time { return &t }
