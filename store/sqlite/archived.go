package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/roomkeeper/roomkeeper/store"
)

const (
	archivedCols = `id, room_name, chat_enabled, recording_enabled, recording_access, vbg_enabled,
		moderator_room_url, publisher_room_url, moderator_secret, publisher_secret`
	archivedNCols  = 10
	archivedUpsert = `room_name = excluded.room_name, chat_enabled = excluded.chat_enabled,
		recording_enabled = excluded.recording_enabled, recording_access = excluded.recording_access,
		vbg_enabled = excluded.vbg_enabled, moderator_room_url = excluded.moderator_room_url,
		publisher_room_url = excluded.publisher_room_url, moderator_secret = excluded.moderator_secret,
		publisher_secret = excluded.publisher_secret`
)

// PutArchivedRoom inserts or replaces the archived metadata of a room.
func (s *Store) PutArchivedRoom(ctx context.Context, a *store.ArchivedRoom) error {
	const op = "put archived room"
	if err := s.check(op); err != nil {
		return err
	}
	args := archivedArgs(a)
	return s.write(ctx, op, func(ctx context.Context, tx binder) error {
		_, err := tx(ctx, s.wPutArchived).ExecContext(ctx, args...)
		return err
	})
}

// archivedArgs are the arguments of wPutArchived.
func archivedArgs(a *store.ArchivedRoom) []any {
	p := &a.Preferences
	return []any{a.RoomID, a.RoomName, p.ChatPreferences.Enabled, p.RecordingPreferences.Enabled,
		p.RecordingPreferences.AllowAccessTo, p.VirtualBackgroundPreferences.Enabled,
		a.ModeratorRoomURL, a.PublisherRoomURL, a.ModeratorSecret, a.PublisherSecret}
}

// GetArchivedRoom reads archived metadata; store.ErrNotFound when there is
// none.
func (s *Store) GetArchivedRoom(ctx context.Context, id string) (*store.ArchivedRoom, error) {
	const op = "get archived room"
	if err := s.check(op); err != nil {
		return nil, err
	}
	var a store.ArchivedRoom
	p := &a.Preferences
	err := s.rGetArchived.QueryRowContext(ctx, id).Scan(
		&a.RoomID, &a.RoomName, &p.ChatPreferences.Enabled, &p.RecordingPreferences.Enabled,
		&p.RecordingPreferences.AllowAccessTo, &p.VirtualBackgroundPreferences.Enabled,
		&a.ModeratorRoomURL, &a.PublisherRoomURL, &a.ModeratorSecret, &a.PublisherSecret)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlite: %s %s: %w", op, id, store.ErrNotFound)
	}
	if err != nil {
		return nil, s.wrap(op, err)
	}
	return &a, nil
}
