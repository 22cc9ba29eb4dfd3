// Package exitcode is the one convention of roomkeeper's binaries
// (roomkeeper, roomctl) for exit codes and error messages: the error
// first, on stderr, as "<binary>: error: <message>"; after a usage error a
// one-line hint to the command's --help, never the whole help.
package exitcode

import (
	"errors"
	"fmt"
	"io"

	"github.com/alecthomas/kong"
)

// The exit codes. Unreachable is roomctl's: roomkeeper could not be
// reached or did not answer in time.
const (
	OK          = 0
	Error       = 1
	Usage       = 2
	Unreachable = 3
)

// Print writes err on w the convention's way for the binary name, with
// the hint to `<command> --help` when code is Usage; command is the
// command line's path to the subcommand at fault ("roomctl dead replay"),
// or empty for the binary's own help.
func Print(w io.Writer, name string, code int, err error, command string) {
	_, _ = fmt.Fprintf(w, "%s: error: %v\n", name, err)
	if code != Usage {
		return
	}
	if command == "" {
		command = name
	}
	_, _ = fmt.Fprintf(w, "Run '%s --help' for usage.\n", command)
}

// ParseError prints a kong parse error (an unknown flag, a missing or
// malformed argument) with the hint to the help of the subcommand it is
// about, and returns Usage.
func ParseError(w io.Writer, name string, err error) int {
	command := ""
	var pe *kong.ParseError
	if errors.As(err, &pe) && pe.Context != nil {
		command = Command(pe.Context)
	}
	Print(w, name, Usage, err, command)
	return Usage
}

// Command is the path of the subcommand kctx selected ("roomctl dead
// replay"), or empty when none is.
func Command(kctx *kong.Context) string {
	if kctx == nil || kctx.Selected() == nil {
		return ""
	}
	return kctx.Selected().FullPath()
}

// exitPanic is the panic value of KongExit, which Recover turns back into
// an exit code.
type exitPanic struct{ code int }

// KongExit is the kong option a Main parses with, so that kong's exit
// (after --help or --version) returns from Main, deferring Recover,
// instead of ending the process.
func KongExit() kong.Option {
	return kong.Exit(func(code int) { panic(exitPanic{code}) })
}

// Recover, deferred by a Main that parses with KongExit, sets *code to
// kong's exit code; any other panic goes on.
func Recover(code *int) {
	if r := recover(); r != nil {
		e, ok := r.(exitPanic)
		if !ok {
			panic(r)
		}
		*code = e.code
	}
}
