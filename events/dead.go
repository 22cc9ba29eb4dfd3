package events

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
)

// DeadLetter is a message on ROOMS_DEAD: the body of a command or webhook
// event that could not be applied, with why.
type DeadLetter struct {
	// Seq is the dead letter's sequence in ROOMS_DEAD (what replay takes).
	Seq uint64 `json:"seq"`
	// Subject is rooms.dead.<type>.
	Subject string `json:"subject"`
	// OriginalSubject is where the message was first published.
	OriginalSubject string `json:"originalSubject"`
	// CommandID is the command ID (webhook events: lk:<Nats-Msg-Id>, see
	// WebhookMsgID).
	CommandID string `json:"commandId"`
	// Deliveries is how often the message was delivered before it died.
	Deliveries uint64 `json:"deliveries"`
	// Reason says why it died.
	Reason string `json:"reason"`
	// OriginalSeq is the message's sequence in its own stream.
	OriginalSeq uint64    `json:"originalSeq,omitempty"`
	Time        time.Time `json:"time"`
	Data        []byte    `json:"-"`
}

func deadLetterOf(seq uint64, subject string, h nats.Header, t time.Time, data []byte) DeadLetter {
	d := DeadLetter{
		Seq: seq, Subject: subject, Time: t, Data: data,
		OriginalSubject: h.Get(HeaderDeadSubject),
		CommandID:       h.Get(HeaderDeadCommandID),
		Reason:          h.Get(HeaderDeadReason),
	}
	d.Deliveries, _ = strconv.ParseUint(h.Get(HeaderDeadDeliveries), 10, 64)
	d.OriginalSeq, _ = strconv.ParseUint(h.Get(HeaderDeadStreamSequence), 10, 64)
	return d
}

// ListDead returns the last limit dead letters of ROOMS_DEAD (all when
// limit is 0 or less), oldest first.
func ListDead(ctx context.Context, js jetstream.JetStream, limit int) ([]DeadLetter, error) {
	stream, err := js.Stream(ctx, StreamDead)
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", StreamDead, err)
	}
	info, err := stream.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", StreamDead, err)
	}
	st := info.State
	if st.Msgs == 0 {
		return nil, nil
	}
	start := st.FirstSeq
	if limit > 0 && st.LastSeq >= uint64(limit) && st.LastSeq-uint64(limit)+1 > start {
		start = st.LastSeq - uint64(limit) + 1
	}
	cons, err := js.OrderedConsumer(ctx, StreamDead, jetstream.OrderedConsumerConfig{
		DeliverPolicy: jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:   start,
	})
	if err != nil {
		return nil, err
	}
	var out []DeadLetter
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
func GetDead(ctx context.Context, js jetstream.JetStream, seq uint64) (*DeadLetter, error) {
	stream, err := js.Stream(ctx, StreamDead)
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", StreamDead, err)
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
//
// It publishes its one message with a synchronous PublishMsg, which awaits
// the acknowledgement within ctx, rather than through the module's
// publisher (internal/publish): events is the package other services
// import and imports nothing of this module, and a single message needs
// no batch.
func ReplayDead(ctx context.Context, js jetstream.JetStream, seq uint64, newID string) (string, error) {
	d, err := GetDead(ctx, js, seq)
	if err != nil {
		return "", err
	}
	subj := d.OriginalSubject
	if CommandType(subj) == "" && !strings.HasPrefix(subj, WebhookPrefix) || strings.ContainsAny(subj, "*> \t\r\n") {
		return "", fmt.Errorf("%w: original subject %q", ErrNotReplayable, subj)
	}
	if newID == "" {
		newID = NewReplayID(seq)
	}
	if !ValidCommandID(newID) {
		return "", fmt.Errorf("%w: command ID %q", ErrConfig, newID)
	}
	msg := nats.NewMsg(subj)
	msg.Data = d.Data
	if _, err := js.PublishMsg(ctx, msg, jetstream.WithMsgID(newID)); err != nil {
		return "", fmt.Errorf("replay %d on %s: %w", seq, subj, err)
	}
	return newID, nil
}
