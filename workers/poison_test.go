package workers_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/internal/workertest"
	"github.com/roomkeeper/roomkeeper/natsapi"
)

// poison is a message no worker can apply.
type poison struct {
	id      string // Nats-Msg-Id as published
	subject string
	body    []byte
	badID   bool // the ID is malformed: the command is named seq-<stream seq>-<time>
}

// poisonMessages returns n messages of five kinds, in turn: bad JSON, wrong
// types, huge bodies (every tenth about 1 MiB, the others 16 to 256 KiB),
// unknown subjects under rooms.cmd., malformed Nats-Msg-Id.
func poisonMessages(n int, rnd *rand.Rand) []poison {
	badJSON := []string{
		`{"roomName": "x"`, `{`, `}`, `{"roomName" "x"}`, `{'roomName': 'x'}`, `nul`, `{"a":1,}`,
		"\xff\xfe\x00", `{"roomName": "\u12"}`, `[1, 2`, `{"roomIds": [}`, ``,
	}
	wrongTypes := []struct{ subject, body string }{
		{events.SubjectCreate, `{"roomName": 42}`},
		{events.SubjectCreate, `{"roomName": ["a"]}`},
		{events.SubjectCreate, `{"autoDeletionDate": "tomorrow"}`},
		{events.SubjectCreate, `{"autoDeletionDate": 1.5}`},
		{events.SubjectCreate, `{"preferences": "all"}`},
		{events.SubjectCreate, `{"preferences": {"chatPreferences": {"enabled": "yes"}}}`},
		{events.SubjectCreate, `[]`},
		{events.SubjectCreate, `"room"`},
		{events.SubjectCreate, `null`},
		{events.SubjectCreate, `7`},
		{events.SubjectDelete, `{"roomIds": "a"}`},
		{events.SubjectDelete, `{"roomIds": [1, 2]}`},
		{events.SubjectDelete, `{"roomIds": ["a"], "force": "yes"}`},
		{events.SubjectUpdatePreferences, `{"roomId": 5, "preferences": {}}`},
		{events.SubjectUpdatePreferences, `{"roomId": "r", "preferences": []}`},
		{events.SubjectSweep, `[]`},
	}
	unknown := []string{"rooms.cmd.explode", "rooms.cmd.Create", "rooms.cmd.create.now", "rooms.cmd.delete.x.y", "rooms.cmd.sweep_all", "rooms.cmd._"}
	out := make([]poison, 0, n)
	for i := range n {
		id := fmt.Sprintf("poison-%d", i)
		switch i % 5 {
		case 0:
			subject := []string{events.SubjectCreate, events.SubjectDelete, events.SubjectUpdatePreferences, events.SubjectSweep}[i/5%4]
			out = append(out, poison{id: id, subject: subject, body: []byte(badJSON[i/5%len(badJSON)])})
		case 1:
			c := wrongTypes[i/5%len(wrongTypes)]
			out = append(out, poison{id: id, subject: c.subject, body: []byte(c.body)})
		case 2:
			size := 16<<10 + rnd.IntN(240<<10)
			if i/5%10 == 0 {
				size = 1<<20 - 4<<10
			}
			var body string
			switch i / 5 % 3 {
			case 0: // a name far over 50 characters
				body = `{"roomName": "` + strings.Repeat("a", size) + `"}`
			case 1: // a huge list of room IDs that are all sanitised away
				body = `{"roomIds": [` + strings.TrimSuffix(strings.Repeat(`"$$", `, size/6), ", ") + `]}`
			default: // huge and cut short
				body = `{"roomName": "` + strings.Repeat("b", size)
			}
			subject := events.SubjectCreate
			if i/5%3 == 1 {
				subject = events.SubjectDelete
			}
			out = append(out, poison{id: id, subject: subject, body: []byte(body)})
		case 3:
			out = append(out, poison{id: id, subject: unknown[i/5%len(unknown)], body: []byte(`{}`)})
		case 4:
			bad := []string{
				fmt.Sprintf("bad id %d!", i),
				fmt.Sprintf("%s%d", strings.Repeat("x", 128), i),
				fmt.Sprintf("id.%d", i),
				fmt.Sprintf("id/%d", i),
				fmt.Sprintf("ümlaut-%d", i),
				fmt.Sprintf("tab\t%d", i),
			}[i/5%6]
			out = append(out, poison{id: bad, subject: events.SubjectCreate, body: []byte(`{"roomName": "fine"}`), badID: true})
		}
	}
	return out
}

// 1,000 poison messages mixed into 10,000 good creates, two workers: each
// poison message gets one invalid_argument result and one dead letter,
// every good command completes, no worker stops, nothing is redelivered.
func TestPoisonMessagesAmongGoodOnes(t *testing.T) {
	t.Parallel()
	const good, bad = 10000, 1000
	// The production AckWait: under -race on a loaded machine a message
	// may wait in a worker's pull buffer longer than the harness's 2s.
	b := setup(t, workertest.SetupOpts{Topology: func(top *natsapi.Topology) { top.AckWait = 30 * time.Second }})
	conn := func() *nats.Conn {
		nc, err := nats.Connect(b.NATS.URL)
		require.NoError(t, err)
		t.Cleanup(nc.Close)
		return nc
	}
	workersUp := []*workertest.Running{b.Start(t, workertest.WorkerOpts{Conn: conn(), Conc: 64}), b.Start(t, workertest.WorkerOpts{Conn: conn(), Conc: 64})}

	rnd := rand.New(rand.NewPCG(1, 2))
	poisons := poisonMessages(bad, rnd)
	start := time.Now()

	// Publish asynchronously, a poison message after every tenth good one;
	// keep the futures of the malformed IDs for their stream sequence.
	ctx := ctxT(t, 120*time.Second)
	type pending struct {
		f   jetstream.PubAckFuture
		idx int // index into poisons, or -1
	}
	var futures []pending
	seqOf := map[int]uint64{}
	wait := func() {
		for _, p := range futures {
			select {
			case ack := <-p.f.Ok():
				require.False(t, ack.Duplicate, "%s duplicate", p.f.Msg().Header.Get(nats.MsgIdHdr))
				if p.idx >= 0 {
					seqOf[p.idx] = ack.Sequence
				}
			case err := <-p.f.Err():
				t.Fatalf("publish: %v", err)
			case <-ctx.Done():
				t.Fatal("publish timed out")
			}
		}
		futures = futures[:0]
	}
	publish := func(subject, id string, body []byte, idx int) {
		m := nats.NewMsg(subject)
		m.Data = body
		m.Header.Set(nats.MsgIdHdr, id)
		f, err := b.JS.PublishMsgAsync(m)
		require.NoError(t, err)
		futures = append(futures, pending{f, idx})
		if len(futures) == 500 || len(m.Data) > 1<<18 {
			wait()
		}
	}
	for i := range good {
		body, err := json.Marshal(events.CreateRoom{RoomName: ptr(fmt.Sprintf("good %d", i))})
		require.NoError(t, err)
		publish(events.SubjectCreate, fmt.Sprintf("good-%d", i), body, -1)
		if i%10 == 9 {
			p := poisons[i/10]
			publish(p.subject, p.id, p.body, i/10)
		}
	}
	wait()
	published := time.Since(start)

	if !assert.Eventually(t, workertest.Settled(t, b.JS), 120*time.Second, 100*time.Millisecond) {
		c, err := b.JS.Consumer(ctxT(t, 5*time.Second), events.StreamCommands, events.ConsumerWorkers)
		require.NoError(t, err)
		info, err := c.Info(ctxT(t, 5*time.Second))
		require.NoError(t, err)
		t.Fatalf("not settled after %s: consumer %+v; ok by worker %d, %d", time.Since(start), info, workersUp[0].Metrics.Get("ok"), workersUp[1].Metrics.Get("ok"))
	}
	took := time.Since(start)

	// One result per command.
	results := map[string]events.Result{}
	for _, m := range b.StreamMsgs(t, events.StreamResults, "rooms.results.>") {
		var r events.Result
		require.NoError(t, json.Unmarshal(m.Data(), &r))
		_, dup := results[r.CommandID]
		require.False(t, dup, "two results for %s", r.CommandID)
		results[r.CommandID] = r
	}
	require.Len(t, results, good+bad)
	for i := range good {
		r, ok := results[fmt.Sprintf("good-%d", i)]
		require.True(t, ok, "good-%d has no result", i)
		require.True(t, r.OK, "good-%d: %+v", i, r.Error)
	}
	poisonID := func(i int) string {
		if poisons[i].badID {
			// seq-<stream seq>-<stored time>: found by its sequence.
			prefix := "seq-" + strconv.FormatUint(seqOf[i], 10) + "-"
			for id := range results {
				if strings.HasPrefix(id, prefix) {
					return id
				}
			}
			return prefix + "?"
		}
		return poisons[i].id
	}
	for i := range poisons {
		id := poisonID(i)
		r, ok := results[id]
		require.True(t, ok, "poison %d (%s on %s) has no result", i, id, poisons[i].subject)
		require.False(t, r.OK, id)
		require.Equal(t, events.CodeInvalidArgument, r.Error.Code, "%s: %+v", id, r.Error)
	}

	// One dead letter per poison message, its body unchanged.
	dead := map[string]jetstream.Msg{}
	for _, m := range b.StreamMsgs(t, events.StreamDead, "rooms.dead.>") {
		id := m.Headers().Get(events.HeaderDeadCommandID)
		_, dup := dead[id]
		require.False(t, dup, "two dead letters for %s", id)
		dead[id] = m
	}
	require.Len(t, dead, bad)
	for i, p := range poisons {
		m, ok := dead[poisonID(i)]
		require.True(t, ok, "poison %d has no dead letter", i)
		require.Equal(t, events.DeadSubject(p.subject), m.Subject())
		require.Equal(t, p.subject, m.Headers().Get(events.HeaderDeadSubject))
		require.Equal(t, "1", m.Headers().Get(events.HeaderDeadDeliveries))
		require.NotEmpty(t, m.Headers().Get(events.HeaderDeadReason))
		if json.Valid(p.body) {
			// The ledger keeps a JSON body compacted.
			require.JSONEq(t, string(p.body), string(m.Data()), "poison %d body", i)
		} else {
			require.Equal(t, p.body, m.Data(), "poison %d body", i)
		}
	}

	require.EqualValues(t, good, b.CountRooms(t))
	require.Zero(t, b.streamState(t, events.StreamCommands).Msgs, "the work queue is empty")
	c, err := b.JS.Consumer(ctxT(t, 5*time.Second), events.StreamCommands, events.ConsumerWorkers)
	require.NoError(t, err)
	info, err := c.Info(ctxT(t, 5*time.Second))
	require.NoError(t, err)
	require.Zero(t, info.NumRedelivered, "no redelivery loop")
	var okCount, invalid int
	for i, w := range workersUp {
		select {
		case <-w.Done():
			t.Fatalf("worker %d stopped: %v", i, w.Err())
		default:
		}
		require.Zero(t, w.Metrics.Redeliveries.Load(), "worker %d saw a redelivery", i)
		require.Positive(t, w.Metrics.Get("ok"), "worker %d took part", i)
		okCount += w.Metrics.Get("ok")
		invalid += w.Metrics.Get("invalid")
	}
	require.Equal(t, good, okCount)
	require.Equal(t, bad, invalid)
	t.Logf("%d good + %d poison: published in %s, settled in %s, checked in %s", good, bad, published.Round(time.Millisecond), took.Round(time.Millisecond), time.Since(start.Add(took)).Round(time.Millisecond))
}
