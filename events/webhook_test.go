package events_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/roomkeeper/roomkeeper/events"
)

func TestWebhookMsgID(t *testing.T) {
	t.Parallel()
	digest := events.WebhookMsgID("x y")
	for name, tc := range map[string]struct {
		id   string
		same bool // the id is its own message ID
	}{
		"livekit id":        {id: "EV_9YmRr3kq2Zx1", same: true},
		"125 characters":    {id: strings.Repeat("a", 125), same: true},
		"colons and dashes": {id: "a:b-c_d", same: true},
		"126 characters":    {id: strings.Repeat("a", 126)},
		"256 characters":    {id: strings.Repeat("b", 256)},
		"spaces and dots":   {id: "EV 1.2"},
		"unicode":           {id: "EV_é"},
		"slash":             {id: "EV/1"},
		"empty":             {id: ""},
		"looks like digest": {id: digest},
	} {
		t.Run(name, func(t *testing.T) {
			got := events.WebhookMsgID(tc.id)
			require.True(t, events.ValidCommandID(events.WebhookIDPrefix+got), "%q → %q", tc.id, got)
			require.LessOrEqual(t, len(got), 125)
			require.Equal(t, got, events.WebhookMsgID(tc.id), "stable")
			if tc.same {
				require.Equal(t, tc.id, got)
			} else {
				require.NotEqual(t, tc.id, got)
				require.True(t, strings.HasPrefix(got, "h-"), got)
			}
		})
	}
	// distinct ids, distinct message IDs
	require.NotEqual(t, events.WebhookMsgID("EV 1"), events.WebhookMsgID("EV 2"))
	require.NotEqual(t, events.WebhookMsgID(digest), digest)
}
