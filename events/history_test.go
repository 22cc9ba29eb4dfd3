package events_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/roomkeeper/roomkeeper/events"
)

// CommandRooms reads the rooms a command body names, leniently (a body
// refused as invalid still names its rooms), without repeats, bounded.
func TestCommandRooms(t *testing.T) {
	t.Parallel()
	many := make([]string, events.MaxDeleteRoomIDs+5)
	for i := range many {
		many[i] = fmt.Sprintf("%q", fmt.Sprintf("r%d", i))
	}
	for _, tc := range []struct {
		body string
		want []string
	}{
		{`{"roomId":"a-1"}`, []string{"a-1"}},
		{`{"roomId":"a-1","status":"bogus"}`, []string{"a-1"}},
		{`{"roomIds":["a","b","a"],"withMeeting":"force"}`, []string{"a", "b"}},
		{`{"roomIds":["a",7,null,"",{"x":1},"b"]}`, []string{"a", "b"}},
		{`{"roomId":"a","roomIds":["b","a"]}`, []string{"a", "b"}},
		{`{"roomId":"rooms.>"}`, nil},
		{`{"roomId":"` + strings.Repeat("x", 257) + `"}`, nil},
		{`{"roomId":7}`, nil},
		{`{}`, nil},
		{`[1,2]`, nil},
		{`not json`, nil},
	} {
		require.Equal(t, tc.want, events.CommandRooms([]byte(tc.body)), tc.body)
	}
	got := events.CommandRooms([]byte(`{"roomIds":[` + strings.Join(many, ",") + `]}`))
	require.Len(t, got, events.MaxDeleteRoomIDs)
	require.Equal(t, "r0", got[0])
}

func TestWebhookRooms(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		body string
		want []string
	}{
		{`{"event":"room_finished","room":{"sid":"RM_1","name":"a-1"},"id":"EV_1"}`, []string{"a-1"}},
		{`{"event":"egress_ended","egressInfo":{"egressId":"EG_1","roomName":"a-1"}}`, []string{"a-1"}},
		{`{"room":{"name":"a"},"egressInfo":{"roomName":"a"}}`, []string{"a"}},
		{`{"room":{"name":7},"egressInfo":{"roomName":"b"}}`, []string{"b"}},
		{`{"room":{"name":"rooms.>"}}`, nil},
		{`{"event":"participant_joined"}`, nil},
		{`{"room":"a"}`, nil},
		{`not json`, nil},
	} {
		require.Equal(t, tc.want, events.WebhookRooms([]byte(tc.body)), tc.body)
	}
}
