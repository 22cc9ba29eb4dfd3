package app

import (
	"net/http"

	"github.com/roomkeeper/roomkeeper/natsapi"
	"github.com/roomkeeper/roomkeeper/roomlink"
)

// mountRoomLinks answers the room links (BASE_URL/room/...) that reach
// this server with a page handing over to the frontend (roomlink).
func (a *App) mountRoomLinks(mux *http.ServeMux) error {
	c, err := natsapi.NewClient(a.nc)
	if err != nil {
		return err
	}
	pages, err := roomlink.New(roomlink.Config{Queries: c, BaseURL: a.cfg.BaseURL, Log: a.log.WithField("component", "roomlink")})
	if err != nil {
		return err
	}
	pages.Mount(mux)
	return nil
}
