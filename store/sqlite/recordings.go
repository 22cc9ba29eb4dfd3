package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/roomkeeper/roomkeeper/store"
)

// recordingsSchema is the recordings table (store.RecordingStore), created
// with the rest of the schema (its statements are idempotent, so a file of
// an older version gets it when it migrates).
// TODO(integration): fold into schema and schemaVersion's list.
var recordingsSchema = []string{
	`CREATE TABLE IF NOT EXISTS recordings (
		egress_id  TEXT    NOT NULL PRIMARY KEY,
		room_id    TEXT    NOT NULL,
		room_name  TEXT    NOT NULL DEFAULT '',
		status     TEXT    NOT NULL,
		filename   TEXT    NOT NULL DEFAULT '',
		start_date INTEGER NOT NULL DEFAULT 0, -- epoch ms
		end_date   INTEGER NOT NULL DEFAULT 0, -- epoch ms
		duration   REAL    NOT NULL DEFAULT 0, -- seconds
		size       INTEGER NOT NULL DEFAULT 0, -- bytes
		error      TEXT    NOT NULL DEFAULT '',
		details    TEXT    NOT NULL DEFAULT '',
		updated_at INTEGER NOT NULL,           -- egress update time, epoch ns
		rank       INTEGER NOT NULL            -- store.RecordingRank(status)
	) WITHOUT ROWID`,
	// RoomRecordings: a room's recordings in egress ID order.
	`CREATE INDEX IF NOT EXISTS recordings_room ON recordings (room_id, egress_id)`,
}

func init() { schema = append(schema, recordingsSchema...) }

const recordingCols = `egress_id, room_id, room_name, status, filename, start_date, end_date,
	duration, size, error, details, updated_at, rank`

// qPutRecording inserts a recording, or replaces the stored one when the
// new state is later in (updated_at, rank) order: an older state arriving
// late changes nothing. Only constants are joined.
//
//nolint:gosec // G202: the columns and placeholders are constants
var qPutRecording = `INSERT INTO recordings (` + recordingCols + `) VALUES (` + placeholders(13) + `)
	ON CONFLICT (egress_id) DO UPDATE SET ` + upsertSet(recordingCols) + `
	WHERE (excluded.updated_at, excluded.rank) > (recordings.updated_at, recordings.rank)`

// upsertSet is "c = excluded.c, ..." for the columns after the first.
func upsertSet(cols string) string {
	var parts []string
	for i, c := range strings.Split(cols, ",") {
		if i == 0 {
			continue
		}
		c = strings.TrimSpace(c)
		parts = append(parts, c+" = excluded."+c)
	}
	return strings.Join(parts, ", ")
}

// PutRecording inserts rec or replaces an older state of its egress.
func (s *Store) PutRecording(ctx context.Context, rec *store.Recording) (bool, error) {
	const op = "put recording"
	if err := s.check(op); err != nil {
		return false, err
	}
	rec.Rank = store.RecordingRank(rec.Status)
	stmt, err := s.writer.PrepareContext(ctx, qPutRecording)
	if err != nil {
		return false, s.wrap(op, err)
	}
	defer stmt.Close()
	args := []any{rec.EgressID, rec.RoomID, rec.RoomName, rec.Status, rec.Filename, rec.StartDate, rec.EndDate,
		rec.Duration, rec.Size, rec.Error, rec.Details, rec.UpdatedAt, rec.Rank}
	var stored bool
	err = s.write(ctx, op, func(ctx context.Context, tx binder) error {
		res, err := tx(ctx, stmt).ExecContext(ctx, args...)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		stored = n > 0
		return err
	})
	return stored, err
}

// GetRecording reads the recording of an egress.
func (s *Store) GetRecording(ctx context.Context, egressID string) (*store.Recording, error) {
	const op = "get recording"
	if err := s.check(op); err != nil {
		return nil, err
	}
	rows, err := s.reader.QueryContext(ctx, `SELECT `+recordingCols+` FROM recordings WHERE egress_id = ?`, egressID)
	if err != nil {
		return nil, s.wrap(op, err)
	}
	recs, err := scanRecordings(rows)
	if err != nil {
		return nil, s.wrap(op, err)
	}
	if len(recs) == 0 {
		return nil, fmt.Errorf("sqlite: %s %s: %w", op, egressID, store.ErrNotFound)
	}
	return &recs[0], nil
}

// RoomRecordings returns up to limit recordings of a room.
func (s *Store) RoomRecordings(ctx context.Context, roomID string, limit int) ([]store.Recording, error) {
	const op = "room recordings"
	if err := s.check(op); err != nil {
		return nil, err
	}
	rows, err := s.reader.QueryContext(ctx,
		`SELECT `+recordingCols+` FROM recordings WHERE room_id = ? ORDER BY egress_id LIMIT ?`, roomID, sqlLimit(limit))
	if err != nil {
		return nil, s.wrap(op, err)
	}
	recs, err := scanRecordings(rows)
	if err != nil {
		return nil, s.wrap(op, err)
	}
	return recs, nil
}

// DeleteRecordings deletes the recordings of these egresses.
func (s *Store) DeleteRecordings(ctx context.Context, egressIDs []string) error {
	const op = "delete recordings"
	if err := s.check(op); err != nil {
		return err
	}
	if len(egressIDs) == 0 {
		return nil
	}
	args := make([]any, len(egressIDs))
	for i, id := range egressIDs {
		args[i] = id
	}
	stmt, err := s.writer.PrepareContext(ctx, `DELETE FROM recordings WHERE egress_id IN (`+placeholders(len(args))+`)`) //nolint:gosec // G202: only placeholders are joined; the IDs are arguments
	if err != nil {
		return s.wrap(op, err)
	}
	defer stmt.Close()
	return s.write(ctx, op, func(ctx context.Context, tx binder) error {
		_, err := tx(ctx, stmt).ExecContext(ctx, args...)
		return err
	})
}

func scanRecordings(rows *sql.Rows) ([]store.Recording, error) {
	defer rows.Close()
	var out []store.Recording
	for rows.Next() {
		var r store.Recording
		if err := rows.Scan(&r.EgressID, &r.RoomID, &r.RoomName, &r.Status, &r.Filename, &r.StartDate, &r.EndDate,
			&r.Duration, &r.Size, &r.Error, &r.Details, &r.UpdatedAt, &r.Rank); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, errors.Join(rows.Err(), rows.Close())
}
