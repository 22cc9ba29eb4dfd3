package app

import (
	"context"
	"net/http"
)

// mountAPI adds OpenVidu Meet's REST API (/api/v1) to mux: the api role
// (issue 16).
func (a *App) mountAPI(_ context.Context, _ *http.ServeMux) error {
	a.log.Warn("the HTTP API is not built yet")
	return nil
}
