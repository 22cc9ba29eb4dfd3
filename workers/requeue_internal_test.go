package workers

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"

	"github.com/roomkeeper/roomkeeper/events"
)

// A requeued copy keeps the origin of a fan-out command, so the copy's
// completion still names the sweep that caused it (a room's history); a
// client's command gets the requeue origin, which lets the copy carry its
// command ID.
func TestRequeueCopyKeepsTheOrigin(t *testing.T) {
	t.Parallel()
	first := time.Now()
	fanout := nats.Header{}
	fanout.Set(events.HeaderOrigin, events.OriginCommandPrefix+"sweep-1")
	fanout.Set(nats.MsgIdHdr, "expire-r1")
	c := requeueCopy(fanout, events.SubjectDelete, "expire-r1", []byte(`{}`), first)
	require.Equal(t, events.OriginCommandPrefix+"sweep-1", c.Headers[events.HeaderOrigin])
	require.Equal(t, "expire-r1", c.Headers[events.HeaderCommandID])

	// Requeued again: still the fan-out's origin, the count goes on.
	again := nats.Header{}
	for k, v := range c.Headers {
		again.Set(k, v)
	}
	c = requeueCopy(again, events.SubjectDelete, "expire-r1", []byte(`{}`), first)
	require.Equal(t, events.OriginCommandPrefix+"sweep-1", c.Headers[events.HeaderOrigin])
	require.Equal(t, "2", c.Headers[events.HeaderRequeues])

	client := nats.Header{}
	client.Set(nats.MsgIdHdr, "roomctl-abc")
	c = requeueCopy(client, events.SubjectDelete, "roomctl-abc", []byte(`{}`), first)
	require.Equal(t, events.OriginRequeue, c.Headers[events.HeaderOrigin])
	require.Equal(t, "roomctl-abc", c.Headers[events.HeaderCommandID])
}
