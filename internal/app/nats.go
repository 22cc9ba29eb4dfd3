package app

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/roomkeeper/roomkeeper/internal/config"
	"github.com/roomkeeper/roomkeeper/internal/embedded"
)

// startEmbedded starts the embedded NATS server, its file store and keys
// under DATA_DIR/nats (0700), and returns its client URL. With
// EMBEDDED_NATS_AUTH=nkey (the default) it makes the client seed at the
// first start and accepts only it and the publishers' keys.
func (a *App) startEmbedded() (string, error) {
	cfg := a.cfg
	dir := cfg.NATSDir()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	// The JetStream store holds room secrets (results) and the seed
	// gives every permission: only the owner may enter.
	if err := privateDir(dir); err != nil {
		return "", err
	}
	ncfg := embedded.NATSConfig{Addr: cfg.EmbeddedNATSAddr, StoreDir: dir}
	if cfg.EmbeddedNATSAuth == config.AuthNkey {
		pub, err := embedded.LoadOrCreateSeed(cfg.NATSSeedPath())
		if err != nil {
			return "", err
		}
		ncfg.Auth = &embedded.Auth{Client: pub, PublishersDir: cfg.NATSPublishersDir()}
	} else {
		a.log.WithField("addr", cfg.EmbeddedNATSAddr).Warn("EMBEDDED_NATS_AUTH=none: the embedded NATS server accepts any local process")
	}
	ns, err := embedded.StartNATS(ncfg)
	if err != nil {
		return "", err
	}
	a.ns = ns
	entry := a.log.WithField("addr", ns.Addr().String())
	if ncfg.Auth != nil {
		pubs, _ := embedded.LoadPublishers(ncfg.Auth.PublishersDir) // read by StartNATS already
		names := make([]string, len(pubs))
		for i, p := range pubs {
			names[i] = p.Name
		}
		entry = entry.WithField("seed", cfg.NATSSeedPath()).WithField("publishers", names)
	}
	entry.Info("embedded NATS server with JetStream started")
	return ns.ClientURL(), nil
}

// privateDir makes dir accessible to its owner only when it is open to
// anyone else (chmod: whatever the umask).
func privateDir(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if fi.Mode().Perm()&0o077 == 0 {
		return nil
	}
	return os.Chmod(dir, 0o700) //nolint:gosec // a directory: owner-only, with the search bit G302 does not allow
}

// AddPublisher makes a key for publisher name on the embedded NATS server
// of cfg: its public key in DATA_DIR/nats/publishers/NAME.pub, its seed in
// seedOut (default NAME.nk, mode 0600, never overwritten), and tells out
// how the publisher connects. The server loads it at its next start.
func AddPublisher(cfg config.Config, name, seedOut string, out io.Writer) error {
	if seedOut == "" {
		seedOut = name + ".nk"
	}
	if _, err := os.Lstat(seedOut); err == nil {
		return fmt.Errorf("%w: %s exists already", embedded.ErrAuth, seedOut)
	}
	seed, pub, err := embedded.AddPublisher(cfg.NATSPublishersDir(), name)
	if err != nil {
		return err
	}
	if err := embedded.WriteSeed(seedOut, seed); err != nil {
		_ = os.Remove(filepath.Join(cfg.NATSPublishersDir(), name+embedded.PublisherKeyExt))
		return err
	}
	_, err = fmt.Fprintf(out, `publisher %s: public key %s
  seed:         %s (mode 0600; give it to the publisher only)
  inbox prefix: %s
  may publish rooms.cmd.> and read rooms.results.> (subscribe, stream get, ordered consumer)
  restart roomkeeper serve to load it; then, e.g.:
  nats --nkey %s --inbox-prefix %s pub rooms.cmd.create '{"roomName":"x"}' -H Nats-Msg-Id:x-1
`, name, pub, seedOut, embedded.PublisherInboxPrefix(name), seedOut, embedded.PublisherInboxPrefix(name))
	return err
}

// SeedFile is the nkey seed file the process connects to NATS with, ""
// when none: DATA_DIR/nats/client.nk on the embedded server.
func (a *App) SeedFile() string { return a.seed }
