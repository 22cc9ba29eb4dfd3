package natsapi

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/internal/publish"
)

func deadLetterOf(seq uint64, subject string, h nats.Header, t time.Time, data []byte) events.DeadLetter {
	d := events.DeadLetter{
		Seq: seq, Subject: subject, Time: t, Data: data,
		OriginalSubject: h.Get(events.HeaderDeadSubject),
		CommandID:       h.Get(events.HeaderDeadCommandID),
		Reason:          h.Get(events.HeaderDeadReason),
		TargetURL:       h.Get(events.HeaderDeadTargetURL),
	}
	d.Deliveries, _ = strconv.ParseUint(h.Get(events.HeaderDeadDeliveries), 10, 64)
	d.OriginalSeq, _ = strconv.ParseUint(h.Get(events.HeaderDeadStreamSequence), 10, 64)
	return d
}

// ListDead returns the last limit dead letters of ROOMS_DEAD (all when
// limit is 0 or less), oldest first.
func ListDead(ctx context.Context, js jetstream.JetStream, limit int) ([]events.DeadLetter, error) {
	stream, err := js.Stream(ctx, events.StreamDead)
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", events.StreamDead, err)
	}
	info, err := stream.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", events.StreamDead, err)
	}
	st := info.State
	if st.Msgs == 0 {
		return nil, nil
	}
	start := st.FirstSeq
	if limit > 0 && st.LastSeq >= uint64(limit) && st.LastSeq-uint64(limit)+1 > start {
		start = st.LastSeq - uint64(limit) + 1
	}
	cons, err := js.OrderedConsumer(ctx, events.StreamDead, jetstream.OrderedConsumerConfig{
		DeliverPolicy: jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:   start,
	})
	if err != nil {
		return nil, err
	}
	var out []events.DeadLetter
	for {
		want := int(min(st.LastSeq-start+1, 1000))
		if limit > 0 {
			want = min(want, limit-len(out))
		}
		batch, err := cons.Fetch(want, jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			return nil, err
		}
		n := 0
		for m := range batch.Messages() {
			n++
			meta, err := m.Metadata()
			if err != nil {
				return nil, err
			}
			out = append(out, deadLetterOf(meta.Sequence.Stream, m.Subject(), m.Headers(), meta.Timestamp, m.Data()))
			start = meta.Sequence.Stream + 1
		}
		if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) {
			return nil, err
		}
		if n == 0 || start > st.LastSeq || (limit > 0 && len(out) >= limit) {
			return out, nil
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
}

// GetDead reads the dead letter at sequence seq of ROOMS_DEAD.
func GetDead(ctx context.Context, js jetstream.JetStream, seq uint64) (*events.DeadLetter, error) {
	stream, err := js.Stream(ctx, events.StreamDead)
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", events.StreamDead, err)
	}
	raw, err := stream.GetMsg(ctx, seq)
	if err != nil {
		return nil, fmt.Errorf("dead letter %d: %w", seq, err)
	}
	d := deadLetterOf(raw.Sequence, raw.Subject, raw.Header, raw.Time, raw.Data)
	return &d, nil
}

// NewReplayID returns a fresh command ID for the replay of dead letter seq.
func NewReplayID(seq uint64) string {
	return "replay-" + strconv.FormatUint(seq, 10) + "-" + strings.ToLower(rand.Text())
}

// ReplayDead publishes the body of dead letter seq again on its original
// subject (a command, or a webhook event) with the command ID newID
// (NewReplayID when empty), and returns the ID. The dead letter stays.
func ReplayDead(ctx context.Context, js jetstream.JetStream, seq uint64, newID string) (string, error) {
	d, err := GetDead(ctx, js, seq)
	if err != nil {
		return "", err
	}
	subj := d.OriginalSubject
	if d.TargetURL != "" {
		// Publishing the domain event again would send it to every
		// consumer of ROOMS_EVENTS, not only to this receiver.
		return "", fmt.Errorf("%w: an outgoing webhook of %s to %s; roomkeeper does not send it again (publishing the event again would reach every consumer of %s); its body is the domain event",
			ErrNotReplayable, subj, d.TargetURL, events.StreamEvents)
	}
	if events.CommandType(subj) == "" && !strings.HasPrefix(subj, events.WebhookPrefix) || strings.ContainsAny(subj, "*> \t\r\n") {
		return "", fmt.Errorf("%w: original subject %q", ErrNotReplayable, subj)
	}
	if newID == "" {
		newID = NewReplayID(seq)
	}
	if !events.ValidCommandID(newID) {
		return "", fmt.Errorf("%w: command ID %q", ErrConfig, newID)
	}
	pub, err := publish.New(publish.Config{}, js)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrConfig, err)
	}
	if _, err := pub.Publish(ctx, publish.Msg{Subject: subj, MsgID: newID, Data: d.Data}); err != nil {
		return "", fmt.Errorf("replay %d on %s: %w", seq, subj, err)
	}
	return newID, nil
}
