package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/store"
)

// roomCols are the columns of rooms, in the order of roomArgs and scanRoom.
const (
	roomCols = `id, room_name, creation_date, auto_deletion_date, marked_for_deletion,
		chat_enabled, recording_enabled, recording_access, vbg_enabled,
		moderator_room_url, publisher_room_url, moderator_secret, publisher_secret,
		meeting, version, applied,
		schema_version, owner, auto_deletion_policy, config, roles, access,
		status, roles_updated_at, meeting_end_action, speaker_secret, recording_secret,
		auto_deletion_key, warned_meeting, end_trace`
	roomNCols = 30
	// roomSet assigns every column but id, in the order of roomArgs[1:].
	roomSet = `room_name = ?, creation_date = ?, auto_deletion_date = ?, marked_for_deletion = ?,
		chat_enabled = ?, recording_enabled = ?, recording_access = ?, vbg_enabled = ?,
		moderator_room_url = ?, publisher_room_url = ?, moderator_secret = ?, publisher_secret = ?,
		meeting = ?, version = ?, applied = ?,
		schema_version = ?, owner = ?, auto_deletion_policy = ?, config = ?, roles = ?, access = ?,
		status = ?, roles_updated_at = ?, meeting_end_action = ?, speaker_secret = ?, recording_secret = ?,
		auto_deletion_key = ?, warned_meeting = ?, end_trace = ?`
)

// The queries of ExpiredRooms and MarkedRooms. INDEXED BY makes SQLite fail
// the statement (at Open, when it is prepared) rather than fall back to
// reading every room, should the index ever stop matching the query.
//
// rooms_expiry is on auto_deletion_date of a WITHOUT ROWID table, so its
// entries are ordered by (auto_deletion_date, id), the primary key being
// the tail of every index entry: qExpiredRooms starts at the row value of
// its key and walks the index in that order, with no sort, and stops after
// limit rows.
const (
	qExpiredRooms = `SELECT ` + roomCols + ` FROM rooms INDEXED BY rooms_expiry
		WHERE auto_deletion_date <= ? AND marked_for_deletion = 0
		AND (auto_deletion_date, id) > (?, ?)
		ORDER BY auto_deletion_date, id LIMIT ?`
	qMarkedRooms = `SELECT ` + roomCols + ` FROM rooms INDEXED BY rooms_marked
		WHERE ` + markedCond + ` AND id > ? ORDER BY id LIMIT ?`
)

// roomArgs are r's column values, with version as its version, in the
// current record shape: a room given in an older one is stored upgraded
// (store.UpgradeRoom, on a copy), so that every row this version writes has
// the columns FindRooms filters on.
func roomArgs(r *store.Room, version int64) ([]any, error) {
	if r.SchemaVersion < store.RoomSchemaVersion {
		c := *r
		store.UpgradeRoom(&c)
		r = &c
	}
	applied := "[]"
	if len(r.Applied) > 0 {
		b, err := json.Marshal(r.Applied)
		if err != nil {
			return nil, err
		}
		applied = string(b)
	}
	var date any
	key := store.NullDate
	if r.AutoDeletionDate != nil {
		date = *r.AutoDeletionDate
		key = *r.AutoDeletionDate
	}
	var policy any
	if r.AutoDeletionPolicy != nil {
		b, err := json.Marshal(r.AutoDeletionPolicy)
		if err != nil {
			return nil, err
		}
		policy = string(b)
	}
	var docs [3]string
	for i, v := range []any{&r.Config, &r.Roles, &r.Access} {
		b, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		docs[i] = string(b)
	}
	p := &r.Preferences
	return []any{
		r.RoomID, r.RoomName, r.CreationDate, date, r.MarkedForDeletion,
		p.ChatPreferences.Enabled, p.RecordingPreferences.Enabled, p.RecordingPreferences.AllowAccessTo,
		p.VirtualBackgroundPreferences.Enabled,
		r.ModeratorRoomURL, r.PublisherRoomURL, r.ModeratorSecret, r.PublisherSecret,
		r.Meeting, version, applied,
		r.SchemaVersion, r.Owner, policy, docs[0], docs[1], docs[2],
		r.Status, r.RolesUpdatedAt, r.MeetingEndAction, r.SpeakerSecret, r.RecordingSecret,
		key, r.WarnedMeeting, r.EndTrace,
	}, nil
}

type scanner interface{ Scan(dest ...any) error }

// scanRoom reads a row of roomCols into r, in the current record shape:
// a row of an older shape is upgraded (store.UpgradeRoom).
func scanRoom(row scanner, r *store.Room) error {
	var (
		date                  sql.NullInt64
		applied, policy       []byte
		config, roles, access []byte
		p                     = &r.Preferences
	)
	if err := row.Scan(
		&r.RoomID, &r.RoomName, &r.CreationDate, &date, &r.MarkedForDeletion,
		&p.ChatPreferences.Enabled, &p.RecordingPreferences.Enabled, &p.RecordingPreferences.AllowAccessTo,
		&p.VirtualBackgroundPreferences.Enabled,
		&r.ModeratorRoomURL, &r.PublisherRoomURL, &r.ModeratorSecret, &r.PublisherSecret,
		&r.Meeting, &r.Version, &applied,
		&r.SchemaVersion, &r.Owner, &policy, &config, &roles, &access,
		&r.Status, &r.RolesUpdatedAt, &r.MeetingEndAction, &r.SpeakerSecret, &r.RecordingSecret,
		new(int64), // auto_deletion_key: auto_deletion_date's sort key
		&r.WarnedMeeting, &r.EndTrace,
	); err != nil {
		return err
	}
	r.AutoDeletionPolicy = nil
	if len(policy) > 0 {
		r.AutoDeletionPolicy = new(events.AutoDeletionPolicy)
		if err := json.Unmarshal(policy, r.AutoDeletionPolicy); err != nil {
			return fmt.Errorf("room %s: auto_deletion_policy: %w", r.RoomID, err)
		}
	}
	r.Config, r.Roles, r.Access = events.Config{}, events.Roles{}, events.Access{}
	for _, col := range []struct {
		name string
		text []byte
		dst  any
	}{{"config", config, &r.Config}, {"roles", roles, &r.Roles}, {"access", access, &r.Access}} {
		if err := json.Unmarshal(col.text, col.dst); err != nil {
			return fmt.Errorf("room %s: %s: %w", r.RoomID, col.name, err)
		}
	}
	r.AutoDeletionDate = nil
	if date.Valid {
		r.AutoDeletionDate = &date.Int64
	}
	r.Applied = nil
	if len(applied) > 0 && string(applied) != "[]" {
		if err := json.Unmarshal(applied, &r.Applied); err != nil {
			return fmt.Errorf("room %s: applied: %w", r.RoomID, err)
		}
	}
	store.UpgradeRoom(r)
	return nil
}

// scanRooms runs query stmt with args and scans the rooms it returns.
func scanRooms(ctx context.Context, stmt *sql.Stmt, args ...any) ([]store.Room, error) {
	rows, err := stmt.QueryContext(ctx, args...)
	if err != nil {
		return nil, err
	}
	defer func() { _ = rows.Close() }()
	out := []store.Room{}
	for rows.Next() {
		out = append(out, store.Room{})
		if err := scanRoom(rows, &out[len(out)-1]); err != nil {
			return nil, err
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// InsertRoom inserts a new room; store.ErrDuplicate when its ID exists.
func (s *Store) InsertRoom(ctx context.Context, r *store.Room) error {
	const op = "insert room"
	if err := s.check(op); err != nil {
		return err
	}
	args, err := roomArgs(r, r.Version)
	if err != nil {
		return fmt.Errorf("sqlite: %s %s: %w", op, r.RoomID, err)
	}
	return s.write(ctx, op, func(ctx context.Context, tx binder) error {
		return s.insertRoom(ctx, tx, r.RoomID, args)
	})
}

// insertRoom runs the insert of room id (roomArgs) in the write tx;
// ErrDuplicate when the ID exists.
func (s *Store) insertRoom(ctx context.Context, tx binder, id string, args []any) error {
	return execOneRow(ctx, tx(ctx, s.wInsertRoom), args, func() error {
		return fmt.Errorf("sqlite: insert room %s: %w", id, store.ErrDuplicate)
	})
}

// execOneRow runs stmt with args and returns none() when it changed no
// row.
func execOneRow(ctx context.Context, stmt *sql.Stmt, args []any, none func() error) error {
	res, err := stmt.ExecContext(ctx, args...)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return none()
	}
	return nil
}

// GetRoom reads a room; store.ErrNotFound when there is none.
func (s *Store) GetRoom(ctx context.Context, id string) (*store.Room, error) {
	const op = "get room"
	if err := s.check(op); err != nil {
		return nil, err
	}
	r := new(store.Room)
	err := scanRoom(s.rGetRoom.QueryRowContext(ctx, id), r)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlite: %s %s: %w", op, id, store.ErrNotFound)
	}
	if err != nil {
		return nil, s.wrap(op, err)
	}
	return r, nil
}

// UpdateRoom replaces the room r.RoomID if its version is expectedVersion,
// storing version expectedVersion+1 (set on r too). store.ErrConflict when
// the version differs, store.ErrNotFound when the room is gone.
func (s *Store) UpdateRoom(ctx context.Context, r *store.Room, expectedVersion int64) error {
	const op = "update room"
	if err := s.check(op); err != nil {
		return err
	}
	args, err := roomArgs(r, expectedVersion+1)
	if err != nil {
		return fmt.Errorf("sqlite: %s %s: %w", op, r.RoomID, err)
	}
	args = append(args[1:], r.RoomID, expectedVersion)
	err = s.write(ctx, op, func(ctx context.Context, tx binder) error {
		res, err := tx(ctx, s.wUpdateRoom).ExecContext(ctx, args...)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n == 1 {
			return nil
		}
		var exists bool
		if err := tx(ctx, s.wRoomExists).QueryRowContext(ctx, r.RoomID).Scan(&exists); err != nil {
			return err
		}
		if !exists {
			return fmt.Errorf("sqlite: %s %s: %w", op, r.RoomID, store.ErrNotFound)
		}
		return fmt.Errorf("sqlite: %s %s (version %d): %w", op, r.RoomID, expectedVersion, store.ErrConflict)
	})
	if err != nil {
		return err
	}
	r.Version = expectedVersion + 1
	return nil
}

// DeleteRoom deletes a room; store.ErrNotFound when there is none.
func (s *Store) DeleteRoom(ctx context.Context, id string) error {
	const op = "delete room"
	if err := s.check(op); err != nil {
		return err
	}
	return s.write(ctx, op, func(ctx context.Context, tx binder) error {
		return s.deleteRoom(ctx, tx, id)
	})
}

// deleteRoom runs the delete of room id in the write tx; ErrNotFound when
// there is none.
func (s *Store) deleteRoom(ctx context.Context, tx binder, id string) error {
	return execOneRow(ctx, tx(ctx, s.wDeleteRoom), []any{id}, func() error {
		return fmt.Errorf("sqlite: delete room %s: %w", id, store.ErrNotFound)
	})
}

// ListRooms returns up to limit rooms with an ID greater than after, in
// ascending ID order. A limit of 0 or less means no limit.
func (s *Store) ListRooms(ctx context.Context, after string, limit int) ([]store.Room, error) {
	return s.queryRooms(ctx, "list rooms", s.rListRooms, after, sqlLimit(limit))
}

// ExpiredRooms returns up to limit rooms not marked for deletion whose
// autoDeletionDate is at or before now (epoch ms), after the key after in
// ascending (autoDeletionDate, ID) order, through the index rooms_expiry.
func (s *Store) ExpiredRooms(ctx context.Context, now int64, after store.ExpiryKey, limit int) ([]store.Room, error) {
	date, id := expiryStart(after)
	return s.queryRooms(ctx, "expired rooms", s.rExpired, now, date, id, sqlLimit(limit))
}

// expiryStart is the row value qExpiredRooms starts after: after itself,
// or for the zero key one before every room (IDs are never empty).
func expiryStart(after store.ExpiryKey) (int64, string) {
	if after.RoomID == "" {
		return math.MinInt64, ""
	}
	return after.Date, after.RoomID
}

// MarkedRooms returns up to limit rooms marked for deletion or with an
// active meeting, with an ID greater than after, in ascending ID order,
// through the index rooms_marked.
func (s *Store) MarkedRooms(ctx context.Context, after string, limit int) ([]store.Room, error) {
	return s.queryRooms(ctx, "marked rooms", s.rMarked, after, sqlLimit(limit))
}

// CountRooms counts all rooms.
func (s *Store) CountRooms(ctx context.Context) (int64, error) {
	const op = "count rooms"
	if err := s.check(op); err != nil {
		return 0, err
	}
	var n int64
	if err := s.rCountRooms.QueryRowContext(ctx).Scan(&n); err != nil {
		return 0, s.wrap(op, err)
	}
	return n, nil
}

// sqlLimit maps "no limit" (0 or less) to SQLite's -1.
func sqlLimit(limit int) int {
	if limit <= 0 {
		return -1
	}
	return limit
}

func (s *Store) queryRooms(ctx context.Context, op string, stmt *sql.Stmt, args ...any) ([]store.Room, error) {
	if err := s.check(op); err != nil {
		return nil, err
	}
	out, err := scanRooms(ctx, stmt, args...)
	if err != nil {
		return nil, s.wrap(op, err)
	}
	return out, nil
}
