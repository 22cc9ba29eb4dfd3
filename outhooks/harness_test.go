package outhooks_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/sirupsen/logrus"
	"github.com/stretchr/testify/require"

	"github.com/roomkeeper/roomkeeper/apispec/apispectest"
	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/internal/testenv"
	"github.com/roomkeeper/roomkeeper/outhooks"
)

const secret = "meet-api-key-1"

// delivery is one POST a receiver got.
type delivery struct {
	Event   string
	EventID string
	Body    []byte
	// Timestamp and Signature are the X-Timestamp and X-Signature headers.
	Timestamp, Signature string
	Data                 map[string]any
}

// receiver is a webhook receiver on 127.0.0.1, as a user would write one:
// it checks the signature with its own HMAC (not outhooks.Verify), the
// body against upstream's webhook schema (required fields, status by
// event; and apispectest.CheckWebhook, upstream's spec) and records what
// it got. It answers Status (200 by default);
// Hold, when set, runs before the answer.
type receiver struct {
	addr   string
	mu     sync.Mutex
	srv    *http.Server
	got    []delivery
	bad    []string
	Status atomic.Int32
	Hold   atomic.Pointer[func(*http.Request)]
}

func newReceiver(t *testing.T) *receiver {
	t.Helper()
	r := &receiver{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	r.addr = ln.Addr().String()
	r.serve(ln)
	t.Cleanup(func() {
		r.down()
		r.mu.Lock()
		defer r.mu.Unlock()
		require.Empty(t, r.bad, "requests the receiver found wrong")
	})
	return r
}

func (r *receiver) URL(path string) string { return "http://" + r.addr + path }

func (r *receiver) serve(ln net.Listener) {
	srv := &http.Server{Handler: http.HandlerFunc(r.handle), ReadHeaderTimeout: 5 * time.Second}
	r.mu.Lock()
	r.srv = srv
	r.mu.Unlock()
	go func() { _ = srv.Serve(ln) }()
}

// down stops the receiver: connections are refused.
func (r *receiver) down() {
	r.mu.Lock()
	srv := r.srv
	r.srv = nil
	r.mu.Unlock()
	if srv != nil {
		_ = srv.Close()
	}
}

// up starts it again on the same address.
func (r *receiver) up(t *testing.T) {
	t.Helper()
	ln, err := net.Listen("tcp", r.addr)
	require.NoError(t, err)
	r.serve(ln)
}

func (r *receiver) fail(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.bad = append(r.bad, fmt.Sprintf(format, args...))
}

func (r *receiver) handle(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return
	}
	ts, sig := req.Header.Get("X-Timestamp"), req.Header.Get("X-Signature")
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts + "." + string(body)))
	if want := hex.EncodeToString(mac.Sum(nil)); !hmac.Equal([]byte(want), []byte(sig)) {
		r.fail("bad signature %q for timestamp %q", sig, ts)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if req.Method != http.MethodPost || req.Header.Get("Content-Type") != "application/json" {
		r.fail("%s with Content-Type %q", req.Method, req.Header.Get("Content-Type"))
	}
	d := delivery{EventID: req.Header.Get("X-Event-Id"), Body: body, Timestamp: ts, Signature: sig}
	if err := checkBody(body, &d); err != nil {
		r.fail("body %s: %v", body, err)
	}
	// And against upstream's webhook spec (apispec/webhooks.yaml).
	if err := apispectest.CheckWebhook(req.Context(), d.Event, req.Header, body); err != nil {
		r.fail("spec of %s: %v", d.Event, err)
	}
	if d.EventID == "" {
		r.fail("no X-Event-Id")
	}
	if h := r.Hold.Load(); h != nil {
		(*h)(req)
	}
	r.mu.Lock()
	r.got = append(r.got, d)
	r.mu.Unlock()
	status := int(r.Status.Load())
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
}

// checkBody checks an outgoing webhook body against upstream's webhook
// schema (openapi webhooks.yaml): {event, creationDate, data}; meeting
// events carry a MeetRoom, recording events a MeetRecordingInfo with the
// status its event allows, recordingEnded with endDate, duration, size
// and details.
func checkBody(body []byte, d *delivery) error {
	var p struct {
		Event        string         `json:"event"`
		CreationDate *float64       `json:"creationDate"`
		Data         map[string]any `json:"data"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		return err
	}
	d.Event, d.Data = p.Event, p.Data
	if p.CreationDate == nil || *p.CreationDate <= 0 || p.Data == nil {
		return errors.New("creationDate and data are required")
	}
	str := func(k string) bool { s, ok := p.Data[k].(string); return ok && s != "" }
	num := func(k string) bool { _, ok := p.Data[k].(float64); return ok }
	switch p.Event {
	case "meetingStarted", "meetingEnded":
		for _, k := range []string{"roomId", "roomName", "owner", "status", "meetingEndAction"} {
			if !str(k) {
				return fmt.Errorf("room without %s", k)
			}
		}
		if !num("creationDate") {
			return errors.New("room without creationDate")
		}
	case "recordingStarted", "recordingUpdated", "recordingEnded":
		for _, k := range []string{"recordingId", "roomId", "roomName", "status"} {
			if !str(k) {
				return fmt.Errorf("recording without %s", k)
			}
		}
		if _, ok := p.Data["egressId"]; ok {
			return errors.New("egressId is not upstream's")
		}
		allowed := map[string][]string{
			"recordingStarted": {"starting", "active"},
			"recordingUpdated": {"active", "ending"},
			"recordingEnded":   {"complete", "failed", "aborted", "limit_reached"},
		}[p.Event]
		if !slices.Contains(allowed, p.Data["status"].(string)) {
			return fmt.Errorf("status %v not allowed for %s", p.Data["status"], p.Event)
		}
		if p.Event == "recordingEnded" {
			for _, k := range []string{"endDate", "duration", "size"} {
				if !num(k) {
					return fmt.Errorf("recordingEnded without %s", k)
				}
			}
			if _, ok := p.Data["details"].(string); !ok {
				return errors.New("recordingEnded without details")
			}
		}
	default:
		return fmt.Errorf("unknown event %q", p.Event)
	}
	return nil
}

// deliveries is what the receiver got so far.
func (r *receiver) deliveries() []delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

// ids are the event IDs the receiver got, deduplicated.
func (r *receiver) ids() []string {
	var out []string
	for _, d := range r.deliveries() {
		if !slices.Contains(out, d.EventID) {
			out = append(out, d.EventID)
		}
	}
	return out
}

// counts counts deliveries by outcome (outhooks.Metrics).
type counts struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *counts) Delivered(event, outcome string, _ time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[event+"/"+outcome]++
}

func (c *counts) get(k string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[k]
}

// bundle is a NATS server with the contract's streams.
type bundle struct {
	NATS *testenv.NATS
	NC   *nats.Conn
	JS   jetstream.JetStream
	Log  *logrus.Logger
}

func setup(t *testing.T) *bundle {
	t.Helper()
	n := testenv.StartNATS(t)
	nc, js := n.Bootstrap(t, nil)
	log := logrus.New()
	log.SetLevel(logrus.WarnLevel)
	return &bundle{NATS: n, NC: nc, JS: js, Log: log}
}

// dispatcher is a running dispatcher with its own connection.
type dispatcher struct {
	NC     *nats.Conn
	cancel context.CancelFunc
	d      *outhooks.Dispatcher
	client *http.Client
}

// start runs a dispatcher on its own NATS connection, stopped at the end
// of the test.
func (b *bundle) start(t *testing.T, cfg outhooks.Config) *dispatcher {
	t.Helper()
	nc, js := b.NATS.Connect(t)
	client := &http.Client{Transport: &http.Transport{}}
	if cfg.Secret == "" {
		cfg.Secret = secret
	}
	cfg.Client = client
	if cfg.Log == nil {
		cfg.Log = b.Log
	}
	d, err := outhooks.New(cfg, js)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	require.NoError(t, d.Start(ctx))
	r := &dispatcher{NC: nc, cancel: cancel, d: d, client: client}
	t.Cleanup(r.stop)
	return r
}

// stop stops the dispatcher and waits for it.
func (r *dispatcher) stop() {
	r.cancel()
	r.d.Wait()
	r.client.CloseIdleConnections()
	r.NC.Close()
}

// publish publishes a domain event as the workers' outbox does.
func (b *bundle) publish(t *testing.T, cause, eventType, roomID string, data any) events.Event {
	t.Helper()
	ev, err := events.NewEvent(cause, eventType, roomID, time.Now(), data)
	require.NoError(t, err)
	raw, err := json.Marshal(ev)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = b.JS.Publish(ctx, events.EventSubject(eventType), raw, jetstream.WithMsgID(ev.ID))
	require.NoError(t, err)
	return ev
}

// deadLetters are the dead letters on subject.
func (b *bundle) deadLetters(t *testing.T) []events.DeadLetter {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	str, err := b.JS.Stream(ctx, events.StreamDead)
	require.NoError(t, err)
	info, err := str.Info(ctx)
	require.NoError(t, err)
	var out []events.DeadLetter
	for seq := info.State.FirstSeq; seq > 0 && seq <= info.State.LastSeq; seq++ {
		raw, err := str.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		require.NoError(t, err)
		out = append(out, events.DeadLetter{Seq: seq, Subject: raw.Subject, Data: raw.Data,
			OriginalSubject: raw.Header.Get(events.HeaderDeadSubject), CommandID: raw.Header.Get(events.HeaderDeadCommandID),
			Reason: raw.Header.Get(events.HeaderDeadReason), TargetURL: raw.Header.Get(events.HeaderDeadTargetURL)})
	}
	return out
}

// sampleRoom is a room as meeting events carry it.
func sampleRoom(id string) events.Room {
	return events.Room{RoomID: id, RoomName: "Room", Owner: events.OwnerAdmin, Status: events.StatusActiveMeeting,
		CreationDate: 1764004100000, MeetingEndAction: events.EndActionNone}
}

// sampleRecording is a recording as recording events carry it.
func sampleRecording(room, egress, status string) events.Recording {
	start := int64(1764004100000)
	r := events.Recording{RecordingID: room + "--" + egress, EgressID: egress, RoomID: room, RoomName: "Room", Status: status, StartDate: &start}
	return r
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	raw, err := json.Marshal(v)
	require.NoError(t, err)
	return raw
}
