package storetest

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/roomkeeper/roomkeeper/store"
)

// This file holds the cases of "writes take effect only with the completion
// that wins": a completion's room writes are applied if and only if that
// completion finishes the ledger record.

// roomGone fails t unless room id is absent.
func roomGone(t *testing.T, s store.Store, id string, msgAndArgs ...any) {
	t.Helper()
	_, err := s.GetRoom(t.Context(), id)
	require.ErrorIs(t, err, store.ErrNotFound, msgAndArgs...)
}

// archiveGone fails t unless there is no archived metadata for room id.
func archiveGone(t *testing.T, s store.Store, id string, msgAndArgs ...any) {
	t.Helper()
	_, err := s.GetArchivedRoom(t.Context(), id)
	require.ErrorIs(t, err, store.ErrNotFound, msgAndArgs...)
}

// archiveOf is the archived metadata a create stores for r, marked with tag
// (in RoomName) so that two versions can be told apart.
func archiveOf(r *store.Room, tag string) *store.ArchivedRoom {
	return &store.ArchivedRoom{
		RoomID:           r.RoomID,
		RoomName:         r.RoomName + " " + tag,
		Preferences:      r.Preferences,
		ModeratorRoomURL: r.ModeratorRoomURL,
		PublisherRoomURL: r.PublisherRoomURL,
		ModeratorSecret:  r.ModeratorSecret,
		PublisherSecret:  r.PublisherSecret,
	}
}

// testCompleteCommandDoneAppliesNothing: a completion of a record already
// finished (a second delivery, a late repeat) applies none of its writes:
// no insert, no delete, no archive put; the record keeps its first
// completion.
func testCompleteCommandDoneAppliesNothing(t *testing.T, s store.Store) {
	ctx := t.Context()
	keep := NewRoom("Keep-bbbbbbbbbbbbbbb")
	insertRooms(t, s, keep)
	keepArch := archiveOf(keep, "first")
	require.NoError(t, s.PutArchivedRoom(ctx, keepArch))

	for _, status := range []string{store.StatusDone, store.StatusDead} {
		id := "finished-" + status
		_, err := s.ClaimCommand(ctx, &store.Command{ID: id, Type: "rooms.cmd.create"})
		require.NoError(t, err)
		first := json.RawMessage(`{"first":true}`)
		_, err = s.CompleteCommand(ctx, id, store.Completion{Status: status, Result: first})
		require.NoError(t, err)

		fresh := NewRoom("Fresh-" + status + "-bbbbbbbbb")
		again, err := s.CompleteCommand(ctx, id, store.Completion{
			Status: store.StatusDone,
			Result: json.RawMessage(`{"second":true}`),
			Writes: []store.Write{
				store.InsertRoom(fresh),
				store.DeleteRoom(keep.RoomID),
				store.PutArchived(archiveOf(keep, "second")),
				store.PutArchived(archiveOf(fresh, "second")),
			},
		})
		require.NoError(t, err, "a repeat of a finished completion is no error")
		require.Equal(t, status, again.Status, "the first completion stays")
		require.JSONEq(t, string(first), string(again.Result))

		roomGone(t, s, fresh.RoomID, "%s record: the repeat's insert is not applied", status)
		got, err := s.GetRoom(ctx, keep.RoomID)
		require.NoError(t, err, "%s record: the repeat's delete is not applied", status)
		RequireRoomEqual(t, keep, got)
		gotArch, err := s.GetArchivedRoom(ctx, keep.RoomID)
		require.NoError(t, err)
		require.Equal(t, keepArch, gotArch, "%s record: the repeat's archive put is not applied", status)
		archiveGone(t, s, fresh.RoomID, "%s record: the repeat's archive put is not applied", status)
	}
	n, err := s.CountRooms(ctx)
	require.NoError(t, err)
	require.EqualValues(t, 1, n)
}

// testCompleteCommandFailedAppliesNothing: a completion that fails leaves no
// writes: one for a record that does not exist (never claimed, or pruned)
// fails with ErrNotFound, one with an invalid status with ErrInvalid, and
// neither inserts, deletes nor archives anything.
func testCompleteCommandFailedAppliesNothing(t *testing.T, s store.Store) {
	ctx := t.Context()
	keep := NewRoom("Keep-ccccccccccccccc")
	insertRooms(t, s, keep)
	fresh := NewRoom("Fresh-ccccccccccccccc")
	writes := []store.Write{
		store.InsertRoom(fresh),
		store.DeleteRoom(keep.RoomID),
		store.PutArchived(archiveOf(fresh, "x")),
	}
	check := func(what string) {
		t.Helper()
		roomGone(t, s, fresh.RoomID, "%s: the insert is not applied", what)
		archiveGone(t, s, fresh.RoomID, "%s: the archive put is not applied", what)
		got, err := s.GetRoom(ctx, keep.RoomID)
		require.NoError(t, err, "%s: the delete is not applied", what)
		RequireRoomEqual(t, keep, got)
	}

	_, err := s.CompleteCommand(ctx, "never-claimed", store.Completion{Status: store.StatusDone, Result: json.RawMessage(`{}`), Writes: writes})
	require.ErrorIs(t, err, store.ErrNotFound)
	check("no record")
	_, err = s.GetCommand(ctx, "never-claimed")
	require.ErrorIs(t, err, store.ErrNotFound, "a failed completion creates no record")

	_, err = s.ClaimCommand(ctx, &store.Command{ID: "bad-status", Type: "rooms.cmd.create"})
	require.NoError(t, err)
	_, err = s.CompleteCommand(ctx, "bad-status", store.Completion{Status: store.StatusPending, Result: json.RawMessage(`{}`), Writes: writes})
	require.ErrorIs(t, err, store.ErrInvalid)
	check("invalid status")
	c, err := s.GetCommand(ctx, "bad-status")
	require.NoError(t, err)
	require.Equal(t, store.StatusPending, c.Status, "an invalid completion leaves the record pending")

	// The record can still be completed, and then its writes apply.
	_, err = s.CompleteCommand(ctx, "bad-status", store.Completion{Status: store.StatusDone, Result: json.RawMessage(`{}`), Writes: writes})
	require.NoError(t, err)
	_, err = s.GetRoom(ctx, fresh.RoomID)
	require.NoError(t, err)
	roomGone(t, s, keep.RoomID)
}

// testCompleteCommandDeletedStaysDeleted: create then delete, then a late
// repeat of the create's completion (a redelivery of the create after the
// delete ran): the room stays deleted and its archive keeps what the delete
// stored.
func testCompleteCommandDeletedStaysDeleted(t *testing.T, s store.Store) {
	ctx := t.Context()
	r := NewRoom("Gone-ddddddddddddddd")
	createCompletion := store.Completion{
		Status: store.StatusDone,
		Result: json.RawMessage(`{"ok":true,"data":{"roomId":"Gone-ddddddddddddddd"}}`),
		Writes: []store.Write{store.InsertRoom(r), store.PutArchived(archiveOf(r, "at create"))},
	}
	_, err := s.ClaimCommand(ctx, &store.Command{ID: "create-gone", Type: "rooms.cmd.create"})
	require.NoError(t, err)
	_, err = s.CompleteCommand(ctx, "create-gone", createCompletion)
	require.NoError(t, err)
	_, err = s.GetRoom(ctx, r.RoomID)
	require.NoError(t, err, "the create inserted the room")

	atDelete := archiveOf(r, "at delete")
	_, err = s.ClaimCommand(ctx, &store.Command{ID: "delete-gone", Type: "rooms.cmd.delete"})
	require.NoError(t, err)
	_, err = s.CompleteCommand(ctx, "delete-gone", store.Completion{
		Status: store.StatusDone,
		Result: json.RawMessage(`{"ok":true}`),
		Writes: []store.Write{store.PutArchived(atDelete), store.DeleteRoom(r.RoomID)},
	})
	require.NoError(t, err)
	roomGone(t, s, r.RoomID, "the delete deleted the room")

	// The create comes back: claimed again (found done) and completed again.
	rec, err := s.ClaimCommand(ctx, &store.Command{ID: "create-gone", Type: "rooms.cmd.create"})
	require.ErrorIs(t, err, store.ErrDuplicate)
	require.Equal(t, store.StatusDone, rec.Status)
	for range 2 {
		done, err := s.CompleteCommand(ctx, "create-gone", createCompletion)
		require.NoError(t, err)
		require.Equal(t, store.StatusDone, done.Status)
	}
	roomGone(t, s, r.RoomID, "a late repeat of the create does not bring the deleted room back")
	n, err := s.CountRooms(ctx)
	require.NoError(t, err)
	require.Zero(t, n)
	arch, err := s.GetArchivedRoom(ctx, r.RoomID)
	require.NoError(t, err)
	require.Equal(t, atDelete, arch, "the archive keeps what the delete stored, not the create's")
}
