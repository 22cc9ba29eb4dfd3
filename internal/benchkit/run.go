package benchkit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/roomkeeper/roomkeeper/events"
)

// RunConfig configures [Run].
type RunConfig struct {
	// N commands in all (at least 1).
	N int
	// Rate is the target of commands published per second; 0 publishes as
	// fast as the window allows.
	Rate float64
	// Concurrency is the window: at most this many commands published and
	// without a result at once (default 32).
	Concurrency int
	// Mix of commands (default CreateOnly).
	Mix Mix
	// Wait bounds how long Run waits for the last results after the last
	// publish (default 1 min); what has not come back by then counts as
	// timed out.
	Wait time.Duration
	// Prefix of the command IDs; give each run its own (default
	// "bench-<unix nanos>").
	Prefix string
	// Rooms are existing rooms that updates and deletes may act on, beside
	// those the run creates (a delete-only mix needs them).
	Rooms []string
}

// WithDefaults returns c with its zero fields set.
func (c RunConfig) WithDefaults() RunConfig {
	if c.Concurrency < 1 {
		c.Concurrency = 32
	}
	if c.Mix == (Mix{}) {
		c.Mix = CreateOnly
	}
	if c.Wait <= 0 {
		c.Wait = time.Minute
	}
	if c.Prefix == "" {
		c.Prefix = fmt.Sprintf("bench-%d", time.Now().UnixNano())
	}
	return c
}

// inflight is a command published and waiting for its result.
type inflight struct {
	start  time.Time
	op     Op
	roomID string
}

// Run publishes cfg.N commands on nc's JetStream and waits for each result,
// read from one core subscription on rooms.results.> opened before the
// first publish and matched by command ID. Latency is from just before the
// publish to the arrival of the result. Results of other commands are
// ignored. Run returns an error only when it cannot run at all; failed
// commands are counted in the report.
func Run(ctx context.Context, nc *nats.Conn, cfg RunConfig) (*Report, error) {
	cfg = cfg.WithDefaults()
	if cfg.N < 1 {
		return nil, errors.New("bench: N must be at least 1")
	}
	if cfg.Rate < 0 {
		return nil, errors.New("bench: rate must not be negative")
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	var (
		mu       sync.Mutex
		pending  = make(map[string]*inflight, cfg.Concurrency)
		pool     roomPool
		last     time.Time
		finished int
		pubErrs  int
	)
	for _, id := range slices.Backward(cfg.Rooms) {
		pool.put(id) // taken in the given order
	}
	rec := newRecorder()
	window := make(chan struct{}, cfg.Concurrency)
	allDone := make(chan struct{})
	// settle ends one command; mu is held.
	settle := func() {
		<-window
		finished++
		if finished == cfg.N {
			close(allDone)
		}
	}

	sub, err := nc.Subscribe(events.ResultPrefix+">", func(m *nats.Msg) {
		now := time.Now()
		id := strings.TrimPrefix(m.Subject, events.ResultPrefix)
		mu.Lock()
		defer mu.Unlock()
		f, ok := pending[id]
		if !ok {
			return // another client's command, or a republished result
		}
		delete(pending, id)
		var r events.Result
		code := ""
		if err := json.Unmarshal(m.Data, &r); err != nil {
			code = "bad_result"
		} else if !r.OK {
			code = events.CodeInternal
			if r.Error != nil && r.Error.Code != "" {
				code = r.Error.Code
			}
		}
		rec.done(now.Sub(f.start), code)
		last = now
		if code == "" {
			switch f.op {
			case OpCreate:
				var room events.Room
				if json.Unmarshal(r.Data, &room) == nil && room.RoomID != "" {
					pool.put(room.RoomID)
				}
			case OpUpdate:
				pool.put(f.roomID)
			}
		}
		settle()
	})
	if err != nil {
		return nil, err
	}
	defer func() { _ = sub.Unsubscribe() }()
	if err := sub.SetPendingLimits(-1, -1); err != nil {
		return nil, err
	}
	if err := nc.Flush(); err != nil {
		return nil, err
	}

	pick := newPicker(cfg.Mix)
	var pubs sync.WaitGroup
	start := time.Now()
publish:
	for i := range cfg.N {
		if cfg.Rate > 0 {
			at := start.Add(time.Duration(float64(i) / cfg.Rate * float64(time.Second)))
			if d := time.Until(at); d > 0 {
				select {
				case <-time.After(d):
				case <-ctx.Done():
					break publish
				}
			}
		}
		select {
		case window <- struct{}{}:
		case <-ctx.Done():
			break publish
		}
		id := fmt.Sprintf("%s-%d", cfg.Prefix, i)
		mu.Lock()
		op, roomID := nextOp(pick, &pool)
		f := &inflight{op: op, roomID: roomID, start: time.Now()}
		pending[id] = f
		mu.Unlock()
		rec.sent(op)
		msg := commandMsg(op, roomID)
		msg.Header.Set(jetstream.MsgIDHeader, id)
		pubs.Go(func() {
			if _, err := js.PublishMsg(ctx, msg); err != nil {
				mu.Lock()
				defer mu.Unlock()
				if _, ok := pending[id]; ok {
					delete(pending, id)
					pubErrs++
					if op != OpCreate {
						pool.put(roomID)
					}
					settle()
				}
			}
		})
	}
	pubs.Wait()
	timer := time.NewTimer(cfg.Wait)
	defer timer.Stop()
	select {
	case <-allDone:
	case <-timer.C:
	case <-ctx.Done():
	}
	_ = sub.Unsubscribe()
	mu.Lock()
	rep := &Report{PublishErrors: pubErrs, TimedOut: len(pending)}
	if !last.IsZero() {
		rep.Elapsed = last.Sub(start)
	}
	mu.Unlock()
	rec.report(rep)
	return rep, nil
}

var benchPreferences = func() []byte {
	raw, _ := json.Marshal(events.DefaultPreferences())
	return raw
}()

// commandMsg is the message of one command.
func commandMsg(op Op, roomID string) *nats.Msg {
	var msg *nats.Msg
	switch op {
	case OpUpdate:
		msg = nats.NewMsg(events.SubjectUpdatePreferences)
		msg.Data = fmt.Appendf(nil, `{"roomId":%q,"preferences":%s}`, roomID, benchPreferences)
	case OpDelete:
		msg = nats.NewMsg(events.SubjectDelete)
		msg.Data = fmt.Appendf(nil, `{"roomIds":[%q]}`, roomID)
	default:
		msg = nats.NewMsg(events.SubjectCreate)
		msg.Data = []byte(`{"roomName":"bench room"}`)
	}
	return msg
}
