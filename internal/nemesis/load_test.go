package nemesis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/roomkeeper/roomkeeper/events"
)

// op is one step of the load.
type op string

const (
	opCreate        op = "create"
	opCreateExpires op = "create-expiring"
	opDelete        op = "delete"
	opDeleteForce   op = "delete-force"
	opUpdate        op = "update-preferences"
	opDuplicate     op = "duplicate"
	opDuplicateLate op = "duplicate-after-window"
	opNoMsgID       op = "no-msg-id"
	opPoison        op = "poison"
	opOversize      op = "oversize"
	opReservedID    op = "reserved-id"
	opGet           op = "get"
	opList          op = "list"
	opWebhook       op = "webhook"
	opMeeting       op = "meeting-then-delete"
	// Writes through the HTTP API (gateway_test.go), each with an
	// Idempotency-Key retried until a gateway answers.
	opHTTPCreate op = "http-create"
	opHTTPDelete op = "http-delete"
	opHTTPStatus op = "http-status"
)

type opWeight struct {
	op     op
	weight int
}

var opWeights = []opWeight{
	{opCreate, 26}, {opCreateExpires, 10}, {opDelete, 12}, {opDeleteForce, 5}, {opUpdate, 10},
	{opDuplicate, 8}, {opDuplicateLate, 4}, {opNoMsgID, 5}, {opPoison, 5}, {opOversize, 2}, {opReservedID, 2},
	{opGet, 10}, {opList, 5}, {opWebhook, 8}, {opMeeting, 3},
	{opHTTPCreate, 8}, {opHTTPDelete, 4}, {opHTTPStatus, 3},
}

// publishGiveUp bounds the retries of one publish: a producer retries a
// publish that failed or got no ack with the same Nats-Msg-Id.
const publishGiveUp = 45 * time.Second

// load publishes a seeded mix of commands and queries, and keeps what it
// sent for the checker.
type load struct {
	s    *system
	rng  *rand.Rand
	rate int // operations per second
	run  string

	mu        sync.Mutex
	cmds      []Command
	bodies    map[string]*nats.Msg // accepted commands with an ID, for duplicates
	sentIDs   []string
	sentAt    []time.Time          // when JetStream acknowledged sentIDs[i]
	alive     []string             // rooms whose ok create the load saw
	deletedAt map[string]time.Time // rooms whose ok delete the load saw, when
	seen      []Violation
	ops       map[op]int
	queries   map[string]int // query outcomes
	lastExp   time.Time      // latest autoDeletionDate sent
	seq       int

	inMeeting      int       // participants in meetings now
	lastMeetingEnd time.Time // when the last participant left
	lastWebhook    time.Time // when the last webhook was posted

	webhooks      []webhookSent
	webhookBodies []signedWebhook

	answers []HTTPAnswer // the HTTP API's answers to the load's writes
}

func newLoad(s *system, seed uint64, rate int) *load {
	return &load{
		s: s, rng: rand.New(rand.NewPCG(seed, 0x6c6f6164)), rate: rate, // "load"
		run:    fmt.Sprintf("n%x", seed%0xffffff),
		bodies: map[string]*nats.Msg{}, deletedAt: map[string]time.Time{},
		ops: map[op]int{}, queries: map[string]int{},
	}
}

// watchResults follows rooms.results.> (core NATS: it may miss some while
// disconnected) to learn which rooms exist, for deletes, updates and gets.
func (l *load) watchResults() (*nats.Subscription, error) {
	return l.s.nc.Subscribe(events.ResultPrefix+">", func(m *nats.Msg) {
		var r events.Result
		if json.Unmarshal(m.Data, &r) != nil || !r.OK {
			return
		}
		l.mu.Lock()
		defer l.mu.Unlock()
		switch r.Type {
		case events.SubjectCreate:
			var room struct {
				RoomID string `json:"roomId"`
			}
			if json.Unmarshal(r.Data, &room) == nil && room.RoomID != "" {
				l.alive = append(l.alive, room.RoomID)
			}
		case events.SubjectDelete:
			var d events.DeleteResult
			if json.Unmarshal(r.Data, &d) == nil {
				for _, del := range d.Deleted {
					if _, ok := l.deletedAt[del.RoomID]; !ok && deletedNow(del.SuccessCode) {
						l.deletedAt[del.RoomID] = time.Now()
					}
				}
			}
		}
	})
}

// Run draws and performs operations at the load's rate until ctx ends,
// with up to 6 in flight.
func (l *load) Run(ctx context.Context) {
	sub, err := l.watchResults()
	if err == nil {
		defer func() { _ = sub.Unsubscribe() }()
	}
	sem := make(chan struct{}, 6)
	var wg sync.WaitGroup
	tick := time.NewTicker(time.Second / time.Duration(l.rate))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			wg.Wait()
			return
		case <-tick.C:
		}
		o := draw(l.rng, opWeights, func(w opWeight) (op, int) { return w.op, w.weight })
		// Draw everything the operation needs now, on this goroutine, so
		// the seed decides it.
		do := l.prepare(o)
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			wg.Wait()
			return
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			do()
		}()
	}
}

// quietAfter is when the last effect the load set off in the future is
// due: the last expiring room's date, the last room LiveKit closes after
// its participant left, the last webhook posted.
func (l *load) quietAfter() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	t := l.lastExp
	for _, u := range []time.Time{l.lastMeetingEnd.Add(liveKitDepartureTimeout + 2*time.Second), l.lastWebhook} {
		if u.After(t) {
			t = u
		}
	}
	return t
}

// pick returns up to n known rooms (deleted ones included: a delete or
// update of a gone room is a fair command too).
func (l *load) pick(n int) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.alive) == 0 {
		return nil
	}
	out := make([]string, 0, n)
	for range n {
		// Mostly recent rooms, which are likelier to exist.
		i := len(l.alive) - 1 - l.rng.IntN(min(len(l.alive), 50))
		out = append(out, l.alive[i])
	}
	return out
}

func (l *load) nextID(kind string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.seq++
	return fmt.Sprintf("%s-%s-%06d", l.run, kind, l.seq)
}

func prefs(rng *rand.Rand) map[string]any {
	enabled := rng.IntN(2) == 0
	rec := map[string]any{"enabled": enabled}
	if enabled {
		rec["allowAccessTo"] = []string{"admin", "admin-moderator", "admin-moderator-publisher"}[rng.IntN(3)]
	}
	return map[string]any{
		"chatPreferences":              map[string]any{"enabled": rng.IntN(2) == 0},
		"recordingPreferences":         rec,
		"virtualBackgroundPreferences": map[string]any{"enabled": rng.IntN(2) == 0},
	}
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// prepare draws an operation's parameters and returns what performs it.
func (l *load) prepare(o op) func() {
	l.mu.Lock()
	l.ops[o]++
	l.mu.Unlock()
	rng := l.rng
	cmd := func(subject string, body []byte, invalid bool) func() {
		id := l.nextID(strings.TrimPrefix(subject, events.CommandPrefix))
		return func() { l.publish(id, subject, body, invalid) }
	}
	switch o {
	case opCreate:
		body := map[string]any{"roomName": fmt.Sprintf("nemesis %d", rng.IntN(1000))}
		if rng.IntN(4) == 0 {
			body["preferences"] = prefs(rng)
		}
		if rng.IntN(40) == 0 { // large and valid: an unknown property is ignored
			body["pad"] = strings.Repeat("x", 200<<10)
		}
		return cmd(events.SubjectCreate, mustJSON(body), false)
	case opCreateExpires:
		in := 3*time.Second + time.Duration(rng.Int64N(int64(12*time.Second)))
		return func() {
			at := time.Now().Add(in)
			l.mu.Lock()
			if at.After(l.lastExp) {
				l.lastExp = at
			}
			l.mu.Unlock()
			l.publish(l.nextID("expiring"), events.SubjectCreate, mustJSON(map[string]any{"roomName": "expiring", "autoDeletionDate": at.UnixMilli()}), false)
		}
	case opDelete, opDeleteForce:
		rooms := l.pick(1 + rng.IntN(3))
		if len(rooms) == 0 || rng.IntN(10) == 0 {
			rooms = append(rooms, "NoSuchRoom-"+l.run)
		}
		return cmd(events.SubjectDelete, mustJSON(deleteBody(rooms, o == opDeleteForce)), false)
	case opUpdate:
		rooms := l.pick(1)
		if len(rooms) == 0 {
			rooms = []string{"NoSuchRoom-" + l.run}
		}
		return cmd(events.SubjectUpdatePreferences, mustJSON(map[string]any{"roomId": rooms[0], "preferences": prefs(rng)}), false)
	case opDuplicate:
		l.mu.Lock()
		var m *nats.Msg
		if len(l.sentIDs) > 0 {
			m = l.bodies[l.sentIDs[len(l.sentIDs)-1-rng.IntN(min(len(l.sentIDs), 200))]]
		}
		l.mu.Unlock()
		if m == nil {
			return func() {}
		}
		return func() { l.republish(m, "duplicate") }
	case opDuplicateLate:
		// A command first stored longer ago than the duplicates window:
		// JetStream takes it again and the ledger must answer it.
		l.mu.Lock()
		cutoff := time.Now().Add(-duplicatesWindow - 5*time.Second)
		older := sort.Search(len(l.sentAt), func(i int) bool { return l.sentAt[i].After(cutoff) })
		var m *nats.Msg
		if older > 0 {
			m = l.bodies[l.sentIDs[rng.IntN(older)]]
		}
		l.mu.Unlock()
		if m == nil {
			return func() {}
		}
		return func() { l.republish(m, "duplicate after the window") }
	case opNoMsgID:
		body := mustJSON(map[string]any{"roomName": "anonymous"})
		return func() { l.publishNoID(events.SubjectCreate, body) }
	case opPoison:
		bodies := []struct {
			subject string
			body    string
		}{
			{events.SubjectCreate, `{"roomName": `},
			{events.SubjectCreate, `{"roomName": 5}`},
			{events.SubjectCreate, `[]`},
			{events.SubjectDelete, `{"roomIds": "x"}`},
			{events.SubjectDelete, `{"roomIds": []}`},
			{events.SubjectUpdatePreferences, `{"roomId": "x"}`},
			{events.SubjectCreate, "\xff\xfe"},
			{events.CommandPrefix + "explode", `{}`},
		}
		b := bodies[rng.IntN(len(bodies))]
		return cmd(b.subject, []byte(b.body), true)
	case opOversize:
		if rng.IntN(2) == 0 {
			// Over NATS max_payload (1 MB): never accepted.
			return cmd(events.SubjectCreate, []byte(`{"roomName":"`+strings.Repeat("y", 1100<<10)+`"}`), true)
		}
		// Under it but invalid (roomName too long): a dead letter that
		// does not fit whole is cut.
		return cmd(events.SubjectCreate, []byte(`{"roomName":"`+strings.Repeat("z", 1000<<10)+`"}`), true)
	case opReservedID:
		prefix := events.ReservedIDPrefixes[rng.IntN(len(events.ReservedIDPrefixes))]
		id := prefix + l.nextID("reserved")
		return func() { l.publish(id, events.SubjectCreate, []byte(`{}`), true) }
	case opGet:
		rooms := l.pick(1)
		if len(rooms) == 0 {
			return func() {}
		}
		return func() { l.get(rooms[0]) }
	case opList:
		return func() { l.list() }
	case opWebhook:
		return l.prepareWebhook()
	case opMeeting:
		return l.prepareMeeting()
	case opHTTPCreate, opHTTPDelete, opHTTPStatus:
		return l.prepareHTTP(o)
	}
	return func() {}
}

// publish sends a command with id until JetStream acknowledges it or
// publishGiveUp passes, and records it.
func (l *load) publish(id, subject string, body []byte, invalid bool) {
	msg := nats.NewMsg(subject)
	msg.Data = body
	msg.Header.Set(nats.MsgIdHdr, id)
	c := Command{ID: id, Subject: subject, Invalid: invalid}
	if ack, ok := l.send(msg); ok {
		c.Accepted, c.Seq = true, ack.Sequence
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.cmds = append(l.cmds, c)
	if c.Accepted && !invalid {
		l.bodies[id] = msg
		l.sentIDs = append(l.sentIDs, id)
		l.sentAt = append(l.sentAt, time.Now())
	}
}

// republish sends an accepted command again: inside the duplicates window
// JetStream drops it; after it, JetStream stores it again and the worker
// must answer it from the ledger, with the first result and no second
// effect. Which happened is counted under kind.
func (l *load) republish(m *nats.Msg, kind string) {
	dup := nats.NewMsg(m.Subject)
	dup.Data, dup.Header = m.Data, nats.Header{nats.MsgIdHdr: m.Header.Values(nats.MsgIdHdr)}
	ack, ok := l.send(dup)
	outcome := "not acknowledged"
	switch {
	case ok && ack.Duplicate:
		outcome = "dropped"
	case ok:
		// Inside the window, not a violation by itself (the window may
		// have been lost with a node), but worth a line.
		outcome = "stored"
	}
	l.mu.Lock()
	l.queries[kind+" "+outcome]++
	l.mu.Unlock()
}

// send publishes msg, retrying failures and missing acks with the same
// message, until acknowledged or publishGiveUp passes.
func (l *load) send(msg *nats.Msg) (*jetstream.PubAck, bool) {
	deadline := time.Now().Add(publishGiveUp)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		ack, err := l.s.js.PublishMsg(ctx, msg)
		cancel()
		if err == nil {
			return ack, true
		}
		if errors.Is(err, nats.ErrMaxPayload) || time.Now().After(deadline) {
			return nil, false
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// publishNoID sends a command without Nats-Msg-Id, once: a retry would be
// a second command.
func (l *load) publishNoID(subject string, body []byte) {
	msg := nats.NewMsg(subject)
	msg.Data = body
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	ack, err := l.s.js.PublishMsg(ctx, msg)
	cancel()
	c := Command{Subject: subject}
	if err == nil {
		c.Accepted, c.Seq = true, ack.Sequence
	}
	l.mu.Lock()
	l.cmds = append(l.cmds, c)
	l.mu.Unlock()
}

// get reads a room; a room whose ok delete the load saw before asking must
// not come back.
func (l *load) get(room string) {
	l.mu.Lock()
	deleted, wasDeleted := l.deletedAt[room]
	l.mu.Unlock()
	asked := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	_, err := l.s.client.GetRoom(ctx, room)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.queries["get "+outcome(err)]++
	if err == nil && wasDeleted && deleted.Before(asked) {
		l.seen = append(l.seen, Violation{Rule: "room-back-after-delete", ID: room,
			Detail: fmt.Sprintf("rooms.api.get found it %s after its ok delete", asked.Sub(deleted).Round(time.Millisecond))})
	}
}

func (l *load) list() {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	_, err := l.s.client.ListRooms(ctx, events.ListRequest{MaxItems: 20})
	l.mu.Lock()
	l.queries["list "+outcome(err)]++
	l.mu.Unlock()
}

// outcome names a query's answer: ok, its error code, or no-reply.
func outcome(err error) string {
	if e, ok := events.AsError(err); ok {
		return e.Code
	}
	if err != nil {
		return "no-reply"
	}
	return "ok"
}

// deleteBody is a delete of rooms: forced (the old model's force, still
// accepted) or graceful (a room with a meeting is deleted when it ends).
func deleteBody(rooms []string, force bool) map[string]any {
	if force {
		return map[string]any{"roomIds": rooms, "force": true}
	}
	return map[string]any{"roomIds": rooms, "withMeeting": events.PolicyWhenMeetingEnds}
}
