package events_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/roomkeeper/roomkeeper/events"
)

// Outgoing webhook dead letters go under rooms.dead.outgoing_<event type>,
// one token whatever the type holds; EventType reads a domain event's type
// back from its subject.
func TestOutgoingDeadSubjectAndEventType(t *testing.T) {
	t.Parallel()
	require.Equal(t, "rooms.dead.outgoing_meeting_started", events.OutgoingDeadSubject(events.EventMeetingStarted))
	require.Equal(t, "rooms.dead.outgoing_a_b_c", events.OutgoingDeadSubject("a.b*c"))
	require.Equal(t, "rooms.dead.outgoing_unknown", events.OutgoingDeadSubject(""))
	require.Equal(t, events.EventRecordingEnded, events.EventType(events.EventSubject(events.EventRecordingEnded)))
	require.Empty(t, events.EventType(events.SubjectCreate))
}
