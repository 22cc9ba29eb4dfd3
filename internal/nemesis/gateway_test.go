package nemesis

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/internal/procs"
)

// The HTTP API and the outgoing webhooks of the system under test.
const (
	// apiKey is the API_KEYS of every process: the gateways check it, the
	// dispatcher signs with it.
	apiKey = "nemesis-api-key-0123456789abcdef"
	// outgoingPath is where the test receiver takes outgoing webhooks.
	outgoingPath = "/hooks"
	// eventIDHeader carries an outgoing webhook's event ID.
	eventIDHeader = "X-Event-Id"
)

// httpClient is the load's client of the gateways: a gateway killed
// mid-request is a broken connection, retried elsewhere with the same
// Idempotency-Key.
var httpClient = &http.Client{Timeout: 20 * time.Second}

// httpWrite sends a write to the HTTP API with key as its Idempotency-Key
// until a gateway answers it with anything but 503 (or publishGiveUp
// passes), each try to the next gateway, and records the command and the
// answer.
func (l *load) httpWrite(key, method, path, subject string, body []byte) {
	deadline := time.Now().Add(publishGiveUp)
	var answer *HTTPAnswer
	outcome := "gave up"
	for try := 0; time.Now().Before(deadline); try++ {
		apis := l.s.apis
		r := apis[try%len(apis)]
		req, err := http.NewRequest(method, "http://"+r.HTTPAddr()+"/api/v1"+path, bytes.NewReader(body))
		if err != nil {
			break
		}
		req.Header.Set("X-API-KEY", apiKey)
		req.Header.Set("Idempotency-Key", key)
		req.Header.Set("Content-Type", "application/json")
		resp, err := httpClient.Do(req)
		if err != nil {
			time.Sleep(300 * time.Millisecond)
			continue
		}
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		_ = resp.Body.Close()
		if resp.StatusCode == http.StatusServiceUnavailable {
			time.Sleep(300 * time.Millisecond)
			continue
		}
		answer = &HTTPAnswer{Key: key, Status: resp.StatusCode, OneRoom: subject == events.SubjectDelete}
		if subject == events.SubjectCreate && resp.StatusCode == http.StatusCreated {
			var room struct {
				RoomID string `json:"roomId"`
			}
			_ = json.Unmarshal(data, &room)
			answer.RoomID = room.RoomID
		}
		outcome = strconv.Itoa(resp.StatusCode)
		break
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.queries["http "+method+" "+outcome]++
	l.cmds = append(l.cmds, Command{ID: key, Subject: subject, Accepted: answer != nil})
	if answer != nil {
		l.answers = append(l.answers, *answer)
		if answer.RoomID != "" {
			l.alive = append(l.alive, answer.RoomID)
		}
	}
}

// prepareHTTP draws a write through the HTTP API.
func (l *load) prepareHTTP(o op) func() {
	rng := l.rng
	key := l.nextID("http")
	switch o {
	case opHTTPCreate:
		body := mustJSON(map[string]any{"roomName": fmt.Sprintf("http %d", rng.IntN(1000))})
		return func() { l.httpWrite(key, http.MethodPost, "/rooms", events.SubjectCreate, body) }
	case opHTTPDelete:
		rooms := l.pick(1)
		if len(rooms) == 0 {
			return func() {}
		}
		q := "?withMeeting=when_meeting_ends&withRecordings=force"
		if rng.IntN(3) == 0 {
			q = "?withMeeting=force&withRecordings=force"
		}
		return func() { l.httpWrite(key, http.MethodDelete, "/rooms/"+rooms[0]+q, events.SubjectDelete, nil) }
	case opHTTPStatus:
		rooms := l.pick(1)
		if len(rooms) == 0 {
			return func() {}
		}
		status := []string{events.StatusOpen, events.StatusClosed}[rng.IntN(2)]
		body := mustJSON(map[string]any{"status": status})
		return func() {
			l.httpWrite(key, http.MethodPut, "/rooms/"+rooms[0]+"/status", events.SubjectUpdateStatus, body)
		}
	}
	return func() {}
}

// receiver is the target of the outgoing webhooks: it checks each POST's
// signature, records it, and answers 503 while it is down.
type receiver struct {
	srv  *http.Server
	addr string
	down atomic.Bool

	mu         sync.Mutex
	deliveries []Delivery
	refused    int
}

func startReceiver(t *testing.T) *receiver {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	rc := &receiver{addr: ln.Addr().String()}
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+outgoingPath, rc.serve)
	rc.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = rc.srv.Serve(ln) }()
	t.Cleanup(func() { _ = rc.srv.Close() })
	return rc
}

// URL is where the dispatcher posts.
func (rc *receiver) URL() string { return "http://" + rc.addr + outgoingPath }

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 4<<20))
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	if rc.down.Load() {
		rc.mu.Lock()
		rc.refused++
		rc.mu.Unlock()
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	var payload struct {
		Event string          `json:"event"`
		Data  json.RawMessage `json:"data"`
	}
	_ = json.Unmarshal(body, &payload)
	sum := sha256.Sum256(payload.Data)
	mac := hmac.New(sha256.New, []byte(apiKey))
	mac.Write([]byte(r.Header.Get("X-Timestamp") + "." + string(body)))
	d := Delivery{
		EventID:     r.Header.Get(eventIDHeader),
		Event:       payload.Event,
		DataSum:     hex.EncodeToString(sum[:8]),
		SignatureOK: hmac.Equal([]byte(hex.EncodeToString(mac.Sum(nil))), []byte(r.Header.Get("X-Signature"))),
	}
	rc.mu.Lock()
	rc.deliveries = append(rc.deliveries, d)
	rc.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

// Deliveries is what the receiver took, and how many POSTs it refused.
func (rc *receiver) Deliveries() ([]Delivery, int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]Delivery(nil), rc.deliveries...), rc.refused
}

// startGateways starts the HTTP API processes and the dispatcher.
func (s *system) startGateways(sc ScheduleConfig, env []string) {
	s.receiver = startReceiver(s.t)
	env = append(append([]string(nil), env...), "OUTGOING_WEBHOOK_URLS="+s.receiver.URL())
	for i := range sc.APIs {
		s.apis = append(s.apis, procs.StartRole(s.t, roomkeeperBin, fmt.Sprintf("api-%d", i+1), s.logDir, []string{"api"}, env))
	}
	for i := range sc.Dispatchers {
		s.dispatchers = append(s.dispatchers, procs.StartRole(s.t, roomkeeperBin, fmt.Sprintf("dispatcher-%d", i+1), s.logDir, []string{"dispatcher"}, env))
	}
}
