package console

import (
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"
)

// Config says what the console reads and whom it lets in.
type Config struct {
	// Conn is the process's NATS connection; required.
	Conn *nats.Conn
	// Keys, when set, reports whether a key is one of the HTTP API's keys
	// (apikeys.Keys.Match: constant time).
	Keys func(key string) bool
	// Password is CONSOLE_PASSWORD ("" for none).
	Password string
	// Loopback says the HTTP server listens on a loopback address only:
	// then, with neither Keys nor Password, the console is open (and says
	// so); otherwise New fails with ErrNoAuth.
	Loopback bool
	// Gatherer is the registry the charts sample (nil: no charts).
	Gatherer prometheus.Gatherer
	// Log; default: logrus' standard logger.
	Log logrus.FieldLogger

	// Prefix is where the console is mounted; default /ui.
	Prefix string
	// SessionTTL is how long a login lasts; default 12h.
	SessionTTL time.Duration
	// SampleInterval is how often the charts sample the registry (default
	// 5s); Samples how many samples they keep (default 60).
	SampleInterval time.Duration
	Samples        int
	// Timeout bounds one NATS call of a page (a query, a command and its
	// result); default 10s.
	Timeout time.Duration
	// LoginBurst failed logins from one client address are allowed at
	// once, then one per LoginEvery (defaults 10 and 6s); over that the
	// login answers 429 without looking at the secret.
	LoginBurst int
	LoginEvery time.Duration
	// SessionKey signs the session cookies; default 32 random bytes drawn
	// by New (sessions then end with the process).
	SessionKey []byte
}

// WithDefaults returns c with zero fields set to their defaults.
func (c Config) WithDefaults() Config {
	if c.Log == nil {
		c.Log = logrus.StandardLogger()
	}
	if c.Prefix == "" {
		c.Prefix = "/ui"
	}
	if c.SessionTTL <= 0 {
		c.SessionTTL = 12 * time.Hour
	}
	if c.SampleInterval <= 0 {
		c.SampleInterval = 5 * time.Second
	}
	if c.Samples <= 0 {
		c.Samples = 60
	}
	if c.Timeout <= 0 {
		c.Timeout = 10 * time.Second
	}
	if c.LoginBurst <= 0 {
		c.LoginBurst = 10
	}
	if c.LoginEvery <= 0 {
		c.LoginEvery = 6 * time.Second
	}
	return c
}

// Open reports whether the console lets anyone in (neither keys nor
// password).
func (c Config) Open() bool { return c.Keys == nil && c.Password == "" }

func (c Config) validate() error {
	switch {
	case c.Conn == nil:
		return fmt.Errorf("%w: Conn is required", ErrConfig)
	case c.Open() && !c.Loopback:
		return ErrNoAuth
	case len(c.Prefix) < 2 || c.Prefix[0] != '/' || c.Prefix[len(c.Prefix)-1] == '/':
		return fmt.Errorf("%w: Prefix %q (want /name, no trailing slash)", ErrConfig, c.Prefix)
	case c.SessionKey != nil && len(c.SessionKey) < 16:
		return fmt.Errorf("%w: SessionKey shorter than 16 bytes", ErrConfig)
	}
	return nil
}
