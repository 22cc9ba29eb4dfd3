// Package cli is roomkeeper's command line: the roles (serve, worker,
// webhooks, scheduler, api, dispatcher) and nkey add-publisher, parsed
// with kong. cmd/roomkeeper only calls [Main].
//
// Exit codes (internal/exitcode): 0 the role ended cleanly; 1 it failed
// (to start, or while running); 2 bad usage: the command line does not
// parse, or the settings (flags and environment) are invalid.
package cli

import (
	"context"
	"errors"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/alecthomas/kong"

	"github.com/roomkeeper/roomkeeper/internal/app"
	"github.com/roomkeeper/roomkeeper/internal/buildinfo"
	"github.com/roomkeeper/roomkeeper/internal/config"
	"github.com/roomkeeper/roomkeeper/internal/exitcode"
	"github.com/roomkeeper/roomkeeper/internal/tracing"
)

type role struct{ roles app.Roles }

// Run starts the role and runs it until a signal. Logs go to stderr; an
// error that stops it is returned, and Main prints it once.
func (r role) Run(cfg *config.Config, stderr io.Writer) error {
	log := cfg.Logger()
	log.SetOutput(stderr)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	a, err := app.Start(ctx, *cfg, r.roles, log)
	if err != nil {
		return err
	}
	return a.Run(ctx)
}

type addPublisher struct {
	Name string `arg:"" help:"Publisher name (1 to 64 letters, digits, '-' or '_'); its inbox prefix is _INBOX_<name>."`
	Out  string `name:"out" help:"File to write the publisher's seed to (mode 0600); default <name>.nk in the current directory."`
}

func (c addPublisher) Run(cfg *config.Config) error {
	return app.AddPublisher(*cfg, c.Name, c.Out, os.Stdout)
}

type cli struct {
	Version buildinfo.Flag `name:"version" help:"Print the version (version, commit, Go version) and exit."`
	config.Config
	Serve      struct{ role } `cmd:"" help:"Run every role in one process (embedded NATS and SQLite unless NATS_URL / MONGO_URI are set)."`
	Worker     struct{ role } `cmd:"" help:"Run the worker role: apply commands and webhook events."`
	Webhooks   struct{ role } `cmd:"" help:"Run the LiveKit webhook receiver."`
	Scheduler  struct{ role } `cmd:"" help:"Run the expiry sweep scheduler."`
	API        struct{ role } `cmd:"" name:"api" help:"Run the HTTP API: OpenVidu Meet's REST API (/api/v1) over the commands and queries."`
	Dispatcher struct{ role } `cmd:"" help:"Run the outgoing webhook dispatcher: OpenVidu Meet webhook events to OUTGOING_WEBHOOK_URLS."`
	Nkey       struct {
		AddPublisher addPublisher `cmd:"" name:"add-publisher" help:"Make a key for a publisher limited to publishing commands (rooms.cmd.>) and reading results (rooms.results.>) on the embedded NATS server: its public key goes to DATA_DIR/nats/publishers/<name>.pub, its seed to --out. Restart roomkeeper serve to load it."`
	} `cmd:"" help:"Keys of the embedded NATS server."`
}

// Main runs roomkeeper with args (without the program name) and returns
// its exit code; the roles run until SIGINT or SIGTERM.
func Main(args []string, stdout, stderr io.Writer) (code int) {
	var c cli
	c.Serve.roles = app.All
	c.Worker.roles = app.Roles{Worker: true}
	c.Webhooks.roles = app.Roles{Webhooks: true}
	c.Scheduler.roles = app.Roles{Scheduler: true}
	c.API.roles = app.Roles{API: true}
	c.Dispatcher.roles = app.Roles{Dispatcher: true}
	parser, err := kong.New(&c,
		kong.Name("roomkeeper"),
		kong.Description("Event-driven room service for LiveKit deployments."),
		kong.Writers(stdout, stderr),
		kong.BindTo(stderr, (*io.Writer)(nil)),
		exitcode.KongExit(),
	)
	if err != nil {
		exitcode.Print(stderr, "roomkeeper", exitcode.Usage, err, "")
		return exitcode.Usage
	}
	defer exitcode.Recover(&code)
	kctx, err := parser.Parse(args)
	if err != nil {
		return exitcode.ParseError(stderr, "roomkeeper", err)
	}
	err = kctx.Run(&c.Config)
	if err == nil {
		return exitcode.OK
	}
	code = exitcode.Error
	// Invalid settings, flags or environment (OTEL_* included): usage.
	if errors.Is(err, config.ErrInvalid) || errors.Is(err, tracing.ErrSetup) {
		code = exitcode.Usage
	}
	exitcode.Print(stderr, "roomkeeper", code, err, exitcode.Command(kctx))
	return code
}
