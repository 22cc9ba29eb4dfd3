package nemesis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/internal/procs"
	"github.com/roomkeeper/roomkeeper/natsapi"
)

// ciSeeds are the seeds TestNemesis always runs (besides a random one)
// when NEMESIS_SEED is not set.
var ciSeeds = []uint64{17} // 20 s: kill-nats, kill-livekit

// Defaults of a run.
const (
	// ciDuration is the fault phase of each run of TestNemesis when
	// NEMESIS_DURATION is not set; `make nemesis` sets 5m.
	ciDuration = 20 * time.Second
	loadRate   = 20 // operations per second
	// mongoLoadRate is the load of a run on FerretDB.
	mongoLoadRate = 2
	// settleBound is how long the system may take to finish its work once
	// the faults stop: a message a stopped worker held comes back after
	// AckWait (30 s), a nak'ed one after up to 30 s.
	settleBound = 3 * time.Minute
	// mongoSettleBound: FerretDB drains a backlog at a few commands a
	// second, slower as its collections grow (and with a LiveKit call in
	// every delete).
	mongoSettleBound = 15 * time.Minute
)

// TestNemesis runs the deployment as separate processes, injects a seeded
// random schedule of faults under a seeded random load, lets it settle and
// checks the invariants of the message API. NEMESIS_SEED replays one seed
// (printed by every run); NEMESIS_DURATION sets the fault phase (default
// 20s per seed here, 5m under `make nemesis`).
func TestNemesis(t *testing.T) {
	if testing.Short() {
		t.Skip("nemesis: separate processes and minutes of faults; not under -short")
	}
	duration := ciDuration
	if v := os.Getenv("NEMESIS_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		require.NoError(t, err, "NEMESIS_DURATION")
		duration = d
	}
	storeKind := storeSQLite
	switch v := os.Getenv("NEMESIS_STORE"); v {
	case "", storeSQLite:
	case storeMongo:
		storeKind = storeMongo
	default:
		t.Fatalf("NEMESIS_STORE %q: sqlite or mongo", v)
	}
	seeds := append(append([]uint64(nil), ciSeeds...), rand.Uint64()%1_000_000)
	if v := os.Getenv("NEMESIS_SEED"); v != "" {
		seed, err := strconv.ParseUint(v, 10, 64)
		require.NoError(t, err, "NEMESIS_SEED")
		seeds = []uint64{seed}
	}
	for _, seed := range seeds {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) { runNemesis(t, seed, duration, storeKind) })
	}
}

func runNemesis(t *testing.T, seed uint64, duration time.Duration, storeKind string) {
	sc := ScheduleConfig{Duration: duration}
	rate, settle := loadRate, settleBound
	if storeKind == storeMongo {
		// FerretDB v1 (its SQLite backend) scans a collection per lookup
		// and its conditional updates are not atomic across processes:
		// one worker, and a load it keeps up with.
		sc.Workers, rate, settle = 1, mongoLoadRate, mongoSettleBound
	}
	sc = sc.WithDefaults()
	faults := NewSchedule(seed, sc)
	t.Logf("nemesis: seed %d on %s (replay: NEMESIS_SEED=%d NEMESIS_DURATION=%s NEMESIS_STORE=%s), %d faults scheduled: %s", seed, storeKind, seed, duration, storeKind, len(faults), CountByKind(faults))
	s := startSystem(t, sc, storeKind)
	n := newNemesis(s)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("nemesis: seed %d failed (replay: NEMESIS_SEED=%d NEMESIS_DURATION=%s); fault log:\n%s", seed, seed, duration, n.Log())
		}
	})

	// Load and faults for the duration; the load stops with it, the
	// faults finish their repairs.
	l := newLoad(s, seed, rate)
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), duration)
	loadDone := make(chan struct{})
	go func() { l.Run(ctx); close(loadDone) }()
	n.Run(start, faults)
	<-ctx.Done()
	cancel()
	<-loadDone
	faultsEnd := time.Since(start)

	// Settle: the work queue empty, nothing pending, the last expiring
	// room past its date, the last meeting's room closed by LiveKit and
	// the last webhook in, and three sweeps after that (expiry and
	// reconciliation); then the schedulers stop, the queue empties again,
	// and the rest stop.
	state, ok := s.waitSettled(settle, l.quietAfter().Add(3*s.sweep))
	settleTook := time.Since(start) - faultsEnd
	var exits []Exit
	exits = append(exits, terminate(s.schedulers)...)
	expiredBefore := time.Now().Add(-2 * s.sweep)
	if ok {
		state, ok = s.waitSettled(settle, time.Time{})
	}
	if !ok {
		t.Logf("not settled after %s: %s", settle, state)
	}
	exits = append(exits, terminate(s.webhooks)...)
	exits = append(exits, terminate(s.apis)...)
	exits = append(exits, terminate(s.dispatchers)...)
	exits = append(exits, terminate(s.workers)...)

	h := collect(t, s, l)
	h.ExpiredBefore = expiredBefore
	h.DuplicatesWindow = duplicatesWindow
	h.Seen = append(h.Seen, n.failed...)
	h.Exits = exits
	violations := Check(h)

	accepted := 0
	for _, c := range h.Commands {
		if c.Accepted {
			accepted++
		}
	}
	summary := fmt.Sprintf("nemesis: seed %d, %d commands, %d faults (%s), %d violations", seed, accepted, len(n.done), CountByKind(n.done), len(violations))
	fmt.Println(summary)
	t.Log(summary)
	t.Logf("load: %s; queries: %s; %d results, %d events, %d dead letters, %d rooms left; faults skipped (target still under a fault) %d (%s); faults ended at %s, settled in %s; SIGTERM exits: %s",
		counts(l.ops), counts(l.queries), len(h.Results), len(h.Events), len(h.Dead), len(h.Rooms),
		len(n.skipped), CountByKind(n.skipped), faultsEnd.Round(time.Millisecond), settleTook.Round(time.Millisecond), exitTimes(exits))
	codes, reasons := map[string]int{}, map[string]int{}
	for _, r := range h.Results {
		switch {
		case r.OK:
			codes["ok"]++
		default:
			codes[r.Code]++
		}
	}
	for _, d := range h.Dead {
		reason, _, _ := strings.Cut(d.Reason, ":")
		reasons[reason]++
	}
	accepted200 := 0
	for _, w := range h.Webhooks {
		if w.Accepted {
			accepted200++
		}
	}
	t.Logf("results: %s (%d sent again, same bytes); dead letters: %s; webhooks posted %d (replays included), answered 200 %d, distinct event IDs stored %d", counts(codes), h.ResultsResent, counts(reasons), len(h.Webhooks), accepted200, len(h.StoredWebhooks))
	t.Logf("valid commands answered with an error: %s", counts(refusals(h)))
	t.Logf("meetings: %s", counts(meetingPaths(h)))
	_, refused := s.receiver.Deliveries()
	distinct := map[string]bool{}
	for _, d := range h.Deliveries {
		distinct[d.EventID] = true
	}
	t.Logf("HTTP API answers %d; outgoing webhooks delivered %d (%d distinct events), refused while the receiver was down %d", len(h.HTTPAnswers), len(h.Deliveries), len(distinct), refused)
	if len(violations) > 0 {
		var b strings.Builder
		fmt.Fprintf(&b, "nemesis report: seed %d (replay: NEMESIS_SEED=%d NEMESIS_DURATION=%s)\nfault log:\n%s\nviolations:\n", seed, seed, duration, n.Log())
		for i, v := range violations {
			if i == 200 {
				fmt.Fprintf(&b, "  ... %d more\n", len(violations)-i)
				break
			}
			fmt.Fprintf(&b, "  %s\n", v)
		}
		t.Error(b.String())
		return
	}
	if testing.Verbose() {
		t.Logf("fault log:\n%s", n.Log())
	}
}

// collect reads what the checker needs once every process is stopped.
func collect(t *testing.T, s *system, l *load) History {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var h History
	l.mu.Lock()
	h.Commands = append(h.Commands, l.cmds...)
	h.Seen = append(h.Seen, l.seen...)
	h.HTTPAnswers = append(h.HTTPAnswers, l.answers...)
	for _, w := range l.webhooks {
		h.Webhooks = append(h.Webhooks, Webhook(w))
	}
	l.mu.Unlock()

	// Results: the stream keeps the last per command; the audit stream
	// every one stored. A command repeated past the duplicates window is
	// answered again from the ledger, with the same bytes: one result,
	// sent twice. Distinct bodies are distinct results.
	stored := map[string]map[string]bool{} // command ID -> result bodies
	audit, err := readStream(ctx, s, auditStream, ">")
	require.NoError(t, err, "read %s", auditStream)
	for _, m := range audit {
		id := strings.TrimPrefix(m.Subject(), events.ResultPrefix)
		if stored[id] == nil {
			stored[id] = map[string]bool{}
		} else {
			h.ResultsResent++
		}
		stored[id][string(m.Data())] = true
	}
	msgs, err := readStream(ctx, s, events.StreamResults, events.ResultPrefix+">")
	require.NoError(t, err, "read %s", events.StreamResults)
	for _, m := range msgs {
		var r events.Result
		if err := json.Unmarshal(m.Data(), &r); err != nil {
			h.Seen = append(h.Seen, Violation{Rule: "result-malformed", ID: m.Subject(), Detail: err.Error()})
			continue
		}
		res := Result{CommandID: strings.TrimPrefix(m.Subject(), events.ResultPrefix), Type: r.Type, OK: r.OK, Status: r.Status, Data: r.Data, Stored: max(1, len(stored[strings.TrimPrefix(m.Subject(), events.ResultPrefix)]))}
		if r.Error != nil {
			res.Code, res.Message = r.Error.Code, r.Error.Message
		}
		if r.CommandID != res.CommandID {
			h.Seen = append(h.Seen, Violation{Rule: "result-malformed", ID: res.CommandID, Detail: "commandId " + r.CommandID})
		}
		h.Results = append(h.Results, res)
	}

	evs, err := readStream(ctx, s, events.StreamEvents, events.EventPrefix+">")
	require.NoError(t, err, "read %s", events.StreamEvents)
	for _, m := range evs {
		var e events.Event
		if err := json.Unmarshal(m.Data(), &e); err != nil {
			h.Seen = append(h.Seen, Violation{Rule: "event-malformed", ID: m.Subject(), Detail: err.Error()})
			continue
		}
		h.Events = append(h.Events, Event{ID: e.ID, MsgID: m.Headers().Get("Nats-Msg-Id"), Type: strings.TrimPrefix(m.Subject(), events.EventPrefix), Room: e.Subject})
	}

	whs, err := readStream(ctx, s, events.StreamWebhooks, events.WebhookPrefix+">")
	require.NoError(t, err, "read %s", events.StreamWebhooks)
	h.Deliveries, _ = s.receiver.Deliveries()
	h.StoredWebhooks = map[string]int{}
	for _, m := range whs {
		h.StoredWebhooks[m.Headers().Get("Nats-Msg-Id")]++
	}

	var dead []events.DeadLetter
	err = retry(ctx, func() (err error) { dead, err = natsapi.ListDead(ctx, s.js, 0); return err })
	require.NoError(t, err, "read %s", events.StreamDead)
	for _, d := range dead {
		h.Dead = append(h.Dead, DeadLetter{Seq: d.Seq, Subject: d.Subject, CommandID: d.CommandID, Reason: d.Reason})
	}

	err = retry(ctx, func() (err error) { h.QueuedCommands, h.Consumers, err = s.settled(ctx); return err })
	require.NoError(t, err)

	st, err := s.openStore(ctx)
	require.NoError(t, err)
	defer func() { _ = st.Close() }()
	for after := ""; ; {
		page, err := st.ListRooms(ctx, after, 1000)
		require.NoError(t, err)
		if len(page) == 0 {
			break
		}
		for _, r := range page {
			h.Rooms = append(h.Rooms, Room{ID: r.RoomID, AutoDeletionDate: r.AutoDeletionDate,
				MarkedForDeletion: r.MeetingEndAction == events.EndActionDelete || r.MeetingEndAction == events.EndActionClose,
				MeetingActive:     r.Status == events.StatusActiveMeeting})
		}
		after = page[len(page)-1].RoomID
	}
	return h
}

// retry runs f until it succeeds, up to 30 times a second apart: after a
// rolling restart a stream may still be electing its leader.
func retry(ctx context.Context, f func() error) error {
	var err error
	for range 30 {
		if err = f(); err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return errors.Join(err, ctx.Err())
		case <-time.After(time.Second):
		}
	}
	return err
}

func readStream(ctx context.Context, s *system, stream, filter string) ([]jetstream.Msg, error) {
	var msgs []jetstream.Msg
	err := retry(ctx, func() (err error) { msgs, err = procs.ReadStream(ctx, s.js, stream, filter); return err })
	return msgs, err
}

func counts[K ~string](m map[K]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, string(k))
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[K(k)])
	}
	return strings.Join(parts, ", ")
}

func exitTimes(exits []Exit) string {
	var worst time.Duration
	var bad []string
	for _, e := range exits {
		worst = max(worst, e.Took)
		if e.Err != nil {
			bad = append(bad, fmt.Sprintf("%s: %v", e.Name, e.Err))
		}
	}
	s := fmt.Sprintf("%d processes, slowest %s", len(exits), worst.Round(time.Millisecond))
	if len(bad) > 0 {
		s += " (" + strings.Join(bad, "; ") + ")"
	}
	return s
}

// meetingPaths counts how rooms with a meeting went: marked by a delete,
// deleted by a room_finished, deleted by the sweep's reconciliation (a
// marked room LiveKit lost), meeting_ended events.
func meetingPaths(h History) map[string]int {
	out := map[string]int{}
	for _, r := range h.Results {
		if !r.OK || r.Type != events.SubjectDelete {
			continue
		}
		var d events.DeleteResult
		if json.Unmarshal(r.Data, &d) == nil {
			for _, del := range d.Deleted {
				if strings.Contains(del.SuccessCode, "scheduled") {
					out["scheduled by a delete"]++
				}
			}
		}
		if strings.HasPrefix(r.CommandID, events.ReconcileIDPrefix) {
			out["deleted by reconciliation"] += len(d.Deleted)
		}
	}
	for _, e := range h.Events {
		switch {
		case e.Type == events.EventDeleted && strings.HasPrefix(eventCause(e.ID), events.WebhookIDPrefix):
			out["deleted by room_finished"]++
		case e.Type == events.EventMeetingEnded:
			out["meeting_ended"]++
		case e.Type == events.EventMeetingStarted:
			out["meeting_started"]++
		}
	}
	return out
}

// refusals counts the error results of commands the load sent as valid,
// by code and message (a create whose autoDeletionDate came too close
// while it waited, say).
func refusals(h History) map[string]int {
	valid := map[string]bool{}
	for _, c := range h.Commands {
		if c.ID != "" && !c.Invalid {
			valid[c.ID] = true
		}
	}
	out := map[string]int{}
	for _, r := range h.Results {
		if !r.OK && valid[r.CommandID] && r.Code != events.CodeNotFound {
			msg := r.Message
			if i := strings.IndexAny(msg, "0123456789"); i > 0 {
				msg = msg[:i] + "…"
			}
			out[r.Code+": "+msg]++
		}
	}
	return out
}
