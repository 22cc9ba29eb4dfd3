package nemesis

import (
	"flag"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/roomkeeper/roomkeeper/internal/procs"
)

// Binaries built once for the package by TestMain.
var (
	roomkeeperBin string
	natsServerBin string
	ferretDBBin   string
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	flag.Parse()
	if testing.Short() {
		return m.Run() // TestNemesis skips; no binaries needed
	}
	dir, err := os.MkdirTemp("", "nemesis-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "nemesis:", err)
		return 1
	}
	defer func() { _ = os.RemoveAll(dir) }()
	start := time.Now()
	bins, err := procs.Build(dir, map[string]string{
		"roomkeeper": procs.PkgRoomkeeper, "nats-server": procs.PkgNATSServer,
		"ferretdb": "github.com/roomkeeper/roomkeeper/internal/faulttest/ferretdb",
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "nemesis:", err)
		return 1
	}
	roomkeeperBin, natsServerBin, ferretDBBin = bins["roomkeeper"], bins["nats-server"], bins["ferretdb"]
	fmt.Fprintf(os.Stderr, "nemesis: built roomkeeper, nats-server and ferretdb in %s\n", time.Since(start).Round(time.Millisecond))
	return m.Run()
}
