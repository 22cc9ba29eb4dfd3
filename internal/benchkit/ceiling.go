package benchkit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/store"
)

// The store writes of one command, as the worker's handlers do them, without
// NATS. They are the raw ceiling a command's end-to-end rate is compared
// with (workers/bench_test.go and `roomctl bench --ceiling` share them).
// Keep them in step with the handlers when those change their writes.

var benchPlan = json.RawMessage(`{"suffix":"abcdefghijklmno","moderatorSecret":"X","publisherSecret":"Y","creationDate":1}`)

// CreateWrites does a create's store writes: claim (with its plan), then
// complete with the result and its outbox, the room and its archive going
// in with the completion.
func CreateWrites(ctx context.Context, st store.Store, cmdID, roomID string) error {
	if _, err := st.ClaimCommand(ctx, &store.Command{ID: cmdID, Type: events.SubjectCreate, Status: store.StatusPending, Plan: benchPlan}); err != nil {
		return fmt.Errorf("claim: %w", err)
	}
	room := &store.Room{RoomID: roomID, RoomName: "bench room", CreationDate: time.Now().UnixMilli(), Preferences: events.DefaultPreferences(), Applied: []string{cmdID}}
	return complete(ctx, st, cmdID, roomID, room, store.InsertRoom(room),
		store.PutArchived(&store.ArchivedRoom{RoomID: room.RoomID, RoomName: room.RoomName, Preferences: room.Preferences}))
}

// UpdateWrites does an update_preferences' store writes: claim, read the
// room, compare-and-set it, refresh the archive, complete.
func UpdateWrites(ctx context.Context, st store.Store, cmdID, roomID string) error {
	if _, err := st.ClaimCommand(ctx, &store.Command{ID: cmdID, Type: events.SubjectUpdatePreferences, Status: store.StatusPending}); err != nil {
		return fmt.Errorf("claim: %w", err)
	}
	room, err := st.GetRoom(ctx, roomID)
	if err != nil {
		return fmt.Errorf("get room: %w", err)
	}
	room.Preferences.ChatPreferences.Enabled = !room.Preferences.ChatPreferences.Enabled
	room.MarkApplied(cmdID)
	if err := st.UpdateRoom(ctx, room, room.Version); err != nil {
		return fmt.Errorf("update room: %w", err)
	}
	if err := st.PutArchivedRoom(ctx, &store.ArchivedRoom{RoomID: room.RoomID, RoomName: room.RoomName, Preferences: room.Preferences}); err != nil {
		return fmt.Errorf("archive room: %w", err)
	}
	return complete(ctx, st, cmdID, roomID, room)
}

// DeleteWrites does a delete's store writes for one room: read the room
// (the plan, made before the claim), claim with the plan, complete with the
// room's deletion.
func DeleteWrites(ctx context.Context, st store.Store, cmdID, roomID string) error {
	if _, err := st.GetRoom(ctx, roomID); err != nil {
		return fmt.Errorf("get room: %w", err)
	}
	plan, _ := json.Marshal(map[string][]string{"delete": {roomID}, "mark": {}})
	if _, err := st.ClaimCommand(ctx, &store.Command{ID: cmdID, Type: events.SubjectDelete, Status: store.StatusPending, Plan: plan}); err != nil {
		return fmt.Errorf("claim: %w", err)
	}
	return complete(ctx, st, cmdID, roomID, events.DeleteResult{Deleted: []events.DeletedRoom{{RoomID: roomID, SuccessCode: events.DeleteSuccessRoomDeleted}}, Failed: []events.FailedRoom{}}, store.DeleteRoom(roomID))
}

// complete finishes command cmdID about roomID (in its history, as the
// worker records it) with data as its result and writes.
func complete(ctx context.Context, st store.Store, cmdID, roomID string, data any, writes ...store.Write) error {
	raw, err := json.Marshal(data)
	if err != nil {
		return err
	}
	if _, err := st.CompleteCommand(ctx, cmdID, store.Completion{Status: store.StatusDone, Result: raw, Outbox: []store.OutMsg{{Subject: events.ResultSubject(cmdID), MsgID: "result:" + cmdID, Data: raw}}, Writes: writes, Rooms: []string{roomID}}); err != nil {
		return fmt.Errorf("complete: %w", err)
	}
	return nil
}

// CeilingConfig configures [Ceiling].
type CeilingConfig struct {
	// N commands, Concurrency at a time (default 32).
	N           int
	Concurrency int
	// Mix of commands (default CreateOnly).
	Mix Mix
	// Prefix of the command and room IDs; give each run its own (default
	// "ceiling-<unix nanos>").
	Prefix string
}

// Ceiling applies cfg.N commands' store writes directly to st,
// cfg.Concurrency at a time, and reports their rate and the latency of one
// command's writes. A failed write counts as an "internal" error.
func Ceiling(ctx context.Context, st store.Store, cfg CeilingConfig) (*Report, error) {
	if cfg.N < 1 {
		return nil, errors.New("ceiling: N must be at least 1")
	}
	if cfg.Concurrency < 1 {
		cfg.Concurrency = 32
	}
	if cfg.Prefix == "" {
		cfg.Prefix = fmt.Sprintf("ceiling-%d", time.Now().UnixNano())
	}
	rec := newRecorder()
	pick := newPicker(cfg.Mix)
	var (
		mu   sync.Mutex
		pool roomPool
		next atomic.Int64
		wg   sync.WaitGroup
		// first is the first failed write, returned when none succeeded.
		first   error
		firstMu sync.Mutex
	)
	start := time.Now()
	for range cfg.Concurrency {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := next.Add(1)
				if i > int64(cfg.N) {
					return
				}
				cmdID := fmt.Sprintf("%s-%d", cfg.Prefix, i)
				mu.Lock()
				op, roomID := nextOp(pick, &pool)
				mu.Unlock()
				if op == OpCreate {
					roomID = fmt.Sprintf("%s-room-%d", cfg.Prefix, i)
				}
				rec.sent(op)
				t0 := time.Now()
				var err error
				switch op {
				case OpCreate:
					err = CreateWrites(ctx, st, cmdID, roomID)
				case OpUpdate:
					err = UpdateWrites(ctx, st, cmdID, roomID)
				case OpDelete:
					err = DeleteWrites(ctx, st, cmdID, roomID)
				}
				if err != nil {
					firstMu.Lock()
					if first == nil {
						first = fmt.Errorf("%s %s: %w", op, cmdID, err)
					}
					firstMu.Unlock()
					rec.done(time.Since(t0), events.CodeInternal)
					continue
				}
				rec.done(time.Since(t0), "")
				if op != OpDelete {
					mu.Lock()
					pool.put(roomID)
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	rep := &Report{Elapsed: time.Since(start)}
	rec.report(rep)
	if first != nil && rep.OK == 0 {
		return rep, first
	}
	return rep, ctx.Err()
}
