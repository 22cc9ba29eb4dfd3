package cli_test

import (
	"bytes"
	"io"
	"net"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/roomkeeper/roomkeeper/cmd/roomkeeper/internal/cli"
)

func run(args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = cli.Main(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestVersion(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"--version"}, {"serve", "--version"}} {
		code, out, errOut := run(args...)
		require.Equal(t, 0, code, errOut)
		require.Regexp(t, `^roomkeeper \S+ \(commit \S+, go\S+\)\n$`, out)
	}
}

// TestUsageErrors: a usage error prints the error first and a hint to the
// command's help, not the help itself, and exits 2; invalid settings are
// usage errors too.
func TestUsageErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"serve", "--nope"}, "roomkeeper: error: unknown flag --nope\nRun 'roomkeeper serve --help' for usage.\n"},
		{[]string{"frobnicate"}, "roomkeeper: error: unexpected argument frobnicate\nRun 'roomkeeper --help' for usage.\n"},
		{[]string{"nkey", "add-publisher"}, "roomkeeper: error: expected \"<name>\"\nRun 'roomkeeper nkey add-publisher --help' for usage.\n"},
	} {
		code, out, errOut := run(tc.args...)
		require.Equal(t, 2, code, "%v", tc.args)
		require.Empty(t, out)
		require.Equal(t, tc.want, errOut, "%v", tc.args)
	}
	code, _, errOut := run("serve", "--embedded-nats-auth", "none", "--embedded-nats-addr", "192.0.2.1:4222", "--data-dir", t.TempDir())
	require.Equal(t, 2, code)
	require.Regexp(t, `^roomkeeper: error: invalid configuration: EMBEDDED_NATS_AUTH=none needs EMBEDDED_NATS_ADDR on a loopback address`, errOut)
	require.Contains(t, errOut, "Run 'roomkeeper serve --help' for usage.")
	require.NotContains(t, errOut, "Flags:")

	code, out, _ := run("--help")
	require.Equal(t, 0, code)
	require.Contains(t, out, "Usage: roomkeeper <command>")
}

// TestRunError: a role that fails exits 1 with the error.
func TestRunError(t *testing.T) {
	t.Parallel()
	code, _, errOut := run("nkey", "add-publisher", "bad name!", "--data-dir", t.TempDir())
	require.Equal(t, 1, code, errOut)
	require.Regexp(t, `^roomkeeper: error: `, errOut)
	require.NotContains(t, errOut, "--help")
}

// TestStartFailurePrintedOnce: a role that cannot start (its port is
// taken) exits 1 with the error first, printed once on the process's
// stderr (it was logged as well). Not parallel: it swaps os.Stderr, where
// loggers write by default.
func TestStartFailurePrintedOnce(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = ln.Close() })
	addr := ln.Addr().String()

	f, err := os.CreateTemp(t.TempDir(), "stderr")
	require.NoError(t, err)
	saved := os.Stderr
	os.Stderr = f
	code := cli.Main([]string{"serve", "--data-dir", t.TempDir(), "--embedded-nats-addr", addr, "--http-addr", "127.0.0.1:0"}, io.Discard, f)
	os.Stderr = saved
	require.NoError(t, f.Close())
	raw, err := os.ReadFile(f.Name())
	require.NoError(t, err)
	errOut := string(raw)

	require.Equal(t, 1, code, errOut)
	require.Contains(t, errOut, "roomkeeper: error: ")
	require.Equal(t, 1, strings.Count(errOut, "address already in use"), "the error once:\n%s", errOut)
	require.Contains(t, errOut, addr)
}

// TestInvalidTracingSettingsAreUsageErrors: an OTEL_* variable roomkeeper
// refuses (README "Traces") is an invalid setting from the environment:
// exit 2, as the README's exit codes say, with the variable named. Not
// parallel: it sets the environment.
func TestInvalidTracingSettingsAreUsageErrors(t *testing.T) {
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9")
	for _, env := range [][2]string{
		{"OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"},
		{"OTEL_TRACES_EXPORTER", "zipkin"},
	} {
		t.Run(env[0], func(t *testing.T) {
			t.Setenv(env[0], env[1])
			code, _, errOut := run("serve", "--data-dir", t.TempDir(), "--embedded-nats-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0")
			require.Equal(t, 2, code, errOut)
			require.Regexp(t, `^roomkeeper: error: .*`+env[0]+`=`+env[1], errOut)
		})
	}
}

// TestNoWebhookSecretIsAUsageError: OUTGOING_WEBHOOK_URLS without a secret
// to sign with (no OUTGOING_WEBHOOK_SECRET, no API key) is an invalid
// setting: exit 2. Not parallel: it sets the environment.
func TestNoWebhookSecretIsAUsageError(t *testing.T) {
	t.Setenv("OUTGOING_WEBHOOK_URLS", "http://127.0.0.1:9/hooks")
	for _, k := range []string{"OUTGOING_WEBHOOK_SECRET", "API_KEYS", "API_KEYS_FILE"} {
		t.Setenv(k, "")
	}
	code, _, errOut := run("serve", "--data-dir", t.TempDir(), "--embedded-nats-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0", "--log-level", "error")
	require.Equal(t, 2, code, errOut)
	require.Regexp(t, `^roomkeeper: error: .*OUTGOING_WEBHOOK_URLS is set but there is no secret`, errOut)
}
