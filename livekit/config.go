package livekit

import (
	"fmt"
	"net/url"
	"time"
)

// Defaults applied by Config.WithDefaults.
const (
	DefaultEmptyTimeout      = 20 * time.Second
	DefaultDepartureTimeout  = 20 * time.Second
	DefaultRequestTimeout    = 5 * time.Second
	DefaultTokenTTL          = 6 * time.Hour
	DefaultRecordingTokenTTL = 2 * time.Hour
	DefaultCreatedBy         = "roomkeeper"
)

// Config configures a Client. The zero value with a URL, key and secret is
// usable: WithDefaults fills the rest. An empty URL makes the Client
// detached.
type Config struct {
	// URL of the LiveKit server (ws, wss, http or https). Empty: detached.
	URL string
	// APIKey and APISecret sign API calls and tokens; required with a URL.
	APIKey    string
	APISecret string

	// EmptyTimeout is how long LiveKit keeps a room nobody joined (sent in
	// whole seconds, rounded up). Default 20s.
	EmptyTimeout time.Duration
	// DepartureTimeout is how long LiveKit keeps a room after its last
	// participant left (whole seconds, rounded up). Default 20s.
	DepartureTimeout time.Duration
	// RequestTimeout bounds each call to the server when the caller's
	// context has no earlier deadline. Default 5s.
	RequestTimeout time.Duration
	// TokenTTL is the validity of participant tokens. Default 6h.
	TokenTTL time.Duration
	// RecordingTokenTTL is the validity of recording tokens. Default 2h.
	RecordingTokenTTL time.Duration
	// CreatedBy is the createdBy field of the room metadata. Default
	// "roomkeeper".
	CreatedBy string

	// ExtraLatency is added before every call to the server. For benchmarks
	// that model a remote LiveKit; leave zero otherwise. A detached client
	// waits it too in the calls it answers by itself (HasActiveMeeting,
	// RoomExists, ListRooms, DeleteRoom), so handlers can be made I/O-bound
	// without a server (roomkeeper's hidden LIVEKIT_EXTRA_LATENCY).
	ExtraLatency time.Duration
}

// WithDefaults returns a copy of c with every unset field at its default.
func (c Config) WithDefaults() Config {
	if c.EmptyTimeout == 0 {
		c.EmptyTimeout = DefaultEmptyTimeout
	}
	if c.DepartureTimeout == 0 {
		c.DepartureTimeout = DefaultDepartureTimeout
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = DefaultRequestTimeout
	}
	if c.TokenTTL == 0 {
		c.TokenTTL = DefaultTokenTTL
	}
	if c.RecordingTokenTTL == 0 {
		c.RecordingTokenTTL = DefaultRecordingTokenTTL
	}
	if c.CreatedBy == "" {
		c.CreatedBy = DefaultCreatedBy
	}
	return c
}

// validate checks a config that went through WithDefaults.
func (c Config) validate() error {
	for name, d := range map[string]time.Duration{
		"EmptyTimeout":      c.EmptyTimeout,
		"DepartureTimeout":  c.DepartureTimeout,
		"RequestTimeout":    c.RequestTimeout,
		"TokenTTL":          c.TokenTTL,
		"RecordingTokenTTL": c.RecordingTokenTTL,
	} {
		if d < 0 {
			return fmt.Errorf("%w: %s is negative (%s)", ErrInvalidConfig, name, d)
		}
	}
	if c.ExtraLatency < 0 {
		return fmt.Errorf("%w: ExtraLatency is negative (%s)", ErrInvalidConfig, c.ExtraLatency)
	}
	if secs := seconds(c.EmptyTimeout); secs > maxTimeoutSeconds {
		return fmt.Errorf("%w: EmptyTimeout %s is too long", ErrInvalidConfig, c.EmptyTimeout)
	}
	if secs := seconds(c.DepartureTimeout); secs > maxTimeoutSeconds {
		return fmt.Errorf("%w: DepartureTimeout %s is too long", ErrInvalidConfig, c.DepartureTimeout)
	}
	if c.URL == "" {
		return nil // detached: nothing else is used
	}
	u, err := url.Parse(c.URL)
	if err != nil {
		return fmt.Errorf("%w: URL: %w", ErrInvalidConfig, err)
	}
	switch u.Scheme {
	case "ws", "wss", "http", "https":
	default:
		return fmt.Errorf("%w: URL %q: scheme must be ws, wss, http or https", ErrInvalidConfig, c.URL)
	}
	if u.Host == "" {
		return fmt.Errorf("%w: URL %q has no host", ErrInvalidConfig, c.URL)
	}
	if c.APIKey == "" || c.APISecret == "" {
		return fmt.Errorf("%w: APIKey and APISecret are required with a URL", ErrInvalidConfig)
	}
	return nil
}

// maxTimeoutSeconds keeps room timeouts inside LiveKit's uint32 seconds.
const maxTimeoutSeconds = 1<<32 - 1

// seconds rounds d up to whole seconds, as LiveKit counts room timeouts.
func seconds(d time.Duration) int64 {
	return int64((d + time.Second - 1) / time.Second)
}
