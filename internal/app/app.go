// Package app wires roomkeeper's roles (worker, webhooks, scheduler) from a
// config.Config and runs them until the context ends, then shuts down in
// order: stop taking work, finish what is in flight, drain NATS, close the
// store, stop the embedded engines.
package app

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/sirupsen/logrus"

	"github.com/roomkeeper/roomkeeper/console"
	"github.com/roomkeeper/roomkeeper/handler"
	"github.com/roomkeeper/roomkeeper/internal/apikeys"
	"github.com/roomkeeper/roomkeeper/internal/config"
	"github.com/roomkeeper/roomkeeper/internal/metrics"
	"github.com/roomkeeper/roomkeeper/internal/tracing"
	"github.com/roomkeeper/roomkeeper/livekit"
	"github.com/roomkeeper/roomkeeper/natsapi"
	"github.com/roomkeeper/roomkeeper/outhooks"
	"github.com/roomkeeper/roomkeeper/queries"
	"github.com/roomkeeper/roomkeeper/rooms"
	"github.com/roomkeeper/roomkeeper/scheduler"
	"github.com/roomkeeper/roomkeeper/store"
	"github.com/roomkeeper/roomkeeper/store/mongo"
	"github.com/roomkeeper/roomkeeper/store/sqlite"
	"github.com/roomkeeper/roomkeeper/webhooks"
	"github.com/roomkeeper/roomkeeper/workers"
)

// Roles says which parts a process runs.
type Roles struct {
	Worker    bool
	Webhooks  bool
	Scheduler bool
	// API serves OpenVidu Meet's REST API on HTTP_ADDR (api.go).
	API bool
	// Dispatcher POSTs OpenVidu Meet webhook events (dispatcher.go).
	Dispatcher bool
	// Embedded starts the in-process NATS server when NATS_URL is empty
	// (roomkeeper serve); other roles then connect to EMBEDDED_NATS_ADDR.
	Embedded bool
}

// All is every role in one process: roomkeeper serve.
var All = Roles{Worker: true, Webhooks: true, Scheduler: true, API: true, Dispatcher: true, Embedded: true}

// App is a running roomkeeper process.
type App struct {
	cfg   config.Config
	roles Roles
	log   *logrus.Logger

	ns      *server.Server
	nc      *nats.Conn
	js      jetstream.JetStream
	store   store.Store
	metrics *metrics.Metrics
	http    *http.Server
	ln      net.Listener
	// top is the topology the process bootstrapped, with which a worker
	// process recreates a missing consumer.
	top natsapi.Topology
	// seed is the nkey seed file the process connects with ("" for none).
	seed string
	// workerDown, when set, is why the worker role is not consuming now
	// (restarting on a recreated consumer); readiness reports it.
	workerDown atomic.Pointer[string]
	// traces flushes and stops the tracer provider (internal/tracing).
	traces func(context.Context) error

	// hooks is the outgoing webhook dispatcher (role dispatcher, with
	// OUTGOING_WEBHOOK_URLS set), made by Start, started by Run.
	hooks *outhooks.Dispatcher
	// console is the web console (nil when it is off); Run samples its
	// charts.
	console *console.Console
	// keys are the API keys of API_KEYS and API_KEYS_FILE (nil for none),
	// loaded once for the HTTP API, the console and the dispatcher's
	// default secret; client is the NATS client of the HTTP handlers.
	keys   *apikeys.Keys
	client *natsapi.Client
}

// Start brings the roles up; Run then serves until ctx ends.
func Start(ctx context.Context, cfg config.Config, roles Roles, log *logrus.Logger) (a *App, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	a = &App{cfg: cfg, roles: roles, log: log}
	defer func() {
		if err != nil {
			a.close()
		}
	}()
	// Traces, when the standard OTEL_* variables ask for them; the SDK's
	// errors (a failed export) in this log.
	tracing.SetErrorLog(log)
	if a.traces, err = tracing.Setup(ctx, "roomkeeper"); err != nil {
		return a, err
	}
	if tracing.Enabled() {
		log.Info("traces exported over OTLP (OTEL_EXPORTER_OTLP_ENDPOINT)")
	}
	url := cfg.NATSURL
	a.seed = cfg.NATSNkey
	if url == "" {
		if roles.Embedded {
			if url, err = a.startEmbedded(); err != nil {
				return a, err
			}
		} else {
			url = "nats://" + cfg.EmbeddedNATSAddr
		}
		if cfg.EmbeddedNATSAuth == config.AuthNkey && (roles.Embedded || a.seed == "") {
			// The embedded server's own client key, whichever role.
			a.seed = cfg.NATSSeedPath()
		}
	}
	if a.nc, err = connect(url, a.seed, cfg, log); err != nil {
		return a, err
	}
	if a.js, err = jetstream.New(a.nc); err != nil {
		return a, err
	}
	if a.client, err = natsapi.NewClient(a.nc); err != nil {
		return a, err
	}
	if a.keys, err = apikeys.New(cfg.APIKeys, cfg.APIKeysFile); errors.Is(err, apikeys.ErrNoKeys) {
		a.keys = nil
	} else if err != nil {
		return a, err
	}
	a.top = natsapi.DefaultTopology()
	a.top.Replicas = cfg.StreamReplicas
	a.top.Duplicates = cfg.StreamDuplicatesWindow
	bctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := natsapi.Bootstrap(bctx, a.js, a.top); err != nil {
		return a, err
	}
	if roles.Worker {
		if a.store, err = OpenStore(ctx, cfg); err != nil {
			return a, err
		}
	}
	if a.ln, err = net.Listen("tcp", cfg.HTTPAddr); err != nil {
		return a, fmt.Errorf("HTTP_ADDR: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	mux.HandleFunc("GET /readyz", a.ready)
	a.metrics = metrics.New(metrics.Config{
		JetStream: a.js, Log: log.WithField("component", "metrics"),
		WorkerOutcomes: workers.Outcomes(), WebhookOutcomes: webhooks.Outcomes(),
		OutgoingEvents: outhooks.Events, OutgoingOutcomes: outhooks.Outcomes,
	})
	mux.Handle("GET /metrics", a.metrics.Handler())
	if err := a.mountRoomLinks(mux); err != nil {
		return a, err
	}
	if err := a.mountConsole(mux); err != nil {
		return a, err
	}
	if roles.Webhooks {
		if cfg.LiveKitAPIKey == "" || cfg.LiveKitAPISecret == "" {
			log.Warn("LIVEKIT_API_KEY/LIVEKIT_API_SECRET unset: the webhook receiver is off")
		} else {
			rcv, err := webhooks.New(webhooks.Config{APIKey: cfg.LiveKitAPIKey, APISecret: cfg.LiveKitAPISecret, MaxInFlightBytes: cfg.WebhookMaxInFlightBytes, Metrics: a.metrics}, a.js, log.WithField("role", "webhooks"))
			if err != nil {
				return a, err
			}
			mux.Handle(webhooks.Path, rcv)
		}
	}
	if roles.API {
		if err := a.mountAPI(ctx, mux); err != nil {
			return a, err
		}
	}
	if roles.Dispatcher {
		if a.hooks, err = a.newDispatcher(); err != nil {
			return a, err
		}
	}
	// Timeouts, so that stalled or slow clients give their connections
	// (and the webhook receiver the memory they hold) back.
	a.http = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: cfg.HTTPReadHeaderTimeout,
		ReadTimeout:       cfg.HTTPReadTimeout,
		WriteTimeout:      cfg.HTTPWriteTimeout,
		IdleTimeout:       cfg.HTTPIdleTimeout,
		MaxHeaderBytes:    cfg.HTTPMaxHeaderBytes,
	}
	return a, nil
}

// OpenStore opens MongoDB when MONGO_URI is set, else the SQLite file
// under DATA_DIR.
func OpenStore(ctx context.Context, cfg config.Config) (store.Store, error) {
	// Each Open returns a typed nil pointer on error; the interface gets
	// nil, not that pointer, so that a caller's nil check holds.
	if cfg.MongoURI != "" {
		st, err := mongo.Open(ctx, mongo.Config{URI: cfg.MongoURI, Database: cfg.MongoDB})
		if err != nil {
			return nil, err
		}
		return st, nil
	}
	if err := os.MkdirAll(filepath.Dir(cfg.SQLitePath()), 0o700); err != nil {
		return nil, err
	}
	st, err := sqlite.Open(ctx, sqlite.Config{Path: cfg.SQLitePath()})
	if err != nil {
		return nil, err
	}
	return st, nil
}

func connect(url, seed string, cfg config.Config, log *logrus.Logger) (*nats.Conn, error) {
	opts := []nats.Option{
		nats.Name("roomkeeper"),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.RetryOnFailedConnect(true),
		// No reconnect buffer: a publish while disconnected fails at once
		// (the worker naks, the webhook receiver answers 503) instead of
		// landing later, after its caller has given up on it.
		nats.ReconnectBufSize(-1),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.WithError(err).Warn("NATS disconnected")
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) { log.WithField("url", nc.ConnectedUrl()).Info("NATS reconnected") }),
	}
	if cfg.NATSCreds != "" {
		opts = append(opts, nats.UserCredentials(cfg.NATSCreds))
	}
	if seed != "" {
		o, err := nats.NkeyOptionFromSeed(seed)
		if err != nil {
			return nil, fmt.Errorf("NATS nkey %s (a roomkeeper serve makes it at its first start; or set NATS_NKEY): %w", seed, err)
		}
		opts = append(opts, o)
	}
	if cfg.NATSTLSCA != "" {
		opts = append(opts, nats.RootCAs(cfg.NATSTLSCA))
	}
	if cfg.NATSTLSCert != "" || cfg.NATSTLSKey != "" {
		opts = append(opts, nats.ClientCert(cfg.NATSTLSCert, cfg.NATSTLSKey))
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return nil, fmt.Errorf("connect NATS %s: %w", url, err)
	}
	return nc, nil
}

// HTTPAddr is the address the HTTP server listens on.
func (a *App) HTTPAddr() string { return a.ln.Addr().String() }

// NATSURL is the URL of the NATS server the process uses.
func (a *App) NATSURL() string { return a.nc.ConnectedUrl() }

// Run serves until ctx ends, then shuts down in order.
func (a *App) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	errs := make(chan error, 8) // one per goroutine run starts, at most
	run := func(name string, f func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(ctx); err != nil {
				errs <- fmt.Errorf("%s: %w", name, err)
			}
		}()
	}
	if a.roles.Worker {
		if err := a.startWorker(ctx, run); err != nil {
			return err
		}
	}
	if a.roles.Scheduler {
		s, err := scheduler.New(scheduler.Config{Interval: a.cfg.SweepInterval}, a.js, a.log)
		if err != nil {
			return err
		}
		run("scheduler", s.Run)
		a.log.WithField("interval", a.cfg.SweepInterval).Info("scheduler started")
	}
	if a.roles.Dispatcher {
		if err := a.startDispatcher(ctx, run); err != nil {
			return err
		}
	}
	if a.console != nil {
		run("console", a.console.Sample)
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := a.http.Serve(a.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errs <- fmt.Errorf("http: %w", err)
		}
	}()
	a.log.WithField("addr", a.HTTPAddr()).Info("HTTP server listening")
	<-ctx.Done()
	a.log.Info("shutting down: finishing in-flight work")
	sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	_ = a.http.Shutdown(sctx)
	wg.Wait()
	close(errs)
	var all []error
	for err := range errs {
		all = append(all, err)
	}
	a.close()
	a.log.Info("stopped")
	return errors.Join(all...)
}

// startWorker starts the worker role: the command and webhook consumer,
// the rooms.api.* query service and the dead-letter listener.
func (a *App) startWorker(ctx context.Context, run func(string, func(context.Context) error)) error {
	meetings, err := a.LiveKit()
	if err != nil {
		return err
	}
	reg := handler.NewRegistry()
	domain := &rooms.Rooms{Store: a.store, Meetings: meetings, BaseURL: a.cfg.BaseURL, MinAutoDeletionDelay: a.cfg.MinAutoDeletionDelay,
		Sweeps: a.metrics, Signals: a.metrics, Sweep: a.sweepConfig(),
	}
	if err := domain.Register(reg); err != nil {
		return err
	}
	w, err := workers.New(workers.Config{Concurrency: a.cfg.WorkerConcurrency, AckMode: a.cfg.WorkerAckMode, DuplicatesWindow: a.top.Duplicates}, a.js, a.store, reg, a.log.WithField("role", "worker"), a.metrics)
	if err != nil {
		return err
	}
	q, err := queries.New(queries.Config{Store: a.store, Tokens: meetings, Log: a.log.WithField("role", "queries")})
	if err != nil {
		return err
	}
	if _, err := q.Start(a.nc); err != nil {
		return err
	}
	run("queries", func(ctx context.Context) error { <-ctx.Done(); return q.Close() })
	dl, err := workers.NewDeadLetters(workers.DeadLettersConfig{Conn: a.nc, JetStream: a.js, Store: a.store, Registry: reg, Log: a.log.WithField("role", "deadletters"), Metrics: a.metrics})
	if err != nil {
		return err
	}
	if err := dl.Start(ctx); err != nil {
		return err
	}
	run("deadletters", func(ctx context.Context) error { <-ctx.Done(); dl.Wait(); return nil })
	run("worker", func(ctx context.Context) error { return a.superviseWorker(ctx, w) })
	a.log.WithField("concurrency", a.cfg.WorkerConcurrency).Info("worker started")
	return nil
}

// sweepConfig is the sweep's ledger pruning from the settings
// (LEDGER_RETENTION 0: never prune).
func (a *App) sweepConfig() rooms.SweepConfig {
	sc := rooms.SweepConfig{LedgerRetention: a.cfg.LedgerRetention, MaxPrune: a.cfg.LedgerPruneMax}
	if sc.LedgerRetention == 0 {
		sc.LedgerRetention = -1
	}
	return sc
}

// LiveKit returns the LiveKit adapter the settings describe (detached when
// LIVEKIT_URL is empty).
func (a *App) LiveKit() (*livekit.Client, error) {
	if a.cfg.LiveKitURL == "" {
		a.log.Warn("LIVEKIT_URL unset: running detached, no meeting is ever active and token calls fail with unavailable")
	}
	return livekit.New(livekit.Config{
		URL: a.cfg.LiveKitURL, APIKey: a.cfg.LiveKitAPIKey, APISecret: a.cfg.LiveKitAPISecret,
		EmptyTimeout: a.cfg.MeetingEmptyTimeout, DepartureTimeout: a.cfg.MeetingDepartureTimeout,
		ExtraLatency: a.cfg.LiveKitExtraLatency, // benchmarks only
	})
}

// close drains NATS, closes the store and stops the embedded server.
func (a *App) close() {
	if a.nc != nil {
		if err := a.nc.Drain(); err != nil {
			a.nc.Close()
		}
		for i := 0; i < 100 && !a.nc.IsClosed(); i++ {
			time.Sleep(20 * time.Millisecond)
		}
	}
	if a.store != nil {
		_ = a.store.Close()
	}
	if a.ln != nil {
		_ = a.ln.Close()
	}
	if a.ns != nil {
		a.ns.Shutdown()
		a.ns.WaitForShutdown()
	}
	if a.traces != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = a.traces(ctx)
	}
}
