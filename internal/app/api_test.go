package app_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/roomkeeper/roomkeeper/apispec/apispectest"
	"github.com/roomkeeper/roomkeeper/internal/app"
)

func httpDo(t *testing.T, client *http.Client, method, url, key, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctxT(t, 30*time.Second), method, url, strings.NewReader(body))
	require.NoError(t, err)
	if key != "" {
		req.Header.Set("X-API-KEY", key)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := client.Do(req)
	require.NoError(t, err)
	defer func() { _ = res.Body.Close() }()
	raw, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res.StatusCode, string(raw)
}

// The api role: off, and saying so, without a key; with API_KEYS, a
// separate `roomkeeper api` process (NATS only) serves the REST API in
// front of serve's worker.
func TestAPIRole(t *testing.T) {
	cfg := testConfig(t)
	cfg.LogLevel = "info"
	p, logs := serveLogged(t, cfg, app.All)
	srv := p.app
	require.Contains(t, logs.String(), "the HTTP API (/api/v1) is off: no API key configured")
	code, _ := httpDo(t, http.DefaultClient, http.MethodGet, "http://"+srv.HTTPAddr()+"/api/v1/rooms", "", "")
	require.Equal(t, http.StatusNotFound, code)

	apiCfg := testConfig(t)
	apiCfg.NATSURL = srv.NATSURL()
	apiCfg.NATSNkey = srv.SeedFile()
	apiCfg.APIKeys = "k1, k2"
	actx, acancel := context.WithCancel(context.Background())
	api, err := app.Start(actx, apiCfg, app.Roles{API: true}, apiCfg.Logger())
	require.NoError(t, err)
	adone := make(chan error, 1)
	go func() { adone <- api.Run(actx) }()
	t.Cleanup(func() {
		acancel()
		select {
		case err := <-adone:
			require.NoError(t, err)
		case <-time.After(30 * time.Second):
			t.Error("api did not stop")
		}
	})
	base := "http://" + api.HTTPAddr() + "/api/v1/rooms"
	checked := apispectest.Client(t)
	code, body := httpDo(t, checked, http.MethodPost, base, "k2", `{"roomName":"over http"}`)
	require.Equal(t, http.StatusCreated, code, body)
	require.Contains(t, body, `"roomName":"over http"`)
	code, body = httpDo(t, checked, http.MethodGet, base, "k1", "")
	require.Equal(t, http.StatusOK, code, body)
	require.Contains(t, body, `"roomName":"over http"`)
	code, body = httpDo(t, checked, http.MethodGet, base, "k3", "")
	require.Equal(t, http.StatusUnauthorized, code, body)
}
