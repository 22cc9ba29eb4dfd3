package gateway

import (
	"fmt"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/roomkeeper/roomkeeper/apispec"
	"github.com/roomkeeper/roomkeeper/natsapi"
)

// Defaults of Config.
const (
	DefaultCommandTimeout = 10 * time.Second
	DefaultMaxBodyBytes   = 1 << 20
)

// Keys checks an API key (internal/apikeys.Keys is one): Match must take
// the same time whatever part of the key matches.
type Keys interface {
	Match(key string) bool
}

// Config of a Gateway.
type Config struct {
	// Client sends the commands and queries (required).
	Client *natsapi.Client
	// Keys are the API keys accepted in X-API-KEY (required).
	Keys Keys
	// CommandTimeout bounds how long a write waits for its command's
	// result, and a read for its query's reply (API_COMMAND_TIMEOUT;
	// default 10s, 100ms..5m).
	CommandTimeout time.Duration
	// MaxBodyBytes caps a request body (default 1 MiB): a larger one is
	// answered 413.
	MaxBodyBytes int64
	// Spec is served at GET /api/v1/openapi.yaml (no key needed);
	// default: apispec.YAML(), the API as roomkeeper serves it.
	Spec []byte
	// Log (default: logrus' standard logger).
	Log logrus.FieldLogger
}

// WithDefaults returns the config with its zero settings defaulted.
func (c Config) WithDefaults() Config {
	if c.CommandTimeout == 0 {
		c.CommandTimeout = DefaultCommandTimeout
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.Spec == nil {
		c.Spec = apispec.YAML()
	}
	if c.Log == nil {
		c.Log = logrus.StandardLogger()
	}
	return c
}

func (c Config) validate() error {
	switch {
	case c.Client == nil:
		return fmt.Errorf("%w: no NATS client", ErrConfig)
	case c.Keys == nil:
		return fmt.Errorf("%w: no API keys", ErrConfig)
	case c.CommandTimeout < 100*time.Millisecond || c.CommandTimeout > 5*time.Minute:
		return fmt.Errorf("%w: command timeout %s not in 100ms..5m", ErrConfig, c.CommandTimeout)
	case c.MaxBodyBytes < 1024:
		return fmt.Errorf("%w: max body bytes %d below 1024", ErrConfig, c.MaxBodyBytes)
	}
	return nil
}
