package cli_test

import (
	"bytes"
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
