// Command roomkeeper runs roomkeeper's roles: serve (all of them, on the
// embedded engines by default), worker, webhooks, scheduler, api, dispatcher;
// and adds publishers to the embedded NATS server (nkey add-publisher).
// `roomkeeper --help` lists them; the command line lives in
// cmd/roomkeeper/internal/cli.
package main

import (
	"os"

	"github.com/roomkeeper/roomkeeper/cmd/roomkeeper/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr))
}
