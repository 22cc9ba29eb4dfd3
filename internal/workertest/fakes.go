package workertest

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// LKRooms is a LiveKit double (a rooms.Meetings) for tests of the room
// handlers: the rooms LiveKit has and those with a meeting going on, safe
// to change while a worker runs.
type LKRooms struct {
	mu     sync.Mutex
	exists map[string]bool
	active map[string]bool
	// Calls counts RoomExists calls.
	Calls   atomic.Int64
	created time.Time
}

// NewLKRooms returns a LiveKit with no rooms.
func NewLKRooms() *LKRooms {
	return &LKRooms{exists: map[string]bool{}, active: map[string]bool{}, created: time.Now()}
}

// Set says whether LiveKit has room id and whether it has a meeting.
func (m *LKRooms) Set(id string, exists, active bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.exists[id], m.active[id] = exists, active
}

// HasActiveMeeting reports what Set said.
func (m *LKRooms) HasActiveMeeting(_ context.Context, id string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.active[id], nil
}

// RoomExists reports what Set said, and counts the call.
func (m *LKRooms) RoomExists(_ context.Context, id string) (bool, error) {
	m.Calls.Add(1)
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.exists[id], nil
}

// MeetingStart reports a room Set made exist as created when the double
// was made, with SID "RM_<id>".
func (m *LKRooms) MeetingStart(ctx context.Context, id string) (time.Time, string, bool, error) {
	ok, err := m.RoomExists(ctx, id)
	if !ok || err != nil {
		return time.Time{}, "", false, err
	}
	return m.created, "RM_" + id, true, nil
}

// DeleteRoom does nothing.
func (m *LKRooms) DeleteRoom(context.Context, string) error { return nil }

// SendData does nothing.
func (m *LKRooms) SendData(context.Context, string, string, []byte) error { return nil }

// Meetings is a fixed LiveKit double: rooms with a meeting (Active) and
// rooms LiveKit no longer has (Gone); LiveKit has a room while its meeting is
// active and it is not gone.
type Meetings struct{ Active, Gone map[string]bool }

// HasActiveMeeting reports whether id is in Active.
func (m Meetings) HasActiveMeeting(_ context.Context, id string) (bool, error) {
	return m.Active[id], nil
}

// RoomExists reports whether id is not in Gone.
func (m Meetings) RoomExists(_ context.Context, id string) (bool, error) {
	return m.Active[id] && !m.Gone[id], nil
}

// MeetingStart reports a room RoomExists reports as created now, with SID
// "RM_<id>".
func (m Meetings) MeetingStart(ctx context.Context, id string) (time.Time, string, bool, error) {
	ok, _ := m.RoomExists(ctx, id)
	if !ok {
		return time.Time{}, "", false, nil
	}
	return time.Now(), "RM_" + id, true, nil
}

// DeleteRoom does nothing.
func (Meetings) DeleteRoom(context.Context, string) error { return nil }

// SendData does nothing.
func (Meetings) SendData(context.Context, string, string, []byte) error { return nil }

// LiveKit API key and secret of the test servers and token checks.
const (
	TokenKey    = "APIroomkeepertest"
	TokenSecret = "a-secret-of-at-least-32-characters-for-hs256"
)
