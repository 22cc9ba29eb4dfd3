package livekit

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestConfigDefaults(t *testing.T) {
	t.Parallel()
	c := Config{}.WithDefaults()
	require.Equal(t, 20*time.Second, c.EmptyTimeout)
	require.Equal(t, 20*time.Second, c.DepartureTimeout)
	require.Equal(t, DefaultRequestTimeout, c.RequestTimeout)
	require.Equal(t, DefaultTokenTTL, c.TokenTTL)
	require.Equal(t, 2*time.Hour, c.RecordingTokenTTL)
	require.Equal(t, "roomkeeper", c.CreatedBy)

	set := Config{EmptyTimeout: 3 * time.Second, CreatedBy: "x"}.WithDefaults()
	require.Equal(t, 3*time.Second, set.EmptyTimeout)
	require.Equal(t, "x", set.CreatedBy)
}

func TestConfigValidation(t *testing.T) {
	t.Parallel()
	ok := Config{URL: "ws://127.0.0.1:7880", APIKey: "k", APISecret: "s"}
	for name, mutate := range map[string]func(*Config){
		"bad scheme":          func(c *Config) { c.URL = "ftp://127.0.0.1:7880" },
		"no host":             func(c *Config) { c.URL = "ws://" },
		"unparsable":          func(c *Config) { c.URL = "ws://[::1" },
		"no key":              func(c *Config) { c.APIKey = "" },
		"no secret":           func(c *Config) { c.APISecret = "" },
		"negative empty":      func(c *Config) { c.EmptyTimeout = -time.Second },
		"negative departure":  func(c *Config) { c.DepartureTimeout = -time.Second },
		"negative request":    func(c *Config) { c.RequestTimeout = -time.Second },
		"negative token ttl":  func(c *Config) { c.TokenTTL = -time.Second },
		"negative latency":    func(c *Config) { c.ExtraLatency = -time.Millisecond },
		"huge empty timeout":  func(c *Config) { c.EmptyTimeout = 200 * 365 * 24 * time.Hour },
		"negative recording":  func(c *Config) { c.RecordingTokenTTL = -time.Second },
		"detached, bad value": func(c *Config) { c.URL = ""; c.EmptyTimeout = -1 },
	} {
		cfg := ok
		mutate(&cfg)
		_, err := New(cfg)
		require.Truef(t, errors.Is(err, ErrInvalidConfig), "%s: got %v", name, err)
	}
	for _, u := range []string{"ws://127.0.0.1:7880", "wss://lk.example", "http://127.0.0.1:7880", "https://lk.example"} {
		cfg := ok
		cfg.URL = u
		c, err := New(cfg)
		require.NoError(t, err, u)
		require.False(t, c.Detached())
		require.Equal(t, u, c.URL())
	}
	// Detached needs no key.
	c, err := New(Config{})
	require.NoError(t, err)
	require.True(t, c.Detached())
}

func TestSecondsRoundsUp(t *testing.T) {
	t.Parallel()
	require.EqualValues(t, 0, seconds(0))
	require.EqualValues(t, 1, seconds(time.Millisecond))
	require.EqualValues(t, 3, seconds(3*time.Second))
	require.EqualValues(t, 4, seconds(3*time.Second+time.Nanosecond))
}
