package app

import (
	"net/http"

	"github.com/roomkeeper/roomkeeper/roomlink"
)

// mountRoomLinks answers the room links (BASE_URL/room/...) that reach
// this server with a page handing over to the frontend (roomlink).
func (a *App) mountRoomLinks(mux *http.ServeMux) error {
	pages, err := roomlink.New(roomlink.Config{Queries: a.client, BaseURL: a.cfg.BaseURL, Log: a.log.WithField("component", "roomlink")})
	if err != nil {
		return err
	}
	pages.Mount(mux)
	return nil
}
