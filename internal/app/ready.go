package app

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/roomkeeper/roomkeeper/natsapi"
)

// Readiness is the body of /readyz: whether the process is ready, and the
// state of each dependency it checked ("ok", or why not).
type Readiness struct {
	Ready bool `json:"ready"`
	// Checks: nats (connected), streams (the five exist), consumers (the
	// workers consumers exist), and, in a process with the worker role,
	// store (answers) and worker (pulling from the consumers).
	Checks map[string]string `json:"checks"`
}

// checkOK is the state of a dependency that is ready.
const checkOK = "ok"

// readiness checks the dependencies of the process.
func (a *App) readiness(ctx context.Context) Readiness {
	checks := map[string]string{}
	check := func(name string, err error) {
		if err != nil {
			checks[name] = err.Error()
		} else {
			checks[name] = checkOK
		}
	}
	if a.nc.IsConnected() {
		checks["nats"] = checkOK
		check("streams", natsapi.CheckStreams(ctx, a.js))
		check("consumers", natsapi.CheckConsumers(ctx, a.js))
	} else {
		checks["nats"] = "NATS not connected"
		checks["streams"] = "not checked: NATS not connected"
		checks["consumers"] = "not checked: NATS not connected"
	}
	if a.store != nil {
		check("store", a.store.Ping(ctx))
	}
	if a.roles.Worker {
		checks["worker"] = checkOK
		if why := a.workerDown.Load(); why != nil {
			checks["worker"] = *why
		}
	}
	r := Readiness{Ready: true, Checks: checks}
	for _, state := range checks {
		if state != checkOK {
			r.Ready = false
		}
	}
	return r
}

// ready answers /readyz: 200 when every check is ok, else 503, with the
// Readiness as JSON either way.
func (a *App) ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	rd := a.readiness(ctx)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if !rd.Ready {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	_ = json.NewEncoder(w).Encode(rd)
}
