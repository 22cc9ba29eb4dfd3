package app

import (
	"context"
	"net/http"

	"github.com/roomkeeper/roomkeeper/gateway"
)

// mountAPI adds OpenVidu Meet's REST API (/api/v1, package gateway) to
// mux: the api role (issue 16). It needs only NATS. With no API key
// configured it mounts nothing and says so.
func (a *App) mountAPI(_ context.Context, mux *http.ServeMux) error {
	if a.keys == nil {
		a.log.Warn("the HTTP API (/api/v1) is off: no API key configured (set API_KEYS or API_KEYS_FILE)")
		return nil
	}
	gw, err := gateway.New(gateway.Config{
		Client: a.client, Keys: a.keys, CommandTimeout: a.cfg.APICommandTimeout,
		Log: a.log.WithField("role", "api"),
	})
	if err != nil {
		return err
	}
	mux.Handle(gateway.Prefix, gw)
	a.log.WithField("addr", a.ln.Addr().String()).Info("the HTTP API serves /api/v1")
	return nil
}
