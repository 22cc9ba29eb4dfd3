package rooms

import (
	"context"
	"errors"
	"reflect"
	"time"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/handler"
	"github.com/roomkeeper/roomkeeper/store"
)

// updateHandler applies rooms.cmd.update_preferences, the old model's
// command, kept for the services that send it (deprecated: use
// rooms.cmd.update_config and update_roles). The complete preferences of
// the command replace the room's and set what they govern in the new
// model (store.ApplyPreferences): chat, recording and virtual backgrounds
// in the config, who sees recordings in the roles. Unlike update_config it
// is not refused during a meeting, as before.
//
// Its effects, each safe to re-run after a crash:
//
//  1. the room record, by compare-and-set on its version with the command
//     ID recorded in the same write (Rooms.updateRoom): a concurrent mark
//     is kept (the loser of the race re-reads and re-applies its own
//     change), a concurrent delete is never undone (the update fails with
//     not_found instead), and a re-run finds its own ID and writes nothing;
//  2. the archived room metadata (refreshArchive), converging on the
//     room's latest state;
//  3. the participant signal, at least once and never failing the command.
//
// Result and preferences_updated event carry the room as stored (the new
// model's room).
type updateHandler struct{ *Rooms }

func (h updateHandler) Validate(c events.UpdatePreferences, _ time.Time) error {
	if SanitizeRoomID(c.RoomID) == "" {
		return events.Invalid("no valid room ID", events.FieldError{Field: "roomId", Message: "must hold letters, digits, '-' or '_'"})
	}
	return nil
}

func (h updateHandler) Handle(ctx context.Context, job *handler.Job[events.UpdatePreferences]) (*handler.Outcome, error) {
	id := SanitizeRoomID(job.Msg.RoomID)
	prefs := job.Msg.Preferences
	job.Log = job.Log.WithField("room_id", id)
	room, err := h.updateRoom(ctx, id, job.ID, func(r *store.Room) bool {
		cfg, roles := r.Config, r.Roles
		store.ApplyPreferences(&cfg, &roles, prefs)
		if r.Preferences == prefs && reflect.DeepEqual(cfg, r.Config) && roles == r.Roles {
			return false // nothing to write
		}
		r.Preferences, r.Config = prefs, cfg
		if roles != r.Roles {
			r.Roles, r.RolesUpdatedAt = roles, job.Now.UnixMilli()
		}
		return true
	})
	if errors.Is(err, errGone) {
		return nil, events.Errorf(events.CodeNotFound, "no such room: %s", id)
	}
	if err != nil {
		return nil, err
	}
	if err := h.refreshArchive(ctx, room); err != nil {
		return nil, err
	}
	h.signalPreferences(ctx, job.Log, room)
	view := room.View()
	out := &handler.Outcome{Data: view}
	if err := out.Event(job.ID, events.EventPreferencesUpdated, room.RoomID, job.Now, view); err != nil {
		return nil, err
	}
	job.Log.Info("room preferences updated")
	return out, nil
}

// refreshArchive brings the archived metadata of room (kept for its
// recordings) up to date with room: it replaces the archived record when
// there is one, and writes one when there is none but recording is enabled.
// The latter is a choice: this system archives at creation when recording
// is enabled (standing in for OpenVidu Meet's write at egress start), so a
// room whose recording gets enabled later is archived now, or its
// recording tokens would fail with not_found. A room with recording
// disabled and no archive gets none.
//
// The archive is written without a version check, so two updates racing
// could leave the older snapshot last. Each writer therefore reads the room
// again after its write and writes again while the room's archived fields
// differ from what it wrote: the last write then always matches the
// room's latest state (or its last one, once deleted).
func (r *Rooms) refreshArchive(ctx context.Context, room *store.Room) error {
	for {
		want := archive(room)
		have, err := r.Store.GetArchivedRoom(ctx, room.RoomID)
		switch {
		case errors.Is(err, store.ErrNotFound):
			if !room.Preferences.RecordingPreferences.Enabled {
				return nil
			}
		case err != nil:
			return err
		case *have == *want:
			return nil // already current (a re-run, or a racing update wrote it)
		}
		if err := r.Store.PutArchivedRoom(ctx, want); err != nil {
			return err
		}
		latest, err := r.Store.GetRoom(ctx, room.RoomID)
		if errors.Is(err, store.ErrNotFound) {
			return nil // deleted meanwhile: the archive keeps its last state
		}
		if err != nil {
			return err
		}
		if *archive(latest) == *want {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		room = latest
	}
}
