package mongo

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/event"
)

// Defaults of Config.
const (
	DefaultDatabase               = "roomkeeper"
	DefaultAppName                = "roomkeeper"
	DefaultConnectTimeout         = 10 * time.Second
	DefaultServerSelectionTimeout = 5 * time.Second
	DefaultOpTimeout              = 15 * time.Second
	// DefaultClockSkew is what CompletionLease adds to OpTimeout by
	// default: how far apart the clocks of two processes may be.
	DefaultClockSkew = 5 * time.Second
)

// Config configures [Open]. Zero fields take their defaults.
type Config struct {
	// URI is the MongoDB connection string (mongodb:// or mongodb+srv://);
	// required. The store writes with write concern "majority" and reads
	// with read concern "majority" unless the URI sets them (w=...,
	// journal=..., wtimeoutMS=...; readConcernLevel=...).
	URI string
	// Database is the database name; default "roomkeeper" (MONGO_DB).
	Database string
	// ConnectTimeout bounds opening one TCP connection; default 10s.
	ConnectTimeout time.Duration
	// ServerSelectionTimeout bounds how long an operation waits for a
	// suitable server (a primary for writes) before it fails with
	// store.ErrUnavailable; default 5s. Keep it short: a worker naks and
	// retries rather than holding a message.
	ServerSelectionTimeout time.Duration
	// OpTimeout bounds every store operation (the caller's context may end
	// it sooner); default 15s.
	OpTimeout time.Duration
	// MaxPoolSize caps the connections per server; 0 keeps the driver's
	// default (100).
	MaxPoolSize uint64
	// AppName is reported to the server (visible in its logs and
	// currentOp); default "roomkeeper".
	AppName string
	// SerialUpdates serialises, within this process (across all its
	// stores), the conditional updates of one record (UpdateRoom,
	// SetCommandPlan, CompleteCommand). MongoDB applies each conditional
	// update atomically and needs none of this. FerretDB v1 does not: it
	// reads and filters a document, then rewrites it by _id in a separate
	// step, so two concurrent compare-and-sets can both succeed and one
	// update is lost. Open turns this on by itself when the server says it
	// is FerretDB (buildInfo.ferretdbVersion). It cannot make FerretDB safe
	// across processes.
	SerialUpdates bool
	// NoTransactions makes CompleteCommand use the guarded sequence (see
	// the package doc) even where the deployment has multi-document
	// transactions (a replica set or a sharded cluster).
	NoTransactions bool
	// CompletionLease is how long a completion of the guarded sequence
	// may take before another caller (a redelivery, a reader, a command on
	// the same room) takes it over and finishes it with its stored writes;
	// default OpTimeout + 5s. It must exceed OpTimeout (which bounds the
	// completer's own writes) by more than the clocks of two processes can
	// differ.
	CompletionLease time.Duration

	// hook, when set (tests only), is called at each step of a guarded
	// completion; an error stops the completion there, as a crash would.
	hook func(step string) error
	// monitor, when set (tests only), sees every command the client sends.
	monitor *event.CommandMonitor
}

// WithDefaults returns c with its zero fields set to their defaults.
func (c Config) WithDefaults() Config {
	if c.Database == "" {
		c.Database = DefaultDatabase
	}
	if c.AppName == "" {
		c.AppName = DefaultAppName
	}
	if c.ConnectTimeout == 0 {
		c.ConnectTimeout = DefaultConnectTimeout
	}
	if c.ServerSelectionTimeout == 0 {
		c.ServerSelectionTimeout = DefaultServerSelectionTimeout
	}
	if c.OpTimeout == 0 {
		c.OpTimeout = DefaultOpTimeout
	}
	if c.CompletionLease == 0 {
		c.CompletionLease = c.OpTimeout + DefaultClockSkew
	}
	return c
}

// validate checks a Config that went through WithDefaults.
func (c Config) validate() error {
	var errs []error
	switch {
	case c.URI == "":
		errs = append(errs, errors.New("URI is required"))
	case !strings.HasPrefix(c.URI, "mongodb://") && !strings.HasPrefix(c.URI, "mongodb+srv://"):
		errs = append(errs, errors.New("URI must start with mongodb:// or mongodb+srv://"))
	}
	if err := validateDatabaseName(c.Database); err != nil {
		errs = append(errs, err)
	}
	if c.ConnectTimeout < 0 {
		errs = append(errs, fmt.Errorf("ConnectTimeout %v is negative", c.ConnectTimeout))
	}
	if c.ServerSelectionTimeout < 0 {
		errs = append(errs, fmt.Errorf("ServerSelectionTimeout %v is negative", c.ServerSelectionTimeout))
	}
	if c.OpTimeout < 0 {
		errs = append(errs, fmt.Errorf("OpTimeout %v is negative", c.OpTimeout))
	}
	if c.CompletionLease <= c.OpTimeout {
		errs = append(errs, fmt.Errorf("CompletionLease %v must exceed OpTimeout %v", c.CompletionLease, c.OpTimeout))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("mongo store config: %w", err)
	}
	return nil
}

// validateDatabaseName applies MongoDB's rules for database names (at most
// 63 bytes, none of /\. "$ and no NUL).
func validateDatabaseName(name string) error {
	if len(name) > 63 {
		return fmt.Errorf("Database %q is longer than 63 bytes", name)
	}
	if i := strings.IndexAny(name, "/\\. \"$\x00"); i >= 0 {
		return fmt.Errorf("Database %q contains %q", name, name[i])
	}
	return nil
}
