// Command roomctl is the command-line client of roomkeeper: it publishes
// commands and waits for their results, queries rooms and watches events.
// `roomctl --help` lists its subcommands; the logic lives in
// cmd/roomctl/internal/ctl.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/roomkeeper/roomkeeper/cmd/roomctl/internal/ctl"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := ctl.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
