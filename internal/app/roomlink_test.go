package app_test

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/roomkeeper/roomkeeper/events"
)

// A room link that reaches roomkeeper (serve) gets a page naming the room
// and the role, with the hand-over to the frontend at BASE_URL; a wrong
// secret a 404 page.
func TestServeAnswersRoomLinks(t *testing.T) {
	cfg := testConfig(t)
	cfg.BaseURL = "https://meet.example.com"
	p := serve(t, cfg)
	c, _ := appClient(t, p.app)
	name := "linked"
	room, err := c.CreateRoom(ctxT(t, 30*time.Second), cmdID("create"), events.CreateRoom{RoomName: &name})
	require.NoError(t, err)
	link, err := url.Parse(room.Access.Anonymous.Moderator.URL)
	require.NoError(t, err)

	code, body := get(t, p.app.HTTPAddr(), link.RequestURI())
	require.Equal(t, http.StatusOK, code, body)
	require.Contains(t, body, `id="room-name">linked<`)
	require.Contains(t, body, `id="role">moderator<`)
	require.Contains(t, body, `href="https://meet.example.com/room/`+room.RoomID+`?secret=`)

	code, body = get(t, p.app.HTTPAddr(), "/room/"+room.RoomID+"?secret=wrong")
	require.Equal(t, http.StatusNotFound, code, body)
}
