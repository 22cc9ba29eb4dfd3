package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/roomkeeper/roomkeeper/store"
)

// RunRecordings runs the conformance tests of store.RecordingStore against
// stores made by open.
func RunRecordings(t *testing.T, open func(t *testing.T) store.Store) {
	t.Run("RecordingRoundTrip", func(t *testing.T) { testRecordingRoundTrip(t, open(t)) })
	t.Run("RecordingOlderStateIgnored", func(t *testing.T) { testRecordingOlderIgnored(t, open(t)) })
	t.Run("RecordingConcurrentStates", func(t *testing.T) { testRecordingConcurrent(t, open(t)) })
	t.Run("RoomRecordingsAndDelete", func(t *testing.T) { testRoomRecordings(t, open(t)) })
}

func recCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// NewRecording is a recording of room in the given status, at update time
// updatedAt (ns).
func NewRecording(egressID, roomID, status string, updatedAt int64) *store.Recording {
	return &store.Recording{
		EgressID: egressID, RoomID: roomID, RoomName: "Room", Status: status,
		Filename: egressID + ".mp4", StartDate: 1_700_000_000_000, UpdatedAt: updatedAt,
	}
}

func testRecordingRoundTrip(t *testing.T, s store.Store) {
	ctx := recCtx(t)
	_, err := s.GetRecording(ctx, "EG_none")
	require.ErrorIs(t, err, store.ErrNotFound)
	rec := NewRecording("EG_a", "R1", store.RecordingComplete, 5)
	rec.EndDate, rec.Duration, rec.Size, rec.Error, rec.Details = 1_700_000_060_000, 60.5, 1234, "e", "d"
	stored, err := s.PutRecording(ctx, rec)
	require.NoError(t, err)
	require.True(t, stored)
	got, err := s.GetRecording(ctx, "EG_a")
	require.NoError(t, err)
	require.Equal(t, rec, got)
	require.Equal(t, "R1--EG_a", got.RecordingID())
	// The same state again (a redelivery): nothing to store.
	stored, err = s.PutRecording(ctx, NewRecording("EG_a", "R1", store.RecordingComplete, 5))
	require.NoError(t, err)
	require.False(t, stored)
}

// A state older than the stored one (by update time, then status rank)
// never replaces it; a newer one does.
func testRecordingOlderIgnored(t *testing.T, s store.Store) {
	ctx := recCtx(t)
	put := func(status string, at int64) bool {
		t.Helper()
		ok, err := s.PutRecording(ctx, NewRecording("EG_o", "R1", status, at))
		require.NoError(t, err)
		return ok
	}
	status := func() string {
		t.Helper()
		got, err := s.GetRecording(ctx, "EG_o")
		require.NoError(t, err)
		return got.Status
	}
	require.True(t, put(store.RecordingEnding, 20))
	require.False(t, put(store.RecordingActive, 10), "older update time")
	require.False(t, put(store.RecordingStarting, 20), "same time, earlier status")
	require.Equal(t, store.RecordingEnding, status())
	require.True(t, put(store.RecordingComplete, 20), "same time, later status")
	require.Equal(t, store.RecordingComplete, status())
	require.True(t, put(store.RecordingFailed, 30))
	require.Equal(t, store.RecordingFailed, status())
}

// Many states of one egress put at once, in every order: the latest wins.
func testRecordingConcurrent(t *testing.T, s store.Store) {
	ctx := recCtx(t)
	statuses := []string{store.RecordingStarting, store.RecordingActive, store.RecordingEnding, store.RecordingComplete}
	for round := range 3 {
		id := fmt.Sprintf("EG_c%d", round)
		var wg sync.WaitGroup
		for i := len(statuses) - 1; i >= 0; i-- {
			wg.Go(func() {
				_, err := s.PutRecording(ctx, NewRecording(id, "R1", statuses[i], int64(i+1)))
				require.NoError(t, err)
			})
		}
		wg.Wait()
		got, err := s.GetRecording(ctx, id)
		require.NoError(t, err)
		require.Equal(t, store.RecordingComplete, got.Status)
		require.EqualValues(t, 4, got.UpdatedAt)
	}
}

func testRoomRecordings(t *testing.T, s store.Store) {
	ctx := recCtx(t)
	for _, id := range []string{"EG_3", "EG_1", "EG_2"} {
		_, err := s.PutRecording(ctx, NewRecording(id, "R1", store.RecordingComplete, 1))
		require.NoError(t, err)
	}
	_, err := s.PutRecording(ctx, NewRecording("EG_x", "R2", store.RecordingActive, 1))
	require.NoError(t, err)
	got, err := s.RoomRecordings(ctx, "R1", 0)
	require.NoError(t, err)
	var ids []string
	for _, r := range got {
		ids = append(ids, r.EgressID)
	}
	require.Equal(t, []string{"EG_1", "EG_2", "EG_3"}, ids)
	got, err = s.RoomRecordings(ctx, "R1", 1)
	require.NoError(t, err)
	require.Len(t, got, 1)
	got, err = s.RoomRecordings(ctx, "none", 10)
	require.NoError(t, err)
	require.Empty(t, got)

	require.NoError(t, s.DeleteRecordings(ctx, []string{"EG_1", "EG_3", "EG_gone"}))
	require.NoError(t, s.DeleteRecordings(ctx, nil))
	got, err = s.RoomRecordings(ctx, "R1", 0)
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.Equal(t, "EG_2", got[0].EgressID)
	_, err = s.GetRecording(ctx, "EG_x")
	require.NoError(t, err, "other rooms' recordings stay")
}
