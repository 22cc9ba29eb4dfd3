package publish_test

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/roomkeeper/roomkeeper/internal/publish"
	"github.com/roomkeeper/roomkeeper/internal/testenv"
	"github.com/roomkeeper/roomkeeper/internal/tracing"
)

// testBundle is a NATS server with JetStream and stream T on t.>.
type testBundle struct {
	nats   *testenv.NATS
	nc     *nats.Conn
	js     jetstream.JetStream
	stream jetstream.Stream
}

func setup(t *testing.T, cfg jetstream.StreamConfig) *testBundle {
	t.Helper()
	n := testenv.StartNATS(t)
	nc, js := n.Connect(t)
	if cfg.Name == "" {
		cfg.Name = "T"
	}
	if cfg.Subjects == nil {
		cfg.Subjects = []string{"t.>"}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := js.CreateStream(ctx, cfg)
	require.NoError(t, err)
	return &testBundle{nats: n, nc: nc, js: js, stream: s}
}

func newPublisher(t *testing.T, cfg publish.Config, js jetstream.JetStream) *publish.Publisher {
	t.Helper()
	p, err := publish.New(cfg, js)
	require.NoError(t, err)
	return p
}

func batch(n int, prefix string) []publish.Msg {
	msgs := make([]publish.Msg, n)
	for i := range msgs {
		msgs[i] = publish.Msg{
			Subject: "t." + strconv.Itoa(i%3),
			MsgID:   prefix + strconv.Itoa(i),
			Headers: map[string]string{"X-Index": strconv.Itoa(i)},
			Data:    []byte(fmt.Sprintf(`{"i":%d}`, i)),
		}
	}
	return msgs
}

func TestConfig(t *testing.T) {
	n := testenv.StartNATS(t)
	_, js := n.Connect(t)
	require.Equal(t, publish.DefaultTimeout, publish.Config{}.WithDefaults().Timeout)
	_, err := publish.New(publish.Config{Timeout: -time.Second}, js)
	require.ErrorIs(t, err, publish.ErrConfig)
	_, err = publish.New(publish.Config{}, nil)
	require.ErrorIs(t, err, publish.ErrConfig)
	p, err := publish.New(publish.Config{}, js)
	require.NoError(t, err)
	acks, err := p.Publish(context.Background())
	require.NoError(t, err, "an empty batch publishes nothing")
	require.Empty(t, acks)
}

func TestPublishBatchStored(t *testing.T) {
	b := setup(t, jetstream.StreamConfig{})
	p := newPublisher(t, publish.Config{Timeout: 5 * time.Second, ExpectStream: "T"}, b.js)
	ctx := context.Background()
	msgs := batch(100, "id-")
	acks, err := p.Publish(ctx, msgs...)
	require.NoError(t, err)
	require.Len(t, acks, len(msgs))
	for i, a := range acks {
		require.Equal(t, "T", a.Stream)
		require.False(t, a.Duplicate)
		// In order: the ack of message i is sequence i+1 (one connection
		// sends them in order).
		require.Equal(t, uint64(i+1), a.Sequence)
	}
	for i, m := range msgs {
		raw, err := b.stream.GetMsg(ctx, uint64(i+1))
		require.NoError(t, err)
		require.Equal(t, m.Subject, raw.Subject)
		require.Equal(t, m.Data, raw.Data)
		require.Equal(t, m.MsgID, raw.Header.Get(jetstream.MsgIDHeader))
		require.Equal(t, strconv.Itoa(i), raw.Header.Get("X-Index"))
	}
}

func TestPublishDuplicates(t *testing.T) {
	b := setup(t, jetstream.StreamConfig{Duplicates: time.Minute})
	p := newPublisher(t, publish.Config{Timeout: 5 * time.Second}, b.js)
	ctx := context.Background()
	first := batch(5, "dup-")
	_, err := p.Publish(ctx, first...)
	require.NoError(t, err)

	again := append(batch(5, "dup-"), publish.Msg{Subject: "t.new", MsgID: "new-1", Data: []byte("x")})
	acks, err := p.Publish(ctx, again...)
	require.NoError(t, err)
	for i, a := range acks[:5] {
		require.True(t, a.Duplicate, "message %d was stored before", i)
		require.Equal(t, uint64(i+1), a.Sequence, "a duplicate's ack names the stored copy")
	}
	require.False(t, acks[5].Duplicate)
	require.Equal(t, uint64(6), acks[5].Sequence)

	// Without a message ID there is no deduplication.
	plain := publish.Msg{Subject: "t.plain", Data: []byte("p")}
	acks, err = p.Publish(ctx, plain, plain)
	require.NoError(t, err)
	require.False(t, acks[0].Duplicate)
	require.False(t, acks[1].Duplicate)
	info, err := b.stream.Info(ctx)
	require.NoError(t, err)
	require.Equal(t, uint64(8), info.State.Msgs)
}

func TestPublishTooLarge(t *testing.T) {
	b := setup(t, jetstream.StreamConfig{})
	p := newPublisher(t, publish.Config{Timeout: 5 * time.Second}, b.js)
	msgs := batch(3, "big-")
	msgs[1].Data = bytes.Repeat([]byte("x"), int(b.nc.MaxPayload())+1)
	_, err := p.Publish(context.Background(), msgs...)
	require.ErrorIs(t, err, publish.ErrTooLarge)
	require.ErrorIs(t, err, publish.ErrNotSent)
	require.ErrorIs(t, err, nats.ErrMaxPayload)
	var me *publish.MsgError
	require.ErrorAs(t, err, &me)
	require.Equal(t, 1, me.Index)
	require.Equal(t, msgs[1].Subject, me.Subject)
	require.Equal(t, "big-1", me.MsgID)
	require.False(t, me.Settled)
	require.Contains(t, err.Error(), `"big-1"`)
	require.Contains(t, err.Error(), msgs[1].Subject)
}

func TestPublishOverStreamMaxMsgSize(t *testing.T) {
	b := setup(t, jetstream.StreamConfig{MaxMsgSize: 1024})
	p := newPublisher(t, publish.Config{Timeout: 5 * time.Second}, b.js)
	msgs := batch(2, "size-")
	msgs[1].Data = bytes.Repeat([]byte("x"), 2048)
	_, err := p.Publish(context.Background(), msgs...)
	require.ErrorIs(t, err, publish.ErrTooLarge)
	require.ErrorIs(t, err, publish.ErrRefused)
	var me *publish.MsgError
	require.ErrorAs(t, err, &me)
	require.Equal(t, "size-1", me.MsgID)
}

func TestPublishRefused(t *testing.T) {
	b := setup(t, jetstream.StreamConfig{})
	ctx := context.Background()
	_, err := b.js.CreateStream(ctx, jetstream.StreamConfig{Name: "OTHER", Subjects: []string{"other.>"}})
	require.NoError(t, err)
	p := newPublisher(t, publish.Config{Timeout: 5 * time.Second, ExpectStream: "T"}, b.js)
	_, err = p.Publish(ctx, publish.Msg{Subject: "t.1", MsgID: "a"}, publish.Msg{Subject: "other.1", MsgID: "b"})
	require.ErrorIs(t, err, publish.ErrRefused)
	require.NotErrorIs(t, err, publish.ErrTooLarge)
	var me *publish.MsgError
	require.ErrorAs(t, err, &me)
	require.Equal(t, "other.1", me.Subject)
	require.Equal(t, "b", me.MsgID)
	require.True(t, me.Settled, "JetStream answered: the client holds the message no longer")
}

// A subject no stream takes: the client retries on no responders, then
// gives up (refused); a timeout shorter than that bounds the wait.
func TestPublishNoStream(t *testing.T) {
	b := setup(t, jetstream.StreamConfig{})
	msgs := []publish.Msg{{Subject: "t.1", MsgID: "ok"}, {Subject: "nostream.1", MsgID: "lost"}}
	for _, tc := range []struct {
		timeout time.Duration
		kind    error
	}{
		{timeout: 150 * time.Millisecond, kind: publish.ErrNoAck},
		{timeout: 10 * time.Second, kind: publish.ErrRefused},
	} {
		t.Run(tc.timeout.String(), func(t *testing.T) {
			p := newPublisher(t, publish.Config{Timeout: tc.timeout}, b.js)
			start := time.Now()
			_, err := p.Publish(context.Background(), msgs...)
			require.Less(t, time.Since(start), 5*time.Second)
			require.ErrorIs(t, err, tc.kind)
			var me *publish.MsgError
			require.ErrorAs(t, err, &me)
			require.Equal(t, "nostream.1", me.Subject)
			require.Equal(t, "lost", me.MsgID)
			require.Equal(t, 1, me.Index)
		})
	}
}

// A subject someone listens on without answering: no acknowledgement ever
// comes, and the timeout or the context ends the wait.
func TestPublishNoAnswer(t *testing.T) {
	b := setup(t, jetstream.StreamConfig{})
	sub, err := b.nc.Subscribe("silent.>", func(*nats.Msg) {})
	require.NoError(t, err)
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	require.NoError(t, b.nc.Flush())
	msgs := []publish.Msg{{Subject: "t.1", MsgID: "ok"}, {Subject: "silent.1", MsgID: "unanswered"}}

	t.Run("timeout", func(t *testing.T) {
		p := newPublisher(t, publish.Config{Timeout: 300 * time.Millisecond}, b.js)
		start := time.Now()
		_, err := p.Publish(context.Background(), msgs...)
		require.Less(t, time.Since(start), 3*time.Second)
		require.GreaterOrEqual(t, time.Since(start), 300*time.Millisecond)
		require.ErrorIs(t, err, publish.ErrNoAck)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		var me *publish.MsgError
		require.ErrorAs(t, err, &me)
		require.Equal(t, "unanswered", me.MsgID)
		require.False(t, me.Settled, "the client may still hold the message")
	})

	t.Run("context canceled while waiting", func(t *testing.T) {
		p := newPublisher(t, publish.Config{Timeout: time.Minute}, b.js)
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(100*time.Millisecond, cancel)
		start := time.Now()
		_, err := p.Publish(ctx, msgs...)
		require.Less(t, time.Since(start), 5*time.Second, "the context, not the minute's timeout, ends the wait")
		require.ErrorIs(t, err, publish.ErrNoAck)
		require.ErrorIs(t, err, context.Canceled)
	})

	t.Run("context canceled before", func(t *testing.T) {
		p := newPublisher(t, publish.Config{Timeout: time.Minute}, b.js)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		before, err := b.stream.Info(context.Background())
		require.NoError(t, err)
		_, err = p.Publish(ctx, publish.Msg{Subject: "t.2", MsgID: "never"})
		require.ErrorIs(t, err, publish.ErrNoAck)
		require.ErrorIs(t, err, context.Canceled)
		after, err := b.stream.Info(context.Background())
		require.NoError(t, err)
		require.Equal(t, before.State.Msgs, after.State.Msgs, "nothing is sent once the context ended")
	})
}

// A server that is gone: the client fails the pending acknowledgements or
// the timeout ends the wait; either way Publish returns.
func TestPublishServerGoneBounded(t *testing.T) {
	b := setup(t, jetstream.StreamConfig{})
	p := newPublisher(t, publish.Config{Timeout: 300 * time.Millisecond}, b.js)
	b.nats.Server.Shutdown()
	b.nats.Server.WaitForShutdown()
	start := time.Now()
	_, err := p.Publish(context.Background(), batch(3, "gone-")...)
	require.Less(t, time.Since(start), 2*time.Second)
	require.ErrorIs(t, err, publish.ErrNoAck)
	var me *publish.MsgError
	require.ErrorAs(t, err, &me)
	require.Equal(t, "gone-0", me.MsgID)
}

// With tracing on, every message carries its batch's trace context, but
// never at the cost of fitting: a message that fits exactly goes without
// it. (Not parallel: it installs a process-wide tracer provider.)
func TestPublishTraceContext(t *testing.T) {
	b := setup(t, jetstream.StreamConfig{})
	p := newPublisher(t, publish.Config{Timeout: 5 * time.Second, SpanName: "test publish"}, b.js)
	// Exactly the server's max payload: the body and the header block
	// with the message ID ("NATS/1.0\r\n", "Nats-Msg-Id: exact\r\n", "\r\n").
	exact := publish.Msg{Subject: "t.exact", MsgID: "exact"}
	exact.Data = bytes.Repeat([]byte("x"), int(b.nc.MaxPayload())-len("NATS/1.0\r\nNats-Msg-Id: exact\r\n\r\n"))
	over := exact
	over.MsgID, over.Data = "exact2", append(bytes.Clone(exact.Data), 'x')
	_, err := p.Publish(context.Background(), over)
	require.ErrorIs(t, err, publish.ErrTooLarge, "the size above is the exact limit")

	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	tracing.Install(tp)
	defer func() {
		tracing.Uninstall()
		_ = tp.Shutdown(context.Background())
	}()
	small := publish.Msg{Subject: "t.small", MsgID: "small", Data: []byte(`{}`)}
	_, err = p.Publish(context.Background(), small, exact)
	require.NoError(t, err)

	spans := rec.Ended()
	require.Len(t, spans, 1)
	require.Equal(t, "test publish", spans[0].Name())
	got, err := b.stream.GetLastMsgForSubject(t.Context(), "t.small")
	require.NoError(t, err)
	sc := tracing.FromTraceParent(got.Header.Get(tracing.HeaderTraceParent))
	require.Equal(t, spans[0].SpanContext().SpanID(), sc.SpanID(), "the message carries the batch's span")
	got, err = b.stream.GetLastMsgForSubject(t.Context(), "t.exact")
	require.NoError(t, err)
	require.Empty(t, got.Header.Get(tracing.HeaderTraceParent))
	require.Len(t, got.Data, len(exact.Data))
}
