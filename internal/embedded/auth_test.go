package embedded_test

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
	"github.com/stretchr/testify/require"

	"github.com/roomkeeper/roomkeeper/internal/embedded"
)

func mode(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	require.NoError(t, err)
	return fi.Mode().Perm()
}

// The client seed is made once, 0600 in a 0700 directory whatever the
// umask, and read back the same at every start.
func TestLoadOrCreateSeed(t *testing.T) {
	old := syscall.Umask(0)
	t.Cleanup(func() { syscall.Umask(old) })
	dir := filepath.Join(t.TempDir(), "nats")
	path := filepath.Join(dir, embedded.ClientSeedFile)
	pub, err := embedded.LoadOrCreateSeed(path)
	require.NoError(t, err)
	require.True(t, nkeys.IsValidPublicUserKey(pub), pub)
	require.Equal(t, os.FileMode(0o600), mode(t, path))
	require.Equal(t, os.FileMode(0o700), mode(t, dir))

	again, err := embedded.LoadOrCreateSeed(path)
	require.NoError(t, err)
	require.Equal(t, pub, again, "the same key at every start")

	require.NoError(t, os.Chmod(path, 0o644))
	_, err = embedded.LoadOrCreateSeed(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), mode(t, path), "made private again")

	bad := filepath.Join(t.TempDir(), "bad.nk")
	require.NoError(t, os.WriteFile(bad, []byte("not a seed\n"), 0o600))
	_, err = embedded.LoadOrCreateSeed(bad)
	require.ErrorIs(t, err, embedded.ErrAuth)
}

// A publishers directory the server cannot read whole stops it from
// starting, rather than leaving a publisher out silently.
func TestPublishersDirErrors(t *testing.T) {
	client, err := embedded.LoadOrCreateSeed(filepath.Join(t.TempDir(), embedded.ClientSeedFile))
	require.NoError(t, err)
	start := func(dir string) error {
		ns, err := embedded.StartNATS(embedded.NATSConfig{Addr: "127.0.0.1:0", StoreDir: t.TempDir(), Auth: &embedded.Auth{Client: client, PublishersDir: dir}})
		if err == nil {
			ns.Shutdown()
			ns.WaitForShutdown()
		}
		return err
	}
	require.NoError(t, start(filepath.Join(t.TempDir(), "missing")), "no directory: no publisher")

	for name, content := range map[string]string{
		"bad name.pub": "",
		"account.pub":  "",
		"seed.pub":     "",
		"client.pub":   client,
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			switch name {
			case "bad name.pub":
				_, pub, err := embedded.AddPublisher(t.TempDir(), "ok")
				require.NoError(t, err)
				content = pub
			case "account.pub":
				kp, err := nkeys.CreateAccount()
				require.NoError(t, err)
				content, err = kp.PublicKey()
				require.NoError(t, err)
			case "seed.pub":
				kp, err := nkeys.CreateUser()
				require.NoError(t, err)
				seed, err := kp.Seed()
				require.NoError(t, err)
				content = string(seed)
			}
			require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(content+"\n"), 0o600))
			require.ErrorIs(t, start(dir), embedded.ErrAuth)
		})
	}

	_, _, err = embedded.AddPublisher(t.TempDir(), "no.dots")
	require.ErrorIs(t, err, embedded.ErrAuth)
}

// A publisher's key in the directory at start connects; the seed of a
// publisher removed from it does not.
func TestPublisherKeyConnects(t *testing.T) {
	natsDir := t.TempDir()
	client, err := embedded.LoadOrCreateSeed(filepath.Join(natsDir, embedded.ClientSeedFile))
	require.NoError(t, err)
	pubDir := filepath.Join(natsDir, embedded.PublishersDir)
	seed, _, err := embedded.AddPublisher(pubDir, "billing")
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o700), mode(t, pubDir))
	seedFile := filepath.Join(t.TempDir(), "billing.nk")
	require.NoError(t, embedded.WriteSeed(seedFile, seed))
	require.Error(t, embedded.WriteSeed(seedFile, seed), "never overwritten")
	_, _, err = embedded.AddPublisher(pubDir, "billing")
	require.ErrorIs(t, err, embedded.ErrAuth, "a name is taken once")

	connect := func() error {
		ns, err := embedded.StartNATS(embedded.NATSConfig{Addr: "127.0.0.1:0", StoreDir: t.TempDir(), Auth: &embedded.Auth{Client: client, PublishersDir: pubDir}})
		require.NoError(t, err)
		defer func() { ns.Shutdown(); ns.WaitForShutdown() }()
		o, err := nats.NkeyOptionFromSeed(seedFile)
		require.NoError(t, err)
		nc, err := nats.Connect(ns.ClientURL(), o)
		if err == nil {
			nc.Close()
		}
		return err
	}
	require.NoError(t, connect())
	require.NoError(t, os.Remove(filepath.Join(pubDir, "billing.pub")))
	require.Error(t, connect(), "removed from the directory: refused")
}
