package nemesis

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/roomkeeper/roomkeeper/events"
)

// Command is a command the load published.
type Command struct {
	// ID is the Nats-Msg-Id; empty for a command published without one.
	ID      string
	Subject string
	// Accepted: JetStream acknowledged a publish of it.
	Accepted bool
	// Seq is the stream sequence JetStream acknowledged (commands without
	// an ID: their command ID is seq-<Seq>-<stored time>).
	Seq uint64
	// Invalid: the body or ID is not a valid command; its result must be
	// invalid_argument, with a dead letter.
	Invalid bool
}

// Result is a result stored on ROOMS_RESULTS.
type Result struct {
	CommandID string
	Type      string
	OK        bool
	Code      string // error code when not OK
	Message   string // error message when not OK
	Status    int    // the REST status the result carries
	Data      json.RawMessage
	// Stored is how many distinct results (by body) were stored on the
	// command's subject over the run (the stream keeps the last only); the
	// same result sent again, to a repeat of the command after the
	// duplicates window, is one.
	Stored int
}

// Event is a domain event stored on ROOMS_EVENTS.
type Event struct {
	ID    string // CloudEvents id
	MsgID string // Nats-Msg-Id
	Type  string // created, deleted, ...
	Room  string // CloudEvents subject
}

// DeadLetter is a message stored on ROOMS_DEAD.
type DeadLetter struct {
	Seq       uint64
	Subject   string
	CommandID string // Roomkeeper-Dead-Command-Id
	Reason    string // Roomkeeper-Dead-Reason
}

// Webhook is a LiveKit webhook the load posted.
type Webhook struct {
	ID       string    // event ID
	Accepted bool      // the receiver answered 200
	At       time.Time // when the receiver answered
}

// HTTPAnswer is the HTTP API's answer to one write of the load, sent with
// an Idempotency-Key (its command ID) until a gateway answered it.
type HTTPAnswer struct {
	Key    string
	Status int
	RoomID string // the room of a create answered 201
	// OneRoom: a DELETE /rooms/{roomId}, whose failure the gateway
	// answers with the room's own status (404, 409), not the bulk 400.
	OneRoom bool
}

// Delivery is one outgoing webhook the test receiver took.
type Delivery struct {
	EventID string // the event ID header
	Event   string // the body's event (meetingStarted, ...)
	// DataSum is a digest of the body's data: every delivery of one event
	// carries the same data.
	DataSum     string
	SignatureOK bool
}

// Room is a room left in the store at the end.
type Room struct {
	ID               string
	AutoDeletionDate *int64 // epoch ms
	// MarkedForDeletion: a delete scheduled its deletion or close for when
	// its meeting ends (meetingEndAction delete or close).
	MarkedForDeletion bool
	// MeetingActive: the last word of LiveKit (or of the reconciliation)
	// was that a meeting is going on.
	MeetingActive bool
}

// Consumer is the state of a workers consumer at the end.
type Consumer struct {
	Stream              string
	AckPending, Pending uint64
}

// Exit is how a process stopped by SIGTERM ended.
type Exit struct {
	Name string
	Took time.Duration
	Err  error // exit error, or that it did not exit
	Hung bool  // still running after the bound
}

// History is everything the checker reads: what the load sent, what the
// streams and the store hold once the system settled, and what was seen
// while it ran.
type History struct {
	Commands []Command
	Results  []Result
	// ResultsResent counts the results stored again with the same body.
	ResultsResent int
	Events        []Event
	Dead          []DeadLetter
	Rooms         []Room
	Webhooks      []Webhook
	// StoredWebhooks counts the messages on LIVEKIT_WEBHOOKS by
	// Nats-Msg-Id (the event ID).
	StoredWebhooks map[string]int
	// DuplicatesWindow is the streams' duplicates window: a webhook posted
	// again past it is stored again (the ledger makes it one effect).
	DuplicatesWindow time.Duration
	// ExpiredBefore: a room whose autoDeletionDate is before it must be
	// gone.
	ExpiredBefore time.Time
	// QueuedCommands is the number of messages left on ROOMS_COMMANDS.
	QueuedCommands uint64
	Consumers      []Consumer
	Exits          []Exit
	// HTTPAnswers are the HTTP API's answers to the load's writes, and
	// Deliveries the outgoing webhooks the receiver took.
	HTTPAnswers []HTTPAnswer
	Deliveries  []Delivery
	// Seen are the violations the load saw while it ran (a query finding a
	// deleted room).
	Seen []Violation
}

// Violation is one broken invariant.
type Violation struct {
	Rule   string
	ID     string // command, event, room or process at fault
	Detail string
}

func (v Violation) String() string {
	if v.Detail == "" {
		return v.Rule + " " + v.ID
	}
	return v.Rule + " " + v.ID + ": " + v.Detail
}

// Check returns the violations of h, sorted by rule then ID.
func Check(h History) []Violation {
	var out []Violation
	add := func(rule, id, format string, args ...any) {
		out = append(out, Violation{Rule: rule, ID: id, Detail: fmt.Sprintf(format, args...)})
	}
	out = append(out, h.Seen...)

	results := make(map[string]Result, len(h.Results))
	bySeq := map[uint64][]string{} // seq- results by stream sequence
	for _, r := range h.Results {
		results[r.CommandID] = r
		if r.Stored > 1 {
			add("result-doubled", r.CommandID, "%d results stored", r.Stored)
		}
		if seq, ok := autoSeq(r.CommandID); ok {
			bySeq[seq] = append(bySeq[seq], r.CommandID)
		}
	}

	// Every accepted command has exactly one result; an invalid one is
	// invalid_argument.
	sent := map[string]bool{}
	unacceptedAuto := 0
	acceptedSeq := map[uint64]bool{}
	for _, c := range h.Commands {
		if c.ID == "" {
			if !c.Accepted {
				unacceptedAuto++
				continue
			}
			acceptedSeq[c.Seq] = true
			ids := bySeq[c.Seq]
			switch len(ids) {
			case 0:
				add("result-lost", fmt.Sprintf("seq-%d-*", c.Seq), "accepted %s without Nats-Msg-Id has no result", c.Subject)
			case 1:
				checkExpected(c, results[ids[0]], add)
			default:
				add("result-doubled", fmt.Sprintf("seq-%d-*", c.Seq), "results %s", strings.Join(ids, ", "))
			}
			continue
		}
		if sent[c.ID] {
			continue // a duplicate publish: one command
		}
		sent[c.ID] = true
		r, ok := results[c.ID]
		if !ok {
			if c.Accepted {
				add("result-lost", c.ID, "accepted %s has no result", c.Subject)
			}
			continue
		}
		checkExpected(c, r, add)
	}
	strayAuto := 0
	for seq, ids := range bySeq {
		if !acceptedSeq[seq] {
			strayAuto += len(ids)
		}
	}
	if strayAuto > unacceptedAuto {
		add("result-unknown", "seq-*", "%d results of commands without Nats-Msg-Id that JetStream did not acknowledge, %d such publishes", strayAuto, unacceptedAuto)
	}
	for _, r := range h.Results {
		if _, own := events.ReservedCommandID(r.CommandID); !own && !sent[r.CommandID] {
			add("result-unknown", r.CommandID, "result of a command nobody sent")
		}
	}

	// Effects agree with the ok results: a room exists iff its create
	// succeeded and no delete of it did.
	created := map[string]string{}     // room -> create command
	deletedBy := map[string][]string{} // room -> delete commands
	eventIDs := map[string]int{}
	msgIDs := map[string]int{}
	for _, e := range h.Events {
		eventIDs[e.ID]++
		msgIDs[e.MsgID]++
	}
	needEvent := func(cmd, typ, room string) {
		if id := events.EventID(cmd, typ, room); eventIDs[id] == 0 {
			add("event-missing", id, "ok result of %s without its %s event", cmd, typ)
		}
	}
	for _, r := range h.Results {
		if !r.OK {
			continue
		}
		switch r.Type {
		case events.SubjectCreate:
			var room struct {
				RoomID string `json:"roomId"`
			}
			if json.Unmarshal(r.Data, &room) != nil || room.RoomID == "" {
				add("result-malformed", r.CommandID, "create result without roomId")
				continue
			}
			if other, dup := created[room.RoomID]; dup {
				add("room-doubled", room.RoomID, "created by %s and %s", other, r.CommandID)
			}
			created[room.RoomID] = r.CommandID
			needEvent(r.CommandID, events.EventCreated, room.RoomID)
		case events.SubjectDelete:
			var d events.DeleteResult
			if json.Unmarshal(r.Data, &d) != nil {
				add("result-malformed", r.CommandID, "delete result not a DeleteResult")
				continue
			}
			for _, del := range d.Deleted {
				switch {
				case deletedNow(del.SuccessCode):
					deletedBy[del.RoomID] = append(deletedBy[del.RoomID], r.CommandID)
					needEvent(r.CommandID, events.EventDeleted, del.RoomID)
				case del.SuccessCode == events.DeleteSuccessRoomClosed:
					needEvent(r.CommandID, events.EventClosed, del.RoomID)
				default:
					// An active meeting: deleted or closed when it ends.
					needEvent(r.CommandID, events.EventDeletionScheduled, del.RoomID)
				}
			}
		case events.SubjectUpdatePreferences:
			var room struct {
				RoomID string `json:"roomId"`
			}
			if json.Unmarshal(r.Data, &room) == nil && room.RoomID != "" {
				needEvent(r.CommandID, events.EventPreferencesUpdated, room.RoomID)
			}
		}
	}
	for _, e := range h.Events {
		// A room_finished applies a scheduled deletion, and the sweep's
		// reconciliation one whose room_finished was lost: their deleted
		// events name the room (and no delete result does).
		if e.Type == events.EventDeleted {
			deletedBy[e.Room] = append(deletedBy[e.Room], eventCause(e.ID))
		}
	}
	inStore := map[string]bool{}
	for _, room := range h.Rooms {
		inStore[room.ID] = true
		if _, ok := created[room.ID]; !ok {
			add("room-unexplained", room.ID, "in the store, no ok create names it")
		}
		if by := deletedBy[room.ID]; len(by) > 0 {
			add("room-back-after-delete", room.ID, "in the store after ok delete %s", strings.Join(by, ", "))
		}
		if d := room.AutoDeletionDate; d != nil && time.UnixMilli(*d).Before(h.ExpiredBefore) {
			add("room-expired-kept", room.ID, "autoDeletionDate %s passed", time.UnixMilli(*d).UTC().Format(time.RFC3339Nano))
		}
		// Every meeting ended before the end (LiveKit closed its room,
		// or lost it): its room_finished, or the sweep's reconciliation,
		// finalises a marked room and ends an active meeting.
		if room.MarkedForDeletion {
			add("room-marked-kept", room.ID, "still marked for deletion after every meeting ended")
		}
		if room.MeetingActive {
			add("meeting-active-kept", room.ID, "meeting still active after every meeting ended")
		}
	}
	for room, cmd := range created {
		if !inStore[room] && len(deletedBy[room]) == 0 {
			add("room-lost", room, "created by %s, deleted by no ok delete, not in the store", cmd)
		}
	}

	// Every event stored once, and caused by a command that succeeded.
	for id, n := range eventIDs {
		if n > 1 {
			add("event-doubled", id, "stored %d times", n)
		}
	}
	for id, n := range msgIDs {
		if n > 1 {
			add("event-doubled", "msgid:"+id, "Nats-Msg-Id stored %d times", n)
		}
	}
	for id := range eventIDs {
		cause := eventCause(id)
		if strings.HasPrefix(cause, events.WebhookIDPrefix) {
			continue // a LiveKit event's: no result
		}
		if r, ok := results[cause]; !ok || !r.OK {
			add("event-without-success", id, "its command %s has no ok result", cause)
		}
	}

	// Every dead letter of a command has a result.
	for _, d := range h.Dead {
		if strings.HasPrefix(d.Subject, events.DeadPrefix+"webhook_") || outgoingDead(d) {
			continue
		}
		if d.CommandID == "" {
			add("dead-letter-anonymous", strconv.FormatUint(d.Seq, 10), "dead letter %s without %s", d.Subject, events.HeaderDeadCommandID)
			continue
		}
		if _, ok := results[d.CommandID]; !ok {
			add("dead-letter-without-result", d.CommandID, "dead letter %d on %s", d.Seq, d.Subject)
		}
	}
	dead := map[string]bool{}
	for _, d := range h.Dead {
		dead[d.CommandID] = true
	}
	for _, c := range h.Commands {
		if c.Invalid && c.ID != "" && c.Accepted && !dead[c.ID] {
			if _, answered := results[c.ID]; answered {
				add("invalid-without-dead-letter", c.ID, "invalid %s answered without a dead letter", c.Subject)
			}
		}
	}

	// Every webhook the receiver accepted is stored, once unless it was
	// posted again past the duplicates window (its ID is then stored
	// again; the ledger gives it one effect, which the event rules check).
	type span struct{ first, last time.Time }
	accepted := map[string]*span{}
	var order []string
	for _, w := range h.Webhooks {
		if !w.Accepted {
			continue
		}
		sp, seen := accepted[w.ID]
		if !seen {
			accepted[w.ID] = &span{w.At, w.At}
			order = append(order, w.ID)
			continue
		}
		if w.At.Before(sp.first) {
			sp.first = w.At
		}
		if w.At.After(sp.last) {
			sp.last = w.At
		}
	}
	for _, id := range order {
		sp := accepted[id]
		n := h.StoredWebhooks[id]
		switch {
		case n == 0:
			add("webhook-lost", id, "answered 200, not on %s", events.StreamWebhooks)
		case n > 1 && sp.last.Sub(sp.first) < h.DuplicatesWindow-webhookWindowMargin:
			add("webhook-doubled", id, "stored %d times, every post within %s", n, sp.last.Sub(sp.first).Round(time.Millisecond))
		}
	}

	checkHTTP(h, results, add)

	// Nothing left behind.
	if h.QueuedCommands > 0 {
		add("commands-left", events.StreamCommands, "%d messages left", h.QueuedCommands)
	}
	for _, c := range h.Consumers {
		if c.AckPending > 0 || c.Pending > 0 {
			add("consumer-pending", c.Stream, "%d ack pending, %d pending", c.AckPending, c.Pending)
		}
	}
	for _, e := range h.Exits {
		if e.Hung {
			add("sigterm-hang", e.Name, "%v", e.Err)
		}
	}

	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Rule != out[j].Rule {
			return out[i].Rule < out[j].Rule
		}
		return out[i].ID < out[j].ID
	})
	return dedupe(out)
}

// webhookWindowMargin is how much earlier than the duplicates window ends
// a repeat must come for its storing again to be a violation: the load
// takes the time of the answer, JetStream that of the storing.
const webhookWindowMargin = 5 * time.Second

// checkExpected reports a result at odds with what was sent: a valid
// command of one type answered as another, an invalid one answered ok.
func checkExpected(c Command, r Result, add func(rule, id, format string, args ...any)) {
	if r.Type != "" && r.Type != c.Subject && !c.Invalid {
		add("result-mismatch", r.CommandID, "sent on %s, result of %s", c.Subject, r.Type)
	}
	if c.Invalid && (r.OK || r.Code != events.CodeInvalidArgument) {
		add("invalid-accepted", r.CommandID, "invalid %s answered ok=%v code=%q", c.Subject, r.OK, r.Code)
	}
}

// autoSeq returns the stream sequence of an automatic command ID
// seq-<seq>-<time>.
func autoSeq(id string) (uint64, bool) {
	rest, ok := strings.CutPrefix(id, events.AutoIDPrefix)
	if !ok {
		return 0, false
	}
	s, _, ok := strings.Cut(rest, "-")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseUint(s, 10, 64)
	return n, err == nil
}

// eventCause returns the cause of an event ID cause:type:room.
func eventCause(id string) string {
	i := strings.LastIndexByte(id, ':')
	if i < 0 {
		return id
	}
	j := strings.LastIndexByte(id[:i], ':')
	if j < 0 {
		return id[:i]
	}
	return id[:j]
}

func dedupe(vs []Violation) []Violation {
	out := vs[:0]
	for i, v := range vs {
		if i > 0 && v == vs[i-1] {
			continue
		}
		out = append(out, v)
	}
	return out
}

// deletedNow reports whether a delete's success code says the command
// deleted the room itself. A room with an active meeting is deleted (or
// closed) by its meeting's end, also when forced (the delete ends the
// meeting): the delete publishes deletion_scheduled, and the room_finished
// (or the sweep's reconciliation) the deleted event.
func deletedNow(code string) bool {
	return code == events.DeleteSuccessRoomDeleted || code == events.DeleteSuccessRoomAndRecordingsDeleted
}

// outgoingTypes are the domain events the dispatcher posts to every URL.
var outgoingTypes = map[string]bool{
	events.EventMeetingStarted: true,
	events.EventMeetingEnded:   true,
}

// checkHTTP checks the HTTP API's answers against the stored results (a
// gateway killed mid-request loses nothing and a retry with the same key
// gets the same answer), and the outgoing webhooks against the events:
// every meeting event delivered (or dead-lettered) after any fault, every
// delivery of an event carrying its data and a valid signature.
func checkHTTP(h History, results map[string]Result, add func(rule, id, format string, args ...any)) {
	for _, a := range h.HTTPAnswers {
		r, ok := results[a.Key]
		switch {
		case !ok:
			add("http-answer-without-result", a.Key, "answered %d, no result stored", a.Status)
		case r.Status != 0 && expectedStatus(a, r) != a.Status:
			add("http-answer-mismatch", a.Key, "answered %d, result status %d (expected %d)", a.Status, r.Status, expectedStatus(a, r))
		case a.RoomID != "":
			var room struct {
				RoomID string `json:"roomId"`
			}
			if json.Unmarshal(r.Data, &room) != nil || room.RoomID != a.RoomID {
				add("http-answer-mismatch", a.Key, "answered room %s, result room %s", a.RoomID, room.RoomID)
			}
		}
	}
	deadEvents := map[string]bool{}
	for _, d := range h.Dead {
		if outgoingDead(d) {
			deadEvents[d.CommandID] = true
		}
	}
	delivered := map[string]string{} // event ID -> data digest
	for _, d := range h.Deliveries {
		if !d.SignatureOK {
			add("webhook-out-signature", d.EventID, "%s with a bad signature", d.Event)
		}
		if sum, seen := delivered[d.EventID]; seen && sum != d.DataSum {
			add("webhook-out-changed", d.EventID, "%s delivered again with other data", d.Event)
		}
		delivered[d.EventID] = d.DataSum
	}
	for _, e := range h.Events {
		if !outgoingTypes[e.Type] {
			continue
		}
		if _, ok := delivered[e.ID]; !ok && !deadEvents[e.ID] {
			add("webhook-out-lost", e.ID, "%s event neither delivered nor dead-lettered", e.Type)
		}
	}
}

// outgoingDead reports whether d is an outgoing webhook the dispatcher gave
// up on (its command ID header is the event's ID).
func outgoingDead(d DeadLetter) bool {
	return strings.HasPrefix(d.Subject, events.DeadPrefix+"outgoing")
}

// expectedStatus is the HTTP status the gateway answers for result r: the
// result's, but for a one-room delete that failed, the room's (404 for a
// room that does not exist, else 409).
func expectedStatus(a HTTPAnswer, r Result) int {
	if !a.OneRoom || r.Type != events.SubjectDelete {
		return r.Status
	}
	var d events.DeleteResult
	if json.Unmarshal(r.Data, &d) != nil || len(d.Failed) == 0 {
		return r.Status
	}
	if d.Failed[0].Error == events.DeleteErrorRoom {
		return 404
	}
	return 409
}
