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
	return replayDead(ctx, js, seq, newID, nil)
}

// ReplayDeadBody is ReplayDead with body (an edited copy of the dead
// letter's, say) published instead of the dead letter's own body.
func ReplayDeadBody(ctx context.Context, js jetstream.JetStream, seq uint64, newID string, body []byte) (string, error) {
	if body == nil {
		body = []byte{}
	}
	return replayDead(ctx, js, seq, newID, body)
}

// replayDead publishes body (the dead letter's when nil).
func replayDead(ctx context.Context, js jetstream.JetStream, seq uint64, newID string, body []byte) (string, error) {
	d, err := GetDead(ctx, js, seq)
	if err != nil {
		return "", err
	}
	if body != nil {
		d.Data = body
	}
	subj := d.OriginalSubject
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

// DeleteDead deletes the dead letters at sequences seqs from ROOMS_DEAD
// and returns how many it deleted and the sequences that hold no dead
// letter (already deleted, or never one), which are no error.
func DeleteDead(ctx context.Context, js jetstream.JetStream, seqs ...uint64) (deleted int, missing []uint64, err error) {
	stream, err := js.Stream(ctx, events.StreamDead)
	if err != nil {
		return 0, nil, fmt.Errorf("stream %s: %w", events.StreamDead, err)
	}
	for _, seq := range seqs {
		err := stream.DeleteMsg(ctx, seq)
		if err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
			// The server answers a sequence past the last one with "stream
			// store EOF" (10057), one deleted with "no message found":
			// tell them from a failure by reading it.
			if _, gerr := stream.GetMsg(ctx, seq); errors.Is(gerr, jetstream.ErrMsgNotFound) {
				err = jetstream.ErrMsgNotFound
			}
		}
		switch {
		case err == nil:
			deleted++
		case errors.Is(err, jetstream.ErrMsgNotFound):
			missing = append(missing, seq)
		default:
			return deleted, missing, fmt.Errorf("delete dead letter %d: %w", seq, err)
		}
	}
	return deleted, missing, nil
}

// PurgeDead deletes every dead letter of ROOMS_DEAD stored when it is
// called (one that arrives meanwhile stays) and returns how many it
// deleted.
func PurgeDead(ctx context.Context, js jetstream.JetStream) (uint64, error) {
	stream, err := js.Stream(ctx, events.StreamDead)
	if err != nil {
		return 0, fmt.Errorf("stream %s: %w", events.StreamDead, err)
	}
	info, err := stream.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("stream %s: %w", events.StreamDead, err)
	}
	if info.State.Msgs == 0 {
		return 0, nil
	}
	// Up to, not including, the sequence after the last one seen.
	if err := stream.Purge(ctx, jetstream.WithPurgeSequence(info.State.LastSeq+1)); err != nil {
		return 0, fmt.Errorf("purge %s: %w", events.StreamDead, err)
	}
	return info.State.Msgs, nil
}
