package faulttest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
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
	dir, err := os.MkdirTemp("", "faulttest-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "faulttest:", err)
		return 1
	}
	defer func() { _ = os.RemoveAll(dir) }()
	roomkeeperBin = filepath.Join(dir, "roomkeeper")
	natsServerBin = filepath.Join(dir, "nats-server")
	ferretDBBin = filepath.Join(dir, "ferretdb")
	start := time.Now()
	for _, b := range []struct{ out, pkg string }{
		{roomkeeperBin, "github.com/roomkeeper/roomkeeper/cmd/roomkeeper"},
		{natsServerBin, "github.com/nats-io/nats-server/v2"},
		{ferretDBBin, "github.com/roomkeeper/roomkeeper/internal/faulttest/ferretdb"},
	} {
		cmd := exec.Command("go", "build", "-o", b.out, b.pkg)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "faulttest: go build %s: %v\n", b.pkg, err)
			return 1
		}
	}
	fmt.Fprintf(os.Stderr, "faulttest: built roomkeeper, nats-server and ferretdb in %s\n", time.Since(start).Round(time.Millisecond))
	return m.Run()
}
