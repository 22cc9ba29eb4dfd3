// Package ctl is roomctl, the command-line client of roomkeeper: it
// publishes commands and waits for their results, queries rooms through the
// rooms.api.* service, and watches domain events. cmd/roomctl only calls
// [Main].
//
// Exit codes: 0 success; 1 the command's result or the query's reply is an
// error (printed on stderr); 2 bad usage; 3 roomkeeper could not be reached
// or did not answer in time.
package ctl

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/alecthomas/kong"
	"github.com/nats-io/nats.go"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/internal/buildinfo"
	"github.com/roomkeeper/roomkeeper/internal/exitcode"
	"github.com/roomkeeper/roomkeeper/internal/tracing"
	"github.com/roomkeeper/roomkeeper/natsapi"
)

// Exit codes of roomctl (those of internal/exitcode).
const (
	ExitOK          = exitcode.OK
	ExitErrorResult = exitcode.Error
	ExitUsage       = exitcode.Usage
	ExitUnreachable = exitcode.Unreachable
)

// CLI is roomctl's command line.
type CLI struct {
	Version buildinfo.Flag `name:"version" help:"Print the version (version, commit, Go version) and exit."`

	NATSURL   string        `name:"server" short:"s" aliases:"nats-url" env:"NATS_URL" placeholder:"URL" group:"Connection" help:"NATS server URL(s), comma-separated (alias --nats-url); default the context's, else nats://127.0.0.1:4222."`
	Context   string        `name:"context" env:"NATS_CONTEXT" group:"Connection" help:"natscli context to connect with (its file in ~/.config/nats/context/); default the one 'nats context select' selected, if any. Flags override its settings."`
	NATSCreds string        `name:"creds" aliases:"nats-creds" env:"NATS_CREDS" group:"Connection" help:"NATS credentials file (alias --nats-creds)."`
	NATSNkey  string        `name:"nkey" env:"NATS_NKEY" group:"Connection" help:"NATS nkey seed file; with no credentials at all (flags or context), DATA_DIR/nats/client.nk when it exists (the key of the embedded server of a roomkeeper serve on this machine)."`
	User      string        `name:"user" env:"NATS_USER" group:"Connection" help:"NATS user name."`
	Password  string        `name:"password" env:"NATS_PASSWORD" group:"Connection" help:"NATS password."`
	TLSCert   string        `name:"tlscert" env:"NATS_CERT" group:"Connection" help:"TLS client certificate file (with --tlskey)."`
	TLSKey    string        `name:"tlskey" env:"NATS_KEY" group:"Connection" help:"TLS client private key file (with --tlscert)."`
	TLSCA     string        `name:"tlsca" env:"NATS_CA" group:"Connection" help:"TLS certificate authority file that verifies the server."`
	ConfigDir string        `name:"nats-config-dir" env:"XDG_CONFIG_HOME" hidden:"" help:"Where natscli's nats/context directory is looked for; default ~/.config."`
	DataDir   string        `name:"data-dir" env:"DATA_DIR" default:"./data" group:"Connection" help:"Data directory of a roomkeeper serve on this machine, where the nkey seed is looked for."`
	Inbox     string        `name:"inbox-prefix" env:"NATS_INBOX_PREFIX" group:"Connection" help:"Inbox prefix of the connection; a publisher key needs _INBOX_<name>."`
	Timeout   time.Duration `default:"30s" help:"How long to wait for a result or a reply."`

	Create            CreateCmd            `cmd:"" help:"Create a room (rooms.cmd.create) and print the result."`
	Delete            DeleteCmd            `cmd:"" help:"Delete rooms, or mark those with a meeting (rooms.cmd.delete)."`
	UpdatePreferences UpdatePreferencesCmd `cmd:"" name:"update-preferences" help:"Replace a room's preferences (rooms.cmd.update_preferences)."`
	UpdateConfig      UpdateConfigCmd      `cmd:"" name:"update-config" help:"Merge a partial config into a room's (rooms.cmd.update_config)."`
	UpdateStatus      UpdateStatusCmd      `cmd:"" name:"update-status" help:"Open or close a room (rooms.cmd.update_status)."`
	UpdateRoles       UpdateRolesCmd       `cmd:"" name:"update-roles" help:"Change a room's role permissions (rooms.cmd.update_roles)."`
	UpdateAccess      UpdateAccessCmd      `cmd:"" name:"update-access" help:"Switch a room's access links on or off (rooms.cmd.update_access)."`
	Sweep             SweepCmd             `cmd:"" help:"Run an expiry sweep now (rooms.cmd.sweep)."`
	Result            ResultCmd            `cmd:"" help:"Wait for and print the result of a command by its ID."`
	Get               GetCmd               `cmd:"" help:"Print a room."`
	List              ListCmd              `cmd:"" help:"List every room (follows all pages)."`
	Config            ConfigCmd            `cmd:"" help:"Print a room's config."`
	History           HistoryCmd           `cmd:"" help:"Print a room's history: every command and LiveKit webhook event about it, oldest first (follows all pages)."`
	Watch             WatchCmd             `cmd:"" help:"Print domain events as they arrive, one JSON line each."`
	Role              RoleCmd              `cmd:"" help:"Print the role a room secret gives."`
	RecordingToken    RecordingTokenCmd    `cmd:"" name:"recording-token" help:"Print a token for a room's recordings."`
	Token             TokenCmd             `cmd:"" help:"Print a LiveKit participant token for a room."`
	WebhookTest       WebhookTestCmd       `cmd:"" name:"webhook-test" help:"Send a signed test webhook event to a receiver and print its answer."`
	Bench             BenchCmd             `cmd:"" help:"Load benchmark: publish commands at a rate, wait for every result, print throughput and latency percentiles (and the raw store ceiling)."`
	Dead              DeadCmd              `cmd:"" help:"Dead letters: list them, replay one (its body, or an edited one, with a new command ID), purge them."`
	Commands          CommandsCmd          `cmd:"" help:"List the command ledger's records of a state (pending, done, failed, dead), the most recent first."`
}

// env is what every subcommand runs with.
type env struct {
	ctx context.Context
	// cancel ends ctx, and with it the command, when the server refuses
	// one of its publishes or subscriptions (the cause: the violation).
	cancel  context.CancelCauseFunc
	cli     CLI
	timeout time.Duration
	out     io.Writer
	errOut  io.Writer

	nc *nats.Conn
	c  *natsapi.Client
}

// client connects on first use, so bad usage is reported before any
// connection is tried.
func (e *env) client() (*natsapi.Client, error) {
	if e.c != nil {
		return e.c, nil
	}
	opts, err := resolveConn(e.cli)
	if err != nil {
		return nil, err
	}
	nc, err := opts.connect(e.cli.Timeout, e.asyncError)
	if err != nil {
		return nil, fail(ExitUnreachable, "%w", err)
	}
	c, err := natsapi.NewClient(nc)
	if err != nil {
		nc.Close()
		return nil, fail(ExitUnreachable, "%w", err)
	}
	e.nc, e.c = nc, c
	return c, nil
}

// asyncError handles the errors the server sends outside a request's
// answer: a permissions violation (a publisher key asking a query, a
// subscription outside its inbox prefix) ends the command at once, as
// nothing answers a refused message; others are printed.
func (e *env) asyncError(_ *nats.Conn, sub *nats.Subscription, err error) {
	if errors.Is(err, nats.ErrPermissionViolation) {
		e.cancel(err)
		return
	}
	if sub != nil {
		_, _ = fmt.Fprintf(e.errOut, "roomctl: %v (subscription on %q)\n", err, sub.Subject)
		return
	}
	_, _ = fmt.Fprintf(e.errOut, "roomctl: %v\n", err)
}

func (e *env) close() {
	if e.nc != nil {
		e.nc.Close()
	}
}

// exitError carries an exit code out of a subcommand.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func fail(code int, format string, args ...any) error {
	return &exitError{code: code, err: fmt.Errorf(format, args...)}
}

// Main runs roomctl with args (without the program name) and returns its
// exit code. ctx ends the command early (watch runs until it does). Errors
// go to stderr the way of internal/exitcode: the error first, and after a
// usage error a hint to the subcommand's --help, not the help itself.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) (code int) {
	var cli CLI
	parser, err := kong.New(&cli,
		kong.Name("roomctl"),
		kong.Description("The command-line client of roomkeeper."),
		kong.Writers(stdout, stderr),
		exitcode.KongExit(),
	)
	if err != nil {
		exitcode.Print(stderr, "roomctl", ExitUsage, err, "")
		return ExitUsage
	}
	defer exitcode.Recover(&code)
	kctx, err := parser.Parse(args)
	if err != nil {
		return exitcode.ParseError(stderr, "roomctl", err)
	}
	// Traces, when the standard OTEL_* variables ask for them: a
	// command's trace starts at its publish here.
	stopTraces, err := tracing.Setup(ctx, "roomctl")
	if err != nil {
		_, _ = fmt.Fprintln(stderr, "roomctl: traces off:", err)
	}
	defer func() {
		tctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = stopTraces(tctx)
	}()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	e := &env{ctx: ctx, cancel: cancel, cli: cli, timeout: cli.Timeout, out: stdout, errOut: stderr}
	defer e.close()
	err = kctx.Run(e)
	if err == nil {
		return ExitOK
	}
	if cause := context.Cause(ctx); errors.Is(cause, nats.ErrPermissionViolation) {
		err = fail(ExitUnreachable, "%w", cause)
	}
	code = ExitUnreachable
	var ee *exitError
	if errors.As(err, &ee) {
		code = ee.code
	} else if _, ok := events.AsError(err); ok {
		code = ExitErrorResult
	}
	exitcode.Print(stderr, "roomctl", code, err, exitcode.Command(kctx))
	return code
}

// withTimeout is the context of one command or query.
func (e *env) withTimeout() (context.Context, context.CancelFunc) {
	return context.WithTimeout(e.ctx, e.timeout)
}

// NewCommandID returns a fresh random command ID ("roomctl-" and 26
// characters from crypto/rand).
func NewCommandID() string { return "roomctl-" + strings.ToLower(rand.Text()) }

// commandFlags are the flags of every command that publishes.
type commandFlags struct {
	ID string `name:"id" help:"Command ID (Nats-Msg-Id); default a fresh random one. Repeat an ID to get the first result again."`
}

func (f commandFlags) id() (string, error) {
	if f.ID == "" {
		return NewCommandID(), nil
	}
	if !events.ValidCommandID(f.ID) {
		return "", fail(ExitUsage, "--id %q: 1 to 128 letters, digits, '-', '_' or ':'", f.ID)
	}
	return f.ID, nil
}

// do publishes body on subject as command id, prints the ID on stderr,
// waits for the result and prints it on stdout. An error result exits 1.
func (e *env) do(f commandFlags, subject string, body any) error {
	id, err := f.id()
	if err != nil {
		return err
	}
	raw, err := json.Marshal(body)
	if err != nil {
		return err
	}
	client, err := e.client()
	if err != nil {
		return err
	}
	ctx, cancel := e.withTimeout()
	defer cancel()
	if err := client.SendRaw(ctx, id, subject, raw); err != nil {
		return fail(ExitUnreachable, "publish %s: %w", subject, err)
	}
	_, _ = fmt.Fprintf(e.errOut, "command %s published on %s\n", id, subject)
	return e.waitResult(ctx, id)
}

func (e *env) waitResult(ctx context.Context, id string) error {
	client, err := e.client()
	if err != nil {
		return err
	}
	r, err := client.Result(ctx, id)
	if err != nil {
		return fail(ExitUnreachable, "%w (read it later with: roomctl result %s)", err, id)
	}
	if err := printJSON(e.out, r); err != nil {
		return err
	}
	if !r.OK {
		return &exitError{code: ExitErrorResult, err: r.Err()}
	}
	return nil
}

// jsonLines writes items as JSON Lines: one compact object a line.
func jsonLines[T any](w io.Writer, items []T) error {
	enc := json.NewEncoder(w)
	for _, it := range items {
		if err := enc.Encode(it); err != nil {
			return err
		}
	}
	return nil
}

func printJSON(w io.Writer, v any) error {
	raw, ok := v.(json.RawMessage)
	if !ok {
		var err error
		if raw, err = json.Marshal(v); err != nil {
			return err
		}
	}
	var b bytes.Buffer
	if err := json.Indent(&b, raw, "", "  "); err != nil {
		return err
	}
	_, err := fmt.Fprintln(w, b.String())
	return err
}

// rawJSON checks a flag holding JSON and returns it as is.
func rawJSON(flag, s string) (json.RawMessage, error) {
	if !json.Valid([]byte(s)) {
		return nil, fail(ExitUsage, "--%s is not valid JSON", flag)
	}
	return json.RawMessage(s), nil
}

// ctxCancel is the context of a command that runs until interrupted.
func (e *env) ctxCancel() (context.Context, context.CancelFunc) {
	return context.WithCancel(e.ctx)
}
