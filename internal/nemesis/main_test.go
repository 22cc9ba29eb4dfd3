package nemesis

import (
	"flag"
	"os"
	"testing"

	"github.com/roomkeeper/roomkeeper/internal/procs"
)

// Binaries built once for the package by TestMain.
var (
	roomkeeperBin string
	natsServerBin string
	ferretDBBin   string
)

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		os.Exit(m.Run()) // TestNemesis skips; no binaries needed
	}
	os.Exit(procs.RunWithBinaries(m, "nemesis", map[string]string{
		"roomkeeper":  procs.PkgRoomkeeper,
		"nats-server": procs.PkgNATSServer,
		"ferretdb":    procs.PkgFerretDB,
	}, map[string]*string{"roomkeeper": &roomkeeperBin, "nats-server": &natsServerBin, "ferretdb": &ferretDBBin}))
}
