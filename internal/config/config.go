// Package config holds roomkeeper's settings: flags with environment
// fallbacks (the names of the README's settings table), defaults and
// validation.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/roomkeeper/roomkeeper/internal/embedded"
	"github.com/roomkeeper/roomkeeper/outhooks"
)

// ErrInvalid: a setting is out of range.
var ErrInvalid = errors.New("invalid configuration")

// Lower bounds of settings that depend on the webhook receiver's limits.
const (
	// MinHTTPAnswerTime is how much longer than HTTP_READ_TIMEOUT
	// HTTP_WRITE_TIMEOUT must be: the webhook receiver's publish timeout.
	MinHTTPAnswerTime = 5 * time.Second
	// MinWebhookMaxInFlightBytes is the webhook receiver's largest body.
	MinWebhookMaxInFlightBytes = 1 << 20
)

// Bounds of STREAM_DUPLICATES_WINDOW.
const (
	// MinStreamDuplicatesWindow is the longest redelivery delay of a
	// message: the workers consumer's AckWait (30s) plus the largest nak
	// delay (30s). A worker that crashed after publishing a command's
	// events, and before the ledger recorded it, publishes them again on
	// the next delivery, which the window must still cover.
	MinStreamDuplicatesWindow = time.Minute
	// MaxStreamDuplicatesWindow is the shortest MaxAge of the streams
	// (ROOMS_RESULTS keeps a day): JetStream refuses a longer window.
	MaxStreamDuplicatesWindow = 24 * time.Hour
)

// MinLedgerRetention is the shortest LEDGER_RETENTION other than 0: the age
// of ROOMS_RESULTS, so a command repeated after its result was read is
// still a duplicate (and beyond MaxStreamDuplicatesWindow).
const MinLedgerRetention = 24 * time.Hour

// MinLiveKitAPISecretLen is the shortest LIVEKIT_API_SECRET: it keys the
// HMAC of the tokens and webhooks, and livekit-server reports a shorter
// one as an error outside --dev.
const MinLiveKitAPISecretLen = 32

// Values of EMBEDDED_NATS_AUTH.
const (
	// AuthNkey: the embedded server accepts only the client nkey
	// (DATA_DIR/nats/client.nk) and the publishers' keys.
	AuthNkey = "nkey"
	// AuthNone: the embedded server accepts anyone who can connect; only
	// allowed on a loopback address.
	AuthNone = "none"
)

// Config is every setting of the roomkeeper binary. Field tags give the
// flag, the environment fallback and the default (kong).
type Config struct {
	NATSURL          string `name:"nats-url" env:"NATS_URL" help:"NATS server URL(s); empty starts an embedded NATS server with JetStream."`
	NATSCreds        string `name:"nats-creds" env:"NATS_CREDS" help:"NATS credentials file (JWT and nkey seed)."`
	NATSNkey         string `name:"nats-nkey" env:"NATS_NKEY" help:"NATS nkey seed file."`
	NATSTLSCA        string `name:"nats-tls-ca" env:"NATS_TLS_CA" help:"CA certificate file to verify the NATS server."`
	NATSTLSCert      string `name:"nats-tls-cert" env:"NATS_TLS_CERT" help:"Client certificate file for NATS mutual TLS."`
	NATSTLSKey       string `name:"nats-tls-key" env:"NATS_TLS_KEY" help:"Client key file for NATS mutual TLS."`
	EmbeddedNATSAddr string `name:"embedded-nats-addr" env:"EMBEDDED_NATS_ADDR" default:"127.0.0.1:4222" help:"Listen address of the embedded NATS server."`
	EmbeddedNATSAuth string `name:"embedded-nats-auth" env:"EMBEDDED_NATS_AUTH" default:"nkey" enum:"nkey,none" help:"Authentication of the embedded NATS server: nkey (the seed DATA_DIR/nats/client.nk, made at first start, and the publishers in DATA_DIR/nats/publishers) or none (anyone who can connect; only on a loopback address)."`

	MongoURI string `name:"mongo-uri" env:"MONGO_URI" help:"MongoDB URI (credentials go in it); empty uses the embedded SQLite store under the data directory."`
	MongoDB  string `name:"mongo-db" env:"MONGO_DB" default:"roomkeeper" help:"MongoDB database name."`
	DataDir  string `name:"data-dir" env:"DATA_DIR" default:"./data" help:"Directory of the embedded engines' data (nats/, roomkeeper.db)."`

	LiveKitURL       string `name:"livekit-url" env:"LIVEKIT_URL" help:"LiveKit server URL; empty runs detached (no meeting is ever active)."`
	LiveKitAPIKey    string `name:"livekit-api-key" env:"LIVEKIT_API_KEY" help:"LiveKit API key (webhook verification, tokens)."`
	LiveKitAPISecret string `name:"livekit-api-secret" env:"LIVEKIT_API_SECRET" help:"LiveKit API secret."`
	// LiveKitExtraLatency is for benchmarks only (hidden from --help): a
	// delay added to every LiveKit call, detached ones included, so that
	// handlers are I/O-bound as with a remote LiveKit (BENCHMARKS.md).
	LiveKitExtraLatency time.Duration `name:"livekit-extra-latency" env:"LIVEKIT_EXTRA_LATENCY" hidden:"" help:"Benchmarks only: delay added to every LiveKit call, detached ones included."`

	HTTPAddr string `name:"http-addr" env:"HTTP_ADDR" default:"127.0.0.1:8080" help:"Listen address of the HTTP server (webhooks, health, metrics)."`
	BaseURL  string `name:"base-url" env:"BASE_URL" default:"http://localhost:8080" help:"Base URL of the room links."`

	// Limits of the HTTP server, so that slow or stalled clients cannot
	// hold connections and memory (http.Server fields of the same names).
	HTTPReadHeaderTimeout time.Duration `name:"http-read-header-timeout" env:"HTTP_READ_HEADER_TIMEOUT" default:"5s" help:"Time to read a request's headers."`
	HTTPReadTimeout       time.Duration `name:"http-read-timeout" env:"HTTP_READ_TIMEOUT" default:"15s" help:"Time to read a whole request, body included."`
	HTTPWriteTimeout      time.Duration `name:"http-write-timeout" env:"HTTP_WRITE_TIMEOUT" default:"30s" help:"Time from the end of a request's headers to the end of its answer."`
	HTTPIdleTimeout       time.Duration `name:"http-idle-timeout" env:"HTTP_IDLE_TIMEOUT" default:"60s" help:"How long an idle keep-alive connection is kept."`
	HTTPMaxHeaderBytes    int           `name:"http-max-header-bytes" env:"HTTP_MAX_HEADER_BYTES" default:"16384" help:"Largest request line and headers, in bytes."`
	// WebhookMaxInFlightBytes bounds the body buffers of the webhook
	// requests in flight together (webhooks.Config.MaxInFlightBytes).
	WebhookMaxInFlightBytes int64 `name:"webhook-max-in-flight-bytes" env:"WEBHOOK_MAX_IN_FLIGHT_BYTES" default:"33554432" help:"Bytes of webhook bodies held in flight at most; past it requests get 503 with Retry-After."`

	SweepInterval           time.Duration `name:"sweep-interval" env:"SWEEP_INTERVAL" default:"1m" help:"How often the scheduler publishes an expiry sweep."`
	MinAutoDeletionDelay    time.Duration `name:"min-auto-deletion-delay" env:"MIN_AUTO_DELETION_DELAY" default:"1h" help:"How far ahead autoDeletionDate must be."`
	MeetingEmptyTimeout     time.Duration `name:"meeting-empty-timeout" env:"MEETING_EMPTY_TIMEOUT" default:"20s" help:"LiveKit empty timeout of rooms roomkeeper creates."`
	MeetingDepartureTimeout time.Duration `name:"meeting-departure-timeout" env:"MEETING_DEPARTURE_TIMEOUT" default:"20s" help:"LiveKit departure timeout of rooms roomkeeper creates."`

	WorkerConcurrency int    `name:"worker-concurrency" env:"WORKER_CONCURRENCY" default:"32" help:"Messages handled at once per worker process."`
	WorkerAckMode     string `name:"worker-ack-mode" env:"WORKER_ACK_MODE" default:"double" enum:"double,async" help:"How workers ack a done message: double (wait for the server's confirmation) or async (one round trip less; a lost ack is answered from the ledger)."`
	StreamReplicas    int    `name:"stream-replicas" env:"STREAM_REPLICAS" default:"1" help:"Replicas of the JetStream streams (3 on a NATS cluster)."`
	// StreamDuplicatesWindow is the streams' duplicates window: a publish
	// repeating a Nats-Msg-Id stored this recently is dropped. Past it the
	// command ledger answers a repeated command (no second effect).
	StreamDuplicatesWindow time.Duration `name:"stream-duplicates-window" env:"STREAM_DUPLICATES_WINDOW" default:"10m" help:"Duplicates window of the JetStream streams (1m..24h): a repeated Nats-Msg-Id within it is dropped; past it the command ledger answers the repeat."`

	// The HTTP API gateway (roomkeeper api, issue 16): OpenVidu Meet's
	// REST API on HTTP_ADDR, off without a key.
	APIKeys           string        `name:"api-keys" env:"API_KEYS" help:"Comma-separated API keys accepted in X-API-KEY by the HTTP API (/api/v1); with none (and no API_KEYS_FILE) the API is off."`
	APIKeysFile       string        `name:"api-keys-file" env:"API_KEYS_FILE" help:"File of API keys, one a line ('#' starts a comment), reread when it changes; adds to API_KEYS."`
	APICommandTimeout time.Duration `name:"api-command-timeout" env:"API_COMMAND_TIMEOUT" default:"10s" help:"How long an HTTP API write waits for its command's result before answering 503 with the command ID (retry with the same Idempotency-Key)."`

	// Outgoing webhooks (roomkeeper dispatcher, issue 16): OpenVidu Meet's
	// webhook events, POSTed and signed as upstream does.
	OutgoingWebhookURLs   string `name:"outgoing-webhook-urls" env:"OUTGOING_WEBHOOK_URLS" help:"Comma-separated URLs to POST OpenVidu Meet webhook events to; 'URL|meetingStarted,meetingEnded' sends only those events to URL. Empty: the dispatcher is off."`
	OutgoingWebhookSecret string `name:"outgoing-webhook-secret" env:"OUTGOING_WEBHOOK_SECRET" help:"Key of the HMAC-SHA256 X-Signature of outgoing webhooks; default: the first API key (what OpenVidu Meet signs with)."`
	// Delivery of outgoing webhooks: retries through JetStream (nak with
	// a delay doubling from the min to the max), then a dead letter.
	OutgoingWebhookTimeout  time.Duration `name:"outgoing-webhook-timeout" env:"OUTGOING_WEBHOOK_TIMEOUT" default:"10s" help:"How long one outgoing webhook POST may take."`
	OutgoingWebhookRetryMin time.Duration `name:"outgoing-webhook-retry-min" env:"OUTGOING_WEBHOOK_RETRY_MIN" default:"1s" help:"Delay before the first retry of a failed outgoing webhook; doubled after each further failure."`
	OutgoingWebhookRetryMax time.Duration `name:"outgoing-webhook-retry-max" env:"OUTGOING_WEBHOOK_RETRY_MAX" default:"5m" help:"Longest delay between retries of an outgoing webhook."`
	OutgoingWebhookTries    int           `name:"outgoing-webhook-tries" env:"OUTGOING_WEBHOOK_TRIES" default:"15" help:"Tries of an outgoing webhook before it becomes a dead letter (default schedule: about 33 minutes)."`

	// The command ledger's pruning, done by every sweep (issue 17):
	// rooms.SweepConfig.LedgerRetention and MaxPrune.
	LedgerRetention time.Duration `name:"ledger-retention" env:"LEDGER_RETENTION" default:"168h" help:"How long a done command's ledger record is kept (a repeated command ID is a duplicate within it; at least 24h, the results stream's age); 0 never prunes."`
	LedgerPruneMax  int           `name:"ledger-prune-max" env:"LEDGER_PRUNE_MAX" default:"10000" help:"Most ledger records one sweep deletes (1..1000000); a backlog drains over several sweeps."`

	// The web console (/ui on HTTP_ADDR, issue 17): a login takes an API
	// key or this password; with neither, it is served only on loopback.
	ConsolePassword string `name:"console-password" env:"CONSOLE_PASSWORD" help:"Password of the web console (/ui), besides the API keys; with neither, the console is served only when HTTP_ADDR is a loopback address."`

	LogLevel  string `name:"log-level" env:"LOG_LEVEL" default:"info" enum:"trace,debug,info,warn,error" help:"Log level."`
	LogFormat string `name:"log-format" env:"LOG_FORMAT" default:"text" enum:"text,json" help:"Log format."`
}

// Default returns the configuration with every default set.
func Default() Config {
	return Config{
		EmbeddedNATSAddr:        "127.0.0.1:4222",
		EmbeddedNATSAuth:        AuthNkey,
		MongoDB:                 "roomkeeper",
		DataDir:                 "./data",
		HTTPAddr:                "127.0.0.1:8080",
		BaseURL:                 "http://localhost:8080",
		HTTPReadHeaderTimeout:   5 * time.Second,
		HTTPReadTimeout:         15 * time.Second,
		HTTPWriteTimeout:        30 * time.Second,
		HTTPIdleTimeout:         time.Minute,
		HTTPMaxHeaderBytes:      16 << 10,
		WebhookMaxInFlightBytes: 32 << 20,
		SweepInterval:           time.Minute,
		MinAutoDeletionDelay:    time.Hour,
		MeetingEmptyTimeout:     20 * time.Second,
		MeetingDepartureTimeout: 20 * time.Second,
		WorkerConcurrency:       32,
		WorkerAckMode:           "double",
		StreamReplicas:          1,
		StreamDuplicatesWindow:  10 * time.Minute,
		APICommandTimeout:       10 * time.Second,
		LedgerRetention:         MinLedgerRetention * 7,
		LedgerPruneMax:          10000,
		OutgoingWebhookTimeout:  10 * time.Second,
		OutgoingWebhookRetryMin: time.Second,
		OutgoingWebhookRetryMax: 5 * time.Minute,
		OutgoingWebhookTries:    15,
		LogLevel:                "info",
		LogFormat:               "text",
	}
}

// Validate reports the first setting out of range.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...))
	}
	if c.NATSURL == "" {
		host, _, err := net.SplitHostPort(c.EmbeddedNATSAddr)
		if err != nil {
			bad("EMBEDDED_NATS_ADDR %q: %v", c.EmbeddedNATSAddr, err)
		}
		switch c.EmbeddedNATSAuth {
		case AuthNkey:
			if c.DataDir == "" {
				bad("DATA_DIR is required for the embedded NATS server's keys")
			}
		case AuthNone:
			if err == nil && !loopback(host) {
				bad("EMBEDDED_NATS_AUTH=none needs EMBEDDED_NATS_ADDR on a loopback address (127.0.0.1, ::1, localhost), not %q: anyone who can reach it could read every room secret and publish anything", c.EmbeddedNATSAddr)
			}
		default:
			bad("EMBEDDED_NATS_AUTH %q must be nkey or none", c.EmbeddedNATSAuth)
		}
	}
	if c.MongoURI == "" && c.DataDir == "" {
		bad("DATA_DIR is required for the embedded store")
	}
	if c.MongoURI != "" && !strings.HasPrefix(c.MongoURI, "mongodb://") && !strings.HasPrefix(c.MongoURI, "mongodb+srv://") {
		bad("MONGO_URI must start with mongodb:// or mongodb+srv://")
	}
	if c.LiveKitURL != "" && (c.LiveKitAPIKey == "" || c.LiveKitAPISecret == "") {
		bad("LIVEKIT_URL needs LIVEKIT_API_KEY and LIVEKIT_API_SECRET")
	}
	if c.LiveKitAPISecret != "" && len(c.LiveKitAPISecret) < MinLiveKitAPISecretLen {
		bad("LIVEKIT_API_SECRET must be at least %d characters (it keys the HMAC of tokens and webhooks; `openssl rand -hex 32` makes one, and livekit-server takes it with --keys 'KEY: SECRET', --dev included)", MinLiveKitAPISecretLen)
	}
	if u, err := url.Parse(c.BaseURL); err != nil || u.Scheme == "" || u.Host == "" {
		bad("BASE_URL %q must be an absolute URL", c.BaseURL)
	}
	switch {
	case c.HTTPReadHeaderTimeout <= 0 || c.HTTPReadTimeout <= 0 || c.HTTPWriteTimeout <= 0 || c.HTTPIdleTimeout <= 0:
		bad("HTTP_READ_HEADER_TIMEOUT, HTTP_READ_TIMEOUT, HTTP_WRITE_TIMEOUT and HTTP_IDLE_TIMEOUT must be positive")
	case c.HTTPReadHeaderTimeout > c.HTTPReadTimeout:
		bad("HTTP_READ_HEADER_TIMEOUT %s must not exceed HTTP_READ_TIMEOUT %s", c.HTTPReadHeaderTimeout, c.HTTPReadTimeout)
	case c.HTTPWriteTimeout < c.HTTPReadTimeout+MinHTTPAnswerTime:
		// The write deadline runs from the end of the headers: it must
		// leave time to read the body and to store the event (the webhook
		// receiver waits up to 5s for JetStream), or a slow store would cut
		// the connection instead of answering 503.
		bad("HTTP_WRITE_TIMEOUT %s must be at least HTTP_READ_TIMEOUT %s + %s", c.HTTPWriteTimeout, c.HTTPReadTimeout, MinHTTPAnswerTime)
	}
	if c.HTTPMaxHeaderBytes < 4<<10 || c.HTTPMaxHeaderBytes > 1<<20 {
		bad("HTTP_MAX_HEADER_BYTES %d not in 4096..1048576", c.HTTPMaxHeaderBytes)
	}
	if c.WebhookMaxInFlightBytes < MinWebhookMaxInFlightBytes {
		bad("WEBHOOK_MAX_IN_FLIGHT_BYTES %d must be at least %d (the largest webhook body)", c.WebhookMaxInFlightBytes, MinWebhookMaxInFlightBytes)
	}
	if c.SweepInterval < time.Second {
		bad("SWEEP_INTERVAL %s must be at least 1s", c.SweepInterval)
	}
	if c.MinAutoDeletionDelay < 0 {
		bad("MIN_AUTO_DELETION_DELAY must not be negative")
	}
	if c.MeetingEmptyTimeout < 0 || c.MeetingDepartureTimeout < 0 {
		bad("meeting timeouts must not be negative")
	}
	if c.LiveKitExtraLatency < 0 {
		bad("LIVEKIT_EXTRA_LATENCY must not be negative")
	}
	if c.WorkerConcurrency < 1 || c.WorkerConcurrency > 10000 {
		bad("WORKER_CONCURRENCY %d not in 1..10000", c.WorkerConcurrency)
	}
	if c.StreamReplicas < 1 || c.StreamReplicas > 5 {
		bad("STREAM_REPLICAS %d not in 1..5", c.StreamReplicas)
	}
	if c.StreamDuplicatesWindow < MinStreamDuplicatesWindow || c.StreamDuplicatesWindow > MaxStreamDuplicatesWindow {
		bad("STREAM_DUPLICATES_WINDOW %s not in %s..%s (the longest redelivery delay .. the shortest stream MaxAge)", c.StreamDuplicatesWindow, MinStreamDuplicatesWindow, MaxStreamDuplicatesWindow)
	}
	if c.APICommandTimeout < 100*time.Millisecond || c.APICommandTimeout > 5*time.Minute {
		bad("API_COMMAND_TIMEOUT %s not in 100ms..5m", c.APICommandTimeout)
	}
	// The HTTP API answers a write after its body (read within
	// HTTP_READ_TIMEOUT) and up to API_COMMAND_TIMEOUT of waiting: past
	// HTTP_WRITE_TIMEOUT the caller would get a closed connection instead
	// of the 503 with the command ID.
	if (c.APIKeys != "" || c.APIKeysFile != "") && c.HTTPWriteTimeout < c.HTTPReadTimeout+c.APICommandTimeout+time.Second {
		bad("API_COMMAND_TIMEOUT %s needs HTTP_WRITE_TIMEOUT %s of at least HTTP_READ_TIMEOUT %s + API_COMMAND_TIMEOUT + 1s",
			c.APICommandTimeout, c.HTTPWriteTimeout, c.HTTPReadTimeout)
	}
	if c.LedgerRetention != 0 && c.LedgerRetention < MinLedgerRetention {
		bad("LEDGER_RETENTION %s must be 0 (never prune) or at least %s (the results stream's age: a client repeating a command after reading its result must find it a duplicate)", c.LedgerRetention, MinLedgerRetention)
	}
	if c.LedgerPruneMax < 1 || c.LedgerPruneMax > 1_000_000 {
		bad("LEDGER_PRUNE_MAX %d not in 1..1000000", c.LedgerPruneMax)
	}
	if _, err := outhooks.ParseTargets(c.OutgoingWebhookURLs); err != nil {
		bad("OUTGOING_WEBHOOK_URLS: %v", err)
	}
	switch {
	case c.OutgoingWebhookTimeout < 100*time.Millisecond || c.OutgoingWebhookTimeout > 5*time.Minute:
		bad("OUTGOING_WEBHOOK_TIMEOUT %s not in 100ms..5m", c.OutgoingWebhookTimeout)
	case c.OutgoingWebhookRetryMin <= 0 || c.OutgoingWebhookRetryMax < c.OutgoingWebhookRetryMin:
		bad("OUTGOING_WEBHOOK_RETRY_MIN %s must be positive and at most OUTGOING_WEBHOOK_RETRY_MAX %s", c.OutgoingWebhookRetryMin, c.OutgoingWebhookRetryMax)
	case c.OutgoingWebhookTries < 1 || c.OutgoingWebhookTries > 1000:
		bad("OUTGOING_WEBHOOK_TRIES %d not in 1..1000", c.OutgoingWebhookTries)
	}
	if c.ConsolePassword != "" && len(c.ConsolePassword) < 12 {
		bad("CONSOLE_PASSWORD is shorter than 12 characters")
	}
	if _, err := logrus.ParseLevel(c.LogLevel); err != nil {
		bad("LOG_LEVEL: %v", err)
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		bad("LOG_FORMAT %q must be text or json", c.LogFormat)
	}
	return errors.Join(errs...)
}

// loopback reports whether host (of a listen address) is a loopback
// address; an empty host listens on every interface.
func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// HTTPLoopback reports whether HTTP_ADDR is a loopback address.
func (c *Config) HTTPLoopback() bool {
	host, _, err := net.SplitHostPort(c.HTTPAddr)
	return err == nil && loopback(host)
}

// SQLitePath is the embedded store's file.
func (c *Config) SQLitePath() string { return filepath.Join(c.DataDir, "roomkeeper.db") }

// NATSDir is the embedded NATS server's JetStream directory.
func (c *Config) NATSDir() string { return filepath.Join(c.DataDir, "nats") }

// NATSSeedPath is the embedded NATS server's client nkey seed, made at its
// first start: the roles, roomctl and natscli connect with it.
func (c *Config) NATSSeedPath() string { return filepath.Join(c.NATSDir(), embedded.ClientSeedFile) }

// NATSPublishersDir holds the public nkeys of the publishers the embedded
// NATS server accepts (NAME.pub), limited to commands and results.
func (c *Config) NATSPublishersDir() string {
	return filepath.Join(c.NATSDir(), embedded.PublishersDir)
}

// Logger builds the logrus logger the settings describe.
func (c *Config) Logger() *logrus.Logger {
	log := logrus.New()
	if lvl, err := logrus.ParseLevel(c.LogLevel); err == nil {
		log.SetLevel(lvl)
	}
	if c.LogFormat == "json" {
		log.SetFormatter(&logrus.JSONFormatter{})
	} else {
		log.SetFormatter(&logrus.TextFormatter{FullTimestamp: true})
	}
	return log
}
