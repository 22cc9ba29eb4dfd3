package config_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/alecthomas/kong"
	"github.com/stretchr/testify/require"

	"github.com/roomkeeper/roomkeeper/internal/config"
)

func TestDefaultsMatchTheFlagDefaults(t *testing.T) {
	var cfg config.Config
	p, err := kong.New(&cfg, kong.Exit(func(int) {}))
	require.NoError(t, err)
	_, err = p.Parse(nil)
	require.NoError(t, err)
	require.Equal(t, config.Default(), cfg)
	require.NoError(t, cfg.Validate())
}

func TestEnvironmentFallbacks(t *testing.T) {
	t.Setenv("NATS_URL", "nats://127.0.0.1:4333")
	t.Setenv("SWEEP_INTERVAL", "5m")
	t.Setenv("MIN_AUTO_DELETION_DELAY", "0s")
	t.Setenv("WORKER_CONCURRENCY", "7")
	t.Setenv("LOG_FORMAT", "json")
	t.Setenv("STREAM_DUPLICATES_WINDOW", "1m")
	var cfg config.Config
	p, err := kong.New(&cfg, kong.Exit(func(int) {}))
	require.NoError(t, err)
	_, err = p.Parse([]string{"--worker-concurrency", "9"})
	require.NoError(t, err)
	require.Equal(t, "nats://127.0.0.1:4333", cfg.NATSURL)
	require.Equal(t, 5*time.Minute, cfg.SweepInterval)
	require.Zero(t, cfg.MinAutoDeletionDelay)
	require.Equal(t, 9, cfg.WorkerConcurrency, "a flag wins over the environment")
	require.Equal(t, "json", cfg.LogFormat)
	require.Equal(t, time.Minute, cfg.StreamDuplicatesWindow)
	require.NoError(t, cfg.Validate())
}

func TestValidateNamesTheSetting(t *testing.T) {
	for name, mutate := range map[string]func(*config.Config){
		"WORKER_CONCURRENCY":       func(c *config.Config) { c.WorkerConcurrency = 0 },
		"STREAM_REPLICAS":          func(c *config.Config) { c.StreamReplicas = 9 },
		"STREAM_DUPLICATES_WINDOW": func(c *config.Config) { c.StreamDuplicatesWindow = 30 * time.Second },
		"SWEEP_INTERVAL":           func(c *config.Config) { c.SweepInterval = time.Millisecond },
		"MONGO_URI":                func(c *config.Config) { c.MongoURI = "postgres://x" },
		"LIVEKIT_URL":              func(c *config.Config) { c.LiveKitURL = "ws://127.0.0.1:7880" },
		"BASE_URL":                 func(c *config.Config) { c.BaseURL = "not a url" },
		"MIN_AUTO_DELETION_DELAY":  func(c *config.Config) { c.MinAutoDeletionDelay = -time.Second },
		"HTTP_READ_TIMEOUT":        func(c *config.Config) { c.HTTPReadTimeout = 0 },
		"HTTP_IDLE_TIMEOUT":        func(c *config.Config) { c.HTTPIdleTimeout = -time.Second },
		"HTTP_READ_HEADER_TIMEOUT": func(c *config.Config) {
			c.HTTPReadHeaderTimeout = c.HTTPReadTimeout + time.Second
		},
		"HTTP_WRITE_TIMEOUT":          func(c *config.Config) { c.HTTPWriteTimeout = c.HTTPReadTimeout },
		"HTTP_MAX_HEADER_BYTES":       func(c *config.Config) { c.HTTPMaxHeaderBytes = 100 },
		"WEBHOOK_MAX_IN_FLIGHT_BYTES": func(c *config.Config) { c.WebhookMaxInFlightBytes = 1000 },
		"OUTGOING_WEBHOOK_URLS": func(c *config.Config) {
			c.OutgoingWebhookURLs = "https://hooks.example/a|meetingStarted,meetingBegun"
		},
		"OUTGOING_WEBHOOK_TIMEOUT":   func(c *config.Config) { c.OutgoingWebhookTimeout = 0 },
		"OUTGOING_WEBHOOK_RETRY_MIN": func(c *config.Config) { c.OutgoingWebhookRetryMin = c.OutgoingWebhookRetryMax + time.Second },
		"OUTGOING_WEBHOOK_TRIES":     func(c *config.Config) { c.OutgoingWebhookTries = 0 },
		"CONSOLE_PASSWORD":           func(c *config.Config) { c.ConsolePassword = "short" },
	} {
		t.Run(name, func(t *testing.T) {
			cfg := config.Default()
			mutate(&cfg)
			err := cfg.Validate()
			require.True(t, errors.Is(err, config.ErrInvalid), "%v", err)
			require.Contains(t, err.Error(), name)
		})
	}
}

// With the HTTP API on, an API_COMMAND_TIMEOUT the HTTP server's write
// timeout cuts short is refused: the caller would get a closed connection
// instead of the 503 with the command ID.
func TestAPICommandTimeoutFitsTheWriteTimeout(t *testing.T) {
	cfg := config.Default()
	cfg.APIKeys = "k"
	cfg.APICommandTimeout = time.Minute
	err := cfg.Validate()
	require.True(t, errors.Is(err, config.ErrInvalid), "%v", err)
	require.Contains(t, err.Error(), "API_COMMAND_TIMEOUT")
	cfg.HTTPWriteTimeout = cfg.HTTPReadTimeout + time.Minute + time.Second
	require.NoError(t, cfg.Validate())
	cfg.APIKeys, cfg.HTTPWriteTimeout = "", config.Default().HTTPWriteTimeout
	require.NoError(t, cfg.Validate(), "no API, no constraint")
	def := config.Default()
	require.NoError(t, def.Validate())
}

// EMBEDDED_NATS_AUTH=none is refused unless the embedded server listens on
// a loopback address; nkey (the default) is accepted on any address.
func TestEmbeddedAuthNoneOnlyOnLoopback(t *testing.T) {
	for addr, ok := range map[string]bool{
		"127.0.0.1:4222": true,
		"127.0.0.5:0":    true,
		"[::1]:4222":     true,
		"localhost:4222": true,
		"0.0.0.0:4222":   false,
		":4222":          false,
		"[::]:4222":      false,
		"10.1.2.3:4222":  false,
		"nats.lan:4222":  false,
	} {
		t.Run(addr, func(t *testing.T) {
			cfg := config.Default()
			cfg.EmbeddedNATSAddr = addr
			require.NoError(t, cfg.Validate(), "nkey auth on any address")
			cfg.EmbeddedNATSAuth = config.AuthNone
			err := cfg.Validate()
			if ok {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, config.ErrInvalid)
			require.Contains(t, err.Error(), "EMBEDDED_NATS_AUTH=none")
			require.Contains(t, err.Error(), "loopback")

			// With an external NATS_URL there is no embedded server.
			cfg.NATSURL = "nats://10.1.2.3:4222"
			require.NoError(t, cfg.Validate())
		})
	}
}

func TestEmbeddedAuthFromTheEnvironment(t *testing.T) {
	t.Setenv("EMBEDDED_NATS_AUTH", "none")
	var cfg config.Config
	p, err := kong.New(&cfg, kong.Exit(func(int) {}))
	require.NoError(t, err)
	_, err = p.Parse(nil)
	require.NoError(t, err)
	require.Equal(t, config.AuthNone, cfg.EmbeddedNATSAuth)
	require.Equal(t, config.AuthNkey, config.Default().EmbeddedNATSAuth, "nkey by default")
	_, err = p.Parse([]string{"--embedded-nats-auth", "password"})
	require.Error(t, err, "only nkey or none")
}

// The duplicates window covers the longest redelivery delay and fits in
// the shortest stream MaxAge.
func TestStreamDuplicatesWindowBounds(t *testing.T) {
	for d, ok := range map[time.Duration]bool{
		0:                                false,
		59 * time.Second:                 false,
		config.MinStreamDuplicatesWindow: true,
		10 * time.Minute:                 true,
		config.MaxStreamDuplicatesWindow: true,
		25 * time.Hour:                   false,
	} {
		cfg := config.Default()
		cfg.StreamDuplicatesWindow = d
		err := cfg.Validate()
		if ok {
			require.NoError(t, err, "%s", d)
			continue
		}
		require.ErrorIs(t, err, config.ErrInvalid, "%s", d)
		require.Contains(t, err.Error(), "STREAM_DUPLICATES_WINDOW")
	}
}

// The ledger's pruning settings come from flags or the environment, and
// nonsense is refused with the setting's name.
func TestLedgerPruneSettings(t *testing.T) {
	t.Setenv("LEDGER_RETENTION", "48h")
	t.Setenv("LEDGER_PRUNE_MAX", "250")
	var cfg config.Config
	p, err := kong.New(&cfg, kong.Exit(func(int) {}))
	require.NoError(t, err)
	_, err = p.Parse(nil)
	require.NoError(t, err)
	require.Equal(t, 48*time.Hour, cfg.LedgerRetention)
	require.Equal(t, 250, cfg.LedgerPruneMax)
	require.NoError(t, cfg.Validate())
	_, err = p.Parse([]string{"--ledger-retention", "0s", "--ledger-prune-max", "7"})
	require.NoError(t, err)
	require.Zero(t, cfg.LedgerRetention, "0: never prune")
	require.Equal(t, 7, cfg.LedgerPruneMax, "a flag wins over the environment")
	require.NoError(t, cfg.Validate())

	for name, mutate := range map[string]func(*config.Config){
		"LEDGER_RETENTION":  func(c *config.Config) { c.LedgerRetention = time.Hour },
		"LEDGER_RETENTION ": func(c *config.Config) { c.LedgerRetention = -time.Hour },
		"LEDGER_PRUNE_MAX":  func(c *config.Config) { c.LedgerPruneMax = 0 },
		"LEDGER_PRUNE_MAX ": func(c *config.Config) { c.LedgerPruneMax = 2_000_000 },
	} {
		cfg := config.Default()
		mutate(&cfg)
		err := cfg.Validate()
		require.ErrorIs(t, err, config.ErrInvalid, name)
		require.Contains(t, err.Error(), strings.TrimSpace(name))
	}
	cfg = config.Default()
	cfg.LedgerRetention = config.MinLedgerRetention
	require.NoError(t, cfg.Validate(), "the results stream's age is enough")
}

// LIVEKIT_API_SECRET is at least 32 characters, as docker-compose.yml and
// LiveKit ask; the error never shows the secret.
func TestLiveKitSecretLength(t *testing.T) {
	cfg := config.Default()
	cfg.LiveKitAPIKey = "APIkey"
	cfg.LiveKitAPISecret = strings.Repeat("s", config.MinLiveKitAPISecretLen-1)
	err := cfg.Validate()
	require.ErrorIs(t, err, config.ErrInvalid)
	require.Contains(t, err.Error(), "LIVEKIT_API_SECRET")
	require.Contains(t, err.Error(), "32")
	require.NotContains(t, err.Error(), cfg.LiveKitAPISecret)
	cfg.LiveKitAPISecret += "s"
	require.NoError(t, cfg.Validate())
}

// The web console without a key or password is served only on a loopback
// HTTP_ADDR: HTTPLoopback says which.
func TestHTTPLoopback(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:8080": true, "[::1]:8080": true, "localhost:8080": true, "127.0.0.1:0": true,
		"0.0.0.0:8080": false, ":8080": false, "[::]:8080": false, "10.1.2.3:8080": false, "web.lan:8080": false, "nonsense": false,
	} {
		cfg := config.Default()
		cfg.HTTPAddr = addr
		require.Equal(t, want, cfg.HTTPLoopback(), addr)
	}
}
