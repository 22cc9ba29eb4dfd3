package app

import (
	"context"
	"errors"
	"net/http"

	"github.com/roomkeeper/roomkeeper/gateway"
	"github.com/roomkeeper/roomkeeper/internal/apikeys"
	"github.com/roomkeeper/roomkeeper/natsapi"
)

// mountAPI adds OpenVidu Meet's REST API (/api/v1, package gateway) to
// mux: the api role (issue 16). It needs only NATS. With no API key
// configured it mounts nothing and says so.
func (a *App) mountAPI(_ context.Context, mux *http.ServeMux) error {
	keys, err := apikeys.New(a.cfg.APIKeys, a.cfg.APIKeysFile)
	if errors.Is(err, apikeys.ErrNoKeys) {
		a.log.Warn("the HTTP API (/api/v1) is off: no API key configured (set API_KEYS or API_KEYS_FILE)")
		return nil
	}
	if err != nil {
		return err
	}
	client, err := natsapi.NewClient(a.nc)
	if err != nil {
		return err
	}
	gw, err := gateway.New(gateway.Config{
		Client: client, Keys: keys, CommandTimeout: a.cfg.APICommandTimeout,
		Log: a.log.WithField("role", "api"),
	})
	if err != nil {
		return err
	}
	mux.Handle(gateway.Prefix, gw)
	a.log.WithField("addr", a.ln.Addr().String()).Info("the HTTP API serves /api/v1")
	return nil
}
