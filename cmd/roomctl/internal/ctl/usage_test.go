package ctl_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/roomkeeper/roomkeeper/cmd/roomctl/internal/ctl"
	"github.com/roomkeeper/roomkeeper/schemas"
)

func TestVersion(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"--version"}, {"create", "--version"}} {
		r := roomctl(t, "nats://127.0.0.1:1", args...)
		require.Equal(t, ctl.ExitOK, r.code, r.errOut)
		require.Regexp(t, `^roomctl \S+ \(commit \S+, go\S+\)\n$`, r.out)
	}
}

// TestUsageErrorFirstNoHelp: a usage error, from the parser or found by a
// subcommand, prints the error first and a hint to that subcommand's
// help, never the help itself.
func TestUsageErrorFirstNoHelp(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"create", "--frobnicate"}, "roomctl: error: unknown flag --frobnicate\nRun 'roomctl create --help' for usage.\n"},
		{[]string{"frobnicate"}, "roomctl: error: unexpected argument frobnicate\nRun 'roomctl --help' for usage.\n"},
		{[]string{"dead", "replay"}, "roomctl: error: expected \"<seq>\"\nRun 'roomctl dead replay --help' for usage.\n"},
		{[]string{"create", "--id", "bad id"}, "roomctl: error: --id \"bad id\": 1 to 128 letters, digits, '-', '_' or ':'\nRun 'roomctl create --help' for usage.\n"},
		{[]string{"result", "rooms.>"}, "roomctl: error: \"rooms.>\" is not a command ID: 1 to 128 letters, digits, '-', '_' or ':'\nRun 'roomctl result --help' for usage.\n"},
		{[]string{"result", "a b"}, "roomctl: error: \"a b\" is not a command ID: 1 to 128 letters, digits, '-', '_' or ':'\nRun 'roomctl result --help' for usage.\n"},
		{[]string{"watch", "--type", "create"}, "roomctl: error: --type \"create\" is not an event type: one of " + strings.Join(schemas.EventTypes, ", ") + "\nRun 'roomctl watch --help' for usage.\n"},
		{[]string{"dead", "purge"}, "roomctl: error: give the sequences of the dead letters to delete, or --all\nRun 'roomctl dead purge --help' for usage.\n"},
	} {
		r := roomctl(t, "nats://127.0.0.1:1", tc.args...)
		require.Equal(t, ctl.ExitUsage, r.code, "%v", tc.args)
		require.Empty(t, r.out)
		require.Equal(t, tc.want, r.errOut, "%v", tc.args)
	}
	// Other errors: the error alone.
	r := roomctl(t, "nats://127.0.0.1:1", "list")
	require.Equal(t, ctl.ExitUnreachable, r.code)
	require.Regexp(t, `^roomctl: error: connect nats://127.0.0.1:1: .*\n$`, r.errOut)
}
