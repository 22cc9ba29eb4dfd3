package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/roomkeeper/roomkeeper/store"
)

const commandCols = `id, type, status, plan, result, outbox, created_at, updated_at, published, rooms, cause`

// qRoomHistory is a page of RoomHistory: the entries of room ?1 after
// (?2, ?3) in (at, command_id) order, at most ?4, each with its record.
// It walks the primary key of command_history from the room's first entry
// after the cursor and reads each record by its ID.
const qRoomHistory = `SELECT c.id, c.type, c.status, c.plan, c.result, c.outbox, c.created_at, c.updated_at, c.published, c.rooms, c.cause
	FROM ` + tableHistory + ` AS h JOIN commands AS c ON c.id = h.command_id
	WHERE h.room_id = ?1 AND (h.at > ?2 OR (h.at = ?2 AND h.command_id > ?3))
	ORDER BY h.at, h.command_id LIMIT ?4`

// qHistoryLast is the time of room ?1's last history entry: one seek of
// command_history's primary key.
const qHistoryLast = `SELECT at FROM ` + tableHistory + ` WHERE room_id = ?1 ORDER BY at DESC LIMIT 1`

// qPruneCommands deletes the records of status ?3 (done, then dead: two
// runs) with updated_at before ?1, at most ?2, oldest first. INDEXED BY makes SQLite fail the statement (at
// Open, when it is prepared) rather than scan the whole ledger, should the
// index ever stop matching the query.
const qPruneCommands = `DELETE FROM commands WHERE rowid IN (
	SELECT rowid FROM commands INDEXED BY ` + indexPrune + `
	WHERE status = ?3 AND updated_at < ?1
	ORDER BY updated_at LIMIT ?2)`

func scanCommand(row scanner) (*store.Command, error) {
	var (
		c                    store.Command
		plan, result, outbox []byte
		created, updated     int64
		rooms                sql.NullString
	)
	if err := row.Scan(&c.ID, &c.Type, &c.Status, &plan, &result, &outbox, &created, &updated, &c.Published, &rooms, &c.Cause); err != nil {
		return nil, err
	}
	if rooms.Valid && rooms.String != "" {
		if err := json.Unmarshal([]byte(rooms.String), &c.Rooms); err != nil {
			return nil, fmt.Errorf("command %s: rooms: %w", c.ID, err)
		}
	}
	c.CreatedAt = time.UnixMilli(created).UTC()
	c.UpdatedAt = time.UnixMilli(updated).UTC()
	if len(plan) > 0 {
		c.Plan = plan
	}
	if len(result) > 0 {
		c.Result = result
	}
	if len(outbox) > 0 {
		var err error
		if c.Outbox, err = decodeOutbox(outbox, result); err != nil {
			return nil, fmt.Errorf("command %s: outbox: %w", c.ID, err)
		}
	}
	return &c, nil
}

// jsonText is a JSON document as a TEXT value, NULL when empty.
func jsonText(b json.RawMessage) any {
	if len(b) == 0 {
		return nil
	}
	return string(b)
}

// ClaimCommand inserts c as a pending ledger record (CreatedAt and UpdatedAt
// default to now) and returns it. When a record with that ID exists, it
// returns the existing record and store.ErrDuplicate.
func (s *Store) ClaimCommand(ctx context.Context, c *store.Command) (*store.Command, error) {
	const op = "claim command"
	if err := s.check(op); err != nil {
		return nil, err
	}
	now := time.Now()
	rec := store.Command{
		ID: c.ID, Type: c.Type, Status: store.StatusPending, Plan: c.Plan,
		CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt,
	}
	if rec.CreatedAt.IsZero() {
		rec.CreatedAt = now
	}
	if rec.UpdatedAt.IsZero() {
		rec.UpdatedAt = rec.CreatedAt
	}
	var existing *store.Command
	err := s.write(ctx, op, func(ctx context.Context, tx binder) error {
		existing = nil
		res, err := tx(ctx, s.wClaim).ExecContext(ctx, rec.ID, rec.Type, jsonText(rec.Plan),
			rec.CreatedAt.UnixMilli(), rec.UpdatedAt.UnixMilli())
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 1 {
			return err
		}
		existing, err = scanCommand(tx(ctx, s.wGetCommand).QueryRowContext(ctx, rec.ID))
		if err != nil {
			return err
		}
		return fmt.Errorf("sqlite: %s %s: %w", op, c.ID, store.ErrDuplicate)
	})
	if errors.Is(err, store.ErrDuplicate) {
		return existing, err
	}
	if err != nil {
		return nil, err
	}
	rec.CreatedAt = time.UnixMilli(rec.CreatedAt.UnixMilli()).UTC()
	rec.UpdatedAt = time.UnixMilli(rec.UpdatedAt.UnixMilli()).UTC()
	return &rec, nil
}

// GetCommand reads a ledger record; store.ErrNotFound when there is none.
func (s *Store) GetCommand(ctx context.Context, id string) (*store.Command, error) {
	const op = "get command"
	if err := s.check(op); err != nil {
		return nil, err
	}
	c, err := scanCommand(s.rGetCommand.QueryRowContext(ctx, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlite: %s %s: %w", op, id, store.ErrNotFound)
	}
	if err != nil {
		return nil, s.wrap(op, err)
	}
	return c, nil
}

// SetCommandPlan stores plan on the pending record id unless it already has
// one, and returns the plan the record holds afterwards (the first one
// stored wins). store.ErrNotFound when there is no record id.
func (s *Store) SetCommandPlan(ctx context.Context, id string, plan json.RawMessage) (json.RawMessage, error) {
	const op = "set command plan"
	if err := s.check(op); err != nil {
		return nil, err
	}
	var held []byte
	err := s.write(ctx, op, func(ctx context.Context, tx binder) error {
		err := tx(ctx, s.wSetPlan).QueryRowContext(ctx, jsonText(plan), time.Now().UnixMilli(), id).Scan(&held)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("sqlite: %s %s: %w", op, id, store.ErrNotFound)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if len(held) == 0 {
		return nil, nil
	}
	return held, nil
}

// CompleteCommand finishes pending record id with c and applies c.Writes
// in the same transaction, and returns the record. A record already
// finished keeps its first completion, and the writes are not applied.
// store.ErrNotFound when there is no record id.
func (s *Store) CompleteCommand(ctx context.Context, id string, c store.Completion) (*store.Command, error) {
	const op = "complete command"
	if err := s.check(op); err != nil {
		return nil, err
	}
	if c.Status != store.StatusDone && c.Status != store.StatusDead {
		return nil, fmt.Errorf("sqlite: %s %s: %w: status %q", op, id, store.ErrInvalid, c.Status)
	}
	ob := encodeOutbox(c.Outbox, c.Result)
	apply, err := s.prepareWrites(c.Writes)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %s %s: %w", op, id, err)
	}
	var rooms any
	if len(c.Rooms) > 0 {
		b, err := json.Marshal(c.Rooms)
		if err != nil {
			return nil, fmt.Errorf("sqlite: %s %s: rooms: %w", op, id, err)
		}
		rooms = string(b)
	}
	var rec *store.Command
	err = s.write(ctx, op, func(ctx context.Context, tx binder) error {
		now := time.Now().UnixMilli()
		// A room's history is in completion order, also for records
		// completed in the same millisecond (ties in the page order go
		// by command ID): a completion takes a time after the last entry
		// of each of its rooms (the writer completes one record at a
		// time), a millisecond past the clock when it must.
		for _, room := range c.Rooms {
			var last int64
			switch err := tx(ctx, s.wHistoryLast).QueryRowContext(ctx, room).Scan(&last); {
			case err == nil:
				now = max(now, last+1)
			case !errors.Is(err, sql.ErrNoRows):
				return err
			}
		}
		var (
			typ     string
			plan    []byte
			created int64
		)
		err := tx(ctx, s.wComplete).QueryRowContext(ctx, jsonText(c.Result), ob, now, id, c.Status, rooms, c.Cause).Scan(&typ, &plan, &created)
		if err == nil {
			rec = &store.Command{
				ID: id, Type: typ, Status: c.Status, Result: c.Result, Outbox: c.Outbox,
				CreatedAt: time.UnixMilli(created).UTC(), UpdatedAt: time.UnixMilli(now).UTC(),
				Rooms: c.Rooms, Cause: c.Cause,
			}
			if len(plan) > 0 {
				rec.Plan = plan
			}
			for _, room := range c.Rooms {
				if _, err := tx(ctx, s.wHistoryAdd).ExecContext(ctx, room, now, id); err != nil {
					return err
				}
			}
			// This call completes the record: its writes go in with it.
			return apply(ctx, tx)
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		// Already finished (or no such record): the stored record wins.
		rec, err = scanCommand(tx(ctx, s.wGetCommand).QueryRowContext(ctx, id))
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("sqlite: %s %s: %w", op, id, store.ErrNotFound)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return rec, nil
}

// MarkPublished records that the outbox of record id is stored by JetStream.
func (s *Store) MarkPublished(ctx context.Context, id string) error {
	const op = "mark published"
	if err := s.check(op); err != nil {
		return err
	}
	return s.write(ctx, op, func(ctx context.Context, tx binder) error {
		_, err := tx(ctx, s.wPublished).ExecContext(ctx, id)
		return err
	})
}

// prepareWrites encodes writes outside the writer and returns what applies
// them in a write's transaction, each idempotently.
func (s *Store) prepareWrites(writes []store.Write) (func(ctx context.Context, tx binder) error, error) {
	steps := make([]func(ctx context.Context, tx binder) error, 0, len(writes))
	for _, w := range writes {
		id := w.RoomID()
		switch w.Op() {
		case store.WriteInsertRoom:
			args, err := roomArgs(w.Room(), w.Room().Version)
			if err != nil {
				return nil, fmt.Errorf("room %s: %w", id, err)
			}
			steps = append(steps, func(ctx context.Context, tx binder) error {
				if err := s.insertRoom(ctx, tx, id, args); !errors.Is(err, store.ErrDuplicate) {
					return err
				}
				return nil
			})
		case store.WriteDeleteRoom:
			steps = append(steps, func(ctx context.Context, tx binder) error {
				if err := s.deleteRoom(ctx, tx, id); !errors.Is(err, store.ErrNotFound) {
					return err
				}
				return nil
			})
		case store.WritePutArchived:
			args := archivedArgs(w.Archived())
			steps = append(steps, func(ctx context.Context, tx binder) error {
				_, err := tx(ctx, s.wPutArchived).ExecContext(ctx, args...)
				return err
			})
		}
	}
	return func(ctx context.Context, tx binder) error {
		for _, step := range steps {
			if err := step(ctx, tx); err != nil {
				return err
			}
		}
		return nil
	}, nil
}

// PruneCommands deletes up to limit finished ledger records whose UpdatedAt
// is before before, oldest first (the done ones, then the dead ones), in one statement through the writer, and
// returns how many it deleted. Pending records are never deleted.
func (s *Store) PruneCommands(ctx context.Context, before time.Time, limit int) (int64, error) {
	const op = "prune commands"
	if err := s.check(op); err != nil {
		return 0, err
	}
	if limit <= 0 {
		return 0, nil
	}
	cutoff := ceilMilli(before)
	var n int64
	err := s.write(ctx, op, func(ctx context.Context, tx binder) error {
		n = 0
		for _, status := range []string{store.StatusDone, store.StatusDead} {
			if n >= int64(limit) {
				break
			}
			res, err := tx(ctx, s.wPrune).ExecContext(ctx, cutoff, int64(limit)-n, status)
			if err != nil {
				return err
			}
			k, err := res.RowsAffected()
			if err != nil {
				return err
			}
			n += k
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

// ceilMilli is t in epoch ms, rounded up: updated_at < ceilMilli(t) holds
// exactly for the stored (whole ms) times before t.
func ceilMilli(t time.Time) int64 {
	ms := t.UnixMilli() // rounded down
	if time.UnixMilli(ms).Before(t) {
		ms++
	}
	return ms
}

// RoomHistory returns up to q.Limit finished records of room q.RoomID's
// history after q.After, in completion order (see store.Store).
func (s *Store) RoomHistory(ctx context.Context, q store.HistoryQuery) ([]store.Command, error) {
	const op = "room history"
	if err := s.check(op); err != nil {
		return nil, err
	}
	if q.Limit < 1 {
		return nil, fmt.Errorf("sqlite: %s: %w: limit %d", op, store.ErrInvalid, q.Limit)
	}
	var after store.HistoryCursor
	if q.After != nil {
		after = *q.After
	} else {
		after.At = -1 << 62
	}
	rows, err := s.rHistory.QueryContext(ctx, q.RoomID, after.At, after.CommandID, q.Limit)
	if err != nil {
		return nil, s.wrap(op, err)
	}
	defer func() { _ = rows.Close() }()
	var out []store.Command
	for rows.Next() {
		c, err := scanCommand(rows)
		if err != nil {
			return nil, s.wrap(op, err)
		}
		out = append(out, *c)
	}
	if err := rows.Err(); err != nil {
		return nil, s.wrap(op, err)
	}
	return out, nil
}
