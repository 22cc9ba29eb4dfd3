package ctl_test

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/roomkeeper/roomkeeper/cmd/roomctl/internal/ctl"
	"github.com/roomkeeper/roomkeeper/internal/app"
	"github.com/roomkeeper/roomkeeper/internal/config"
)

// roomctl on the machine of a roomkeeper serve connects to its embedded
// NATS server with no flag: it finds the seed in ./data/nats/client.nk
// (DATA_DIR's default), or where --data-dir or --nkey say; without a key
// the server refuses it.
func TestRoomctlFindsTheSeedOfServe(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	url, dataDir := serveAt(t, filepath.Join(dir, "data"))

	r := roomctl(t, url, "create", "--name", "no flags")
	require.Equal(t, ctl.ExitOK, r.code, "%s%s", r.out, r.errOut)
	require.True(t, r.result(t).OK)

	elsewhere := t.TempDir()
	r = roomctl(t, url, "--data-dir", elsewhere, "list")
	require.Equal(t, ctl.ExitUnreachable, r.code, "%s%s", r.out, r.errOut)
	require.Contains(t, strings.ToLower(r.errOut), "authorization violation")

	seed, err := os.ReadFile(filepath.Join(dataDir, "nats", "client.nk"))
	require.NoError(t, err)
	copied := filepath.Join(elsewhere, "roomkeeper.nk")
	require.NoError(t, os.WriteFile(copied, seed, 0o600))
	r = roomctl(t, url, "--data-dir", elsewhere, "--nkey", copied, "list")
	require.Equal(t, ctl.ExitOK, r.code, "%s%s", r.out, r.errOut)

	r = roomctl(t, url, "--data-dir", dataDir, "list")
	require.Equal(t, ctl.ExitOK, r.code, "%s%s", r.out, r.errOut)
}

// roomctl with a publisher's key (roomkeeper nkey add-publisher) creates
// rooms and reads results, with the publisher's inbox prefix, and is
// refused queries.
func TestRoomctlAsAPublisher(t *testing.T) {
	dataDir := t.TempDir()
	cfg := config.Default()
	cfg.DataDir = dataDir
	seed := filepath.Join(t.TempDir(), "billing.nk")
	require.NoError(t, app.AddPublisher(cfg, "billing", seed, io.Discard))
	url, _ := serveAt(t, dataDir)
	as := []string{"--data-dir", t.TempDir(), "--nkey", seed, "--inbox-prefix", "_INBOX_billing"}

	r := roomctl(t, url, append(as, "create", "--id", "billing-1", "--name", "billed")...)
	require.Equal(t, ctl.ExitOK, r.code, "%s%s", r.out, r.errOut)
	r = roomctl(t, url, append(as, "result", "billing-1")...)
	require.Equal(t, ctl.ExitOK, r.code, "%s%s", r.out, r.errOut)
	require.True(t, r.result(t).OK)

	// Refused at once, saying why, rather than after --timeout.
	start := time.Now()
	r = roomctl(t, url, append(as, "--timeout", "20s", "list")...)
	require.Equal(t, ctl.ExitUnreachable, r.code, "%s%s", r.out, r.errOut)
	require.Less(t, time.Since(start), 10*time.Second, "a refused query ends the command")
	require.Regexp(t, `(?m)^roomctl: error: .*Permissions Violation for Publish to "rooms.api.list"`, r.errOut)
	start = time.Now()
	r = roomctl(t, url, "--data-dir", t.TempDir(), "--nkey", seed, "--timeout", "20s", "create", "--name", "no inbox prefix")
	require.Equal(t, ctl.ExitUnreachable, r.code, "replies on _INBOX are not the publisher's: %s%s", r.out, r.errOut)
	require.Less(t, time.Since(start), 10*time.Second, "a refused subscription ends the command")
	require.Regexp(t, `(?m)^roomctl: error: .*Permissions Violation for Subscription to "_INBOX`, r.errOut)
}
