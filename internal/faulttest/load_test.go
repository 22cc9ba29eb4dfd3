package faulttest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/internal/procs"
	"github.com/roomkeeper/roomkeeper/natsapi"
	"github.com/roomkeeper/roomkeeper/store"
)

// client is the test's own connection: it publishes the commands and reads
// the streams. It reconnects forever, so it survives a NATS restart.
type client struct {
	nc *nats.Conn
	js jetstream.JetStream
}

func connectClient(t *testing.T, url string) *client {
	t.Helper()
	nc, err := nats.Connect(url, nats.Name("faulttest"), nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond),
		// Write errors while the server is down are the fault under test;
		// the publisher retries what they cost.
		nats.ErrorHandler(func(*nats.Conn, *nats.Subscription, error) {}))
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(512), jetstream.WithPublishAsyncTimeout(5*time.Second))
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, natsapi.Bootstrap(ctx, js, natsapi.DefaultTopology()))
	return &client{nc: nc, js: js}
}

// commandIDs returns n command IDs prefix-00000 ...
func commandIDs(prefix string, n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("%s-%05d", prefix, i)
	}
	return ids
}

// publishCreates publishes one rooms.cmd.create per ID until JetStream has
// acknowledged each, as a producer must: a publish that failed or got no
// ack is sent again with the same Nats-Msg-Id (the duplicates window drops
// it if the first one was stored after all). rate, when positive, caps the
// commands published per second. It returns how many publishes were
// retried.
func (c *client) publishCreates(ctx context.Context, ids []string, rate int) (retried int, err error) {
	const window = 256
	type pending struct {
		id string
		f  jetstream.PubAckFuture
	}
	queue := ids
	for len(queue) > 0 {
		var failed []string
		inflight := make([]pending, 0, window)
		flush := func() error {
			for _, p := range inflight {
				select {
				case <-p.f.Ok():
				case <-p.f.Err():
					failed = append(failed, p.id)
				case <-ctx.Done():
					return ctx.Err()
				}
			}
			inflight = inflight[:0]
			return nil
		}
		start := time.Now()
		for i, id := range queue {
			msg := nats.NewMsg(events.SubjectCreate)
			msg.Data = fmt.Appendf(nil, `{"roomName":"fault %s"}`, id)
			f, err := c.js.PublishMsgAsync(msg, jetstream.WithMsgID(id))
			if err != nil {
				failed = append(failed, id)
			} else {
				inflight = append(inflight, pending{id, f})
			}
			if len(inflight) == window || i == len(queue)-1 {
				if err := flush(); err != nil {
					return retried, err
				}
			}
			if rate > 0 {
				if ahead := time.Duration(i+1)*time.Second/time.Duration(rate) - time.Since(start); ahead > 0 {
					select {
					case <-time.After(ahead):
					case <-ctx.Done():
						return retried, ctx.Err()
					}
				}
			}
		}
		retried += len(failed)
		queue = failed
		if len(failed) > 0 {
			select {
			case <-time.After(200 * time.Millisecond):
			case <-ctx.Done():
				return retried, ctx.Err()
			}
		}
	}
	return retried, nil
}

// streamState returns the state of a stream, or the error of the request
// (NATS may be down).
func (c *client) streamState(ctx context.Context, name string) (jetstream.StreamState, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	s, err := c.js.Stream(ctx, name)
	if err != nil {
		return jetstream.StreamState{}, err
	}
	info, err := s.Info(ctx)
	if err != nil {
		return jetstream.StreamState{}, err
	}
	return info.State, nil
}

// results is the number of results stored (one message per subject).
func (c *client) results(ctx context.Context) (uint64, error) {
	st, err := c.streamState(ctx, events.StreamResults)
	return st.Msgs, err
}

// waitResults waits until at least n results are stored.
func (c *client) waitResults(t *testing.T, n uint64, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	var got uint64
	for time.Now().Before(deadline) {
		var err error
		if got, err = c.results(context.Background()); err == nil && got >= n {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%d results after %s, want %d", got, d, n)
}

// traceProgress logs the number of results every second while the test
// runs, when FAULTTEST_TRACE is set.
func (c *client) traceProgress(t *testing.T) {
	if os.Getenv("FAULTTEST_TRACE") == "" {
		return
	}
	done := make(chan struct{})
	t.Cleanup(func() { close(done) })
	start := time.Now()
	go func() {
		for {
			select {
			case <-done:
				return
			case <-time.After(time.Second):
			}
			n, err := c.results(context.Background())
			cmds, _ := c.streamState(context.Background(), events.StreamCommands)
			fmt.Fprintf(os.Stderr, "%s: %5.1fs results %d queue %d err %v\n", t.Name(), time.Since(start).Seconds(), n, cmds.Msgs, err)
		}
	}()
}

// waitSettled waits until every one of n commands has a result and the
// work queue is empty with nothing pending on the workers consumer.
func (c *client) waitSettled(t *testing.T, n uint64, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	var last string
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		res, err1 := c.results(ctx)
		cmds, err2 := c.streamState(ctx, events.StreamCommands)
		var ci *jetstream.ConsumerInfo
		cons, err3 := c.js.Consumer(ctx, events.StreamCommands, events.ConsumerWorkers)
		if err3 == nil {
			ci, err3 = cons.Info(ctx)
		}
		cancel()
		if err := errors.Join(err1, err2, err3); err != nil {
			last = err.Error()
		} else {
			last = fmt.Sprintf("results %d/%d, work queue %d, ack pending %d, pending %d", res, n, cmds.Msgs, ci.NumAckPending, ci.NumPending)
			if res >= n && cmds.Msgs == 0 && ci.NumAckPending == 0 && ci.NumPending == 0 {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("not settled after %s: %s", d, last)
}

// readStream reads every message of stream matching filter.
func (c *client) readStream(t *testing.T, stream, filter string) []jetstream.Msg {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	msgs, err := procs.ReadStream(ctx, c.js, stream, filter)
	require.NoError(t, err)
	return msgs
}

// figures is what a fault test reports.
type figures struct {
	commands       int
	results        int // distinct command IDs with a result
	okResults      int
	lostResults    int // commands without a result
	doubledResults int // results stored more than once (stream sequence gaps of the per-subject limit)
	events         int // rooms.events.> messages
	doubledEvents  int // event IDs seen more than once
	lostEvents     int // created rooms without a created event
	rooms          int64
	doubledRooms   int // rooms beyond one per command
	lostRooms      int // results whose room is not in the store
	dead           uint64
}

func (f figures) lost() int    { return f.lostResults + f.lostEvents + f.lostRooms }
func (f figures) doubled() int { return f.doubledResults + f.doubledEvents + f.doubledRooms }

func (f figures) String() string {
	return fmt.Sprintf("commands %d, results %d (ok %d), lost %d (results %d, events %d, rooms %d), doubled %d (results %d, events %d, rooms %d), events %d, rooms %d, dead letters %d",
		f.commands, f.results, f.okResults, f.lost(), f.lostResults, f.lostEvents, f.lostRooms,
		f.doubled(), f.doubledResults, f.doubledEvents, f.doubledRooms, f.events, f.rooms, f.dead)
}

// verify reads the results, the events and the store and counts what was
// lost or doubled for the commands ids.
func (c *client) verify(t *testing.T, ids []string, st store.Store) figures {
	t.Helper()
	f := figures{commands: len(ids)}
	want := make(map[string]bool, len(ids))
	for _, id := range ids {
		want[id] = true
	}

	// Results: one per command, each ok, each naming its own room.
	resState, err := c.streamState(context.Background(), events.StreamResults)
	require.NoError(t, err)
	f.doubledResults = int(resState.LastSeq - resState.Msgs)
	roomOf := map[string]string{} // roomId -> command ID
	seen := map[string]bool{}
	for _, m := range c.readStream(t, events.StreamResults, events.ResultPrefix+">") {
		var r events.Result
		require.NoError(t, json.Unmarshal(m.Data(), &r), "result on %s", m.Subject())
		require.Equal(t, events.ResultSubject(r.CommandID), m.Subject())
		require.True(t, want[r.CommandID], "result of an unknown command %q", r.CommandID)
		if seen[r.CommandID] {
			f.doubledResults++
			continue
		}
		seen[r.CommandID] = true
		f.results++
		if !r.OK {
			t.Errorf("result of %s not ok: %v", r.CommandID, r.Error)
			continue
		}
		f.okResults++
		var room events.Room
		require.NoError(t, json.Unmarshal(r.Data, &room))
		if other, dup := roomOf[room.RoomID]; dup {
			t.Errorf("room %s in the results of %s and %s", room.RoomID, other, r.CommandID)
		}
		roomOf[room.RoomID] = r.CommandID
	}
	f.lostResults = len(ids) - f.results

	// Events: one created event per room, no event ID twice.
	msgIDs, ceIDs := map[string]int{}, map[string]int{}
	evRooms := map[string]bool{}
	for _, m := range c.readStream(t, events.StreamEvents, events.EventPrefix+">") {
		f.events++
		var ev events.Event
		require.NoError(t, json.Unmarshal(m.Data(), &ev), "event on %s", m.Subject())
		msgIDs[m.Headers().Get(nats.MsgIdHdr)]++
		ceIDs[ev.ID]++
		if m.Subject() != events.EventSubject(events.EventCreated) {
			t.Errorf("unexpected event %s (%s)", m.Subject(), ev.ID)
			continue
		}
		evRooms[ev.Subject] = true
	}
	for _, counts := range []map[string]int{msgIDs, ceIDs} {
		d := 0
		for id, n := range counts {
			if n > 1 {
				d += n - 1
				t.Errorf("event ID %q %d times", id, n)
			}
		}
		f.doubledEvents = max(f.doubledEvents, d)
	}
	for room := range roomOf {
		if !evRooms[room] {
			f.lostEvents++
		}
	}

	// Rooms: exactly the rooms of the results.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	f.rooms, err = st.CountRooms(ctx)
	require.NoError(t, err)
	inStore := map[string]bool{}
	for after := ""; ; {
		page, err := st.ListRooms(ctx, after, 1000)
		require.NoError(t, err)
		if len(page) == 0 {
			break
		}
		for _, r := range page {
			inStore[r.RoomID] = true
			if _, ok := roomOf[r.RoomID]; !ok {
				f.doubledRooms++ // a room no result names: a second effect
			}
		}
		after = page[len(page)-1].RoomID
	}
	for room := range roomOf {
		if !inStore[room] {
			f.lostRooms++
		}
	}

	deadState, err := c.streamState(context.Background(), events.StreamDead)
	require.NoError(t, err)
	f.dead = deadState.Msgs
	return f
}

// check fails the test unless f shows exactly one result and one effect
// per command.
func (f figures) check(t *testing.T) {
	t.Helper()
	require.Equal(t, f.commands, f.results, "a result per command")
	require.Equal(t, f.commands, f.okResults, "every result ok")
	require.Zero(t, f.lost(), "nothing lost: %s", f)
	require.Zero(t, f.doubled(), "nothing doubled: %s", f)
	require.Equal(t, f.commands, f.events, "one created event per command")
	require.EqualValues(t, f.commands, f.rooms, "one room per command")
	require.Zero(t, f.dead, "no dead letter")
}
