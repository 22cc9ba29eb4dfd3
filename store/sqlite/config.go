package sqlite

import (
	"fmt"
	"runtime"
	"strings"
	"time"
)

// DefaultFileName is the name of the database file in DATA_DIR.
const DefaultFileName = "roomkeeper.db"

// Defaults of Config.
const (
	DefaultBusyTimeout        = 10 * time.Second
	DefaultCacheSizeKiB       = 16 * 1024
	DefaultCheckpointInterval = 20 * time.Millisecond
)

// Config configures a Store. The zero value of every field but Path means
// its default.
type Config struct {
	// Path is the database file; its directory is created if missing.
	// Required. In-memory databases are not supported (every connection
	// would see its own).
	Path string
	// BusyTimeout is how long a write waits for another process to release
	// the write lock before it fails with store.ErrUnavailable. Default
	// DefaultBusyTimeout.
	BusyTimeout time.Duration
	// MaxOpenConns caps the read-only connections; writes use one more
	// connection of their own. Default max(4, GOMAXPROCS).
	MaxOpenConns int
	// CacheSizeKiB is SQLite's page cache per connection, in KiB. Default
	// DefaultCacheSizeKiB.
	CacheSizeKiB int
	// CheckpointInterval is how often, while writes come in, a background
	// connection copies the WAL into the database file (a passive
	// checkpoint, with its fsyncs). Shorter keeps each checkpoint's disk
	// flush small, so a commit waits less behind it (BENCHMARKS.md: p99 at
	// half rate ~20 ms at 20 ms against ~40 ms at 50 ms), at some
	// throughput. Default DefaultCheckpointInterval.
	CheckpointInterval time.Duration
}

// WithDefaults returns c with every unset field set to its default.
func (c Config) WithDefaults() Config {
	if c.BusyTimeout == 0 {
		c.BusyTimeout = DefaultBusyTimeout
	}
	if c.MaxOpenConns == 0 {
		c.MaxOpenConns = max(4, runtime.GOMAXPROCS(0))
	}
	if c.CacheSizeKiB == 0 {
		c.CacheSizeKiB = DefaultCacheSizeKiB
	}
	if c.CheckpointInterval == 0 {
		c.CheckpointInterval = DefaultCheckpointInterval
	}
	return c
}

func (c Config) validate() error {
	switch {
	case c.Path == "":
		return fmt.Errorf("%w: Path is required", ErrInvalidConfig)
	case c.Path == ":memory:" || strings.HasPrefix(c.Path, "file:") || strings.ContainsAny(c.Path, "?#"):
		return fmt.Errorf("%w: Path %q must be a plain file path", ErrInvalidConfig, c.Path)
	case c.BusyTimeout < time.Millisecond:
		return fmt.Errorf("%w: BusyTimeout %s is below 1ms", ErrInvalidConfig, c.BusyTimeout)
	case c.MaxOpenConns < 1:
		return fmt.Errorf("%w: MaxOpenConns %d is below 1", ErrInvalidConfig, c.MaxOpenConns)
	case c.CacheSizeKiB < 0:
		return fmt.Errorf("%w: CacheSizeKiB %d is negative", ErrInvalidConfig, c.CacheSizeKiB)
	case c.CheckpointInterval < time.Millisecond || c.CheckpointInterval > time.Minute:
		return fmt.Errorf("%w: CheckpointInterval %s not in 1ms..1m", ErrInvalidConfig, c.CheckpointInterval)
	}
	return nil
}
