package mongo

import (
	"context"
	"errors"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/topology"

	"github.com/roomkeeper/roomkeeper/store"
)

// unavailableCodes are server error codes that mean "this server cannot
// serve you now" (a failover, a shutdown, a stepdown): retry later,
// possibly on another member.
var unavailableCodes = []int{
	6,     // HostUnreachable
	7,     // HostNotFound
	89,    // NetworkTimeout
	91,    // ShutdownInProgress
	189,   // PrimarySteppedDown
	9001,  // SocketException
	10107, // NotWritablePrimary
	11600, // InterruptedAtShutdown
	11602, // InterruptedDueToReplStateChange
	13435, // NotPrimaryNoSecondaryOk
	13436, // NotPrimaryOrSecondary
}

// isUnavailable reports whether err means the database cannot be reached or
// cannot serve now.
func isUnavailable(err error) bool {
	if mongo.IsNetworkError(err) || mongo.IsTimeout(err) {
		return true
	}
	if errors.As(err, &topology.ServerSelectionError{}) || errors.As(err, &topology.ConnectionError{}) {
		return true
	}
	// A connection pool cleared (and paused) because another operation met
	// a network error: the server went away while several operations were
	// in flight. The driver labels it TransientTransactionError, not
	// NetworkError.
	var pool driver.RetryablePoolError
	if errors.As(err, &pool) && pool.Retryable() {
		return true
	}
	var se mongo.ServerError
	if errors.As(err, &se) {
		if se.HasErrorLabel("RetryableWriteError") || se.HasErrorLabel("NetworkError") {
			return true
		}
		for _, code := range unavailableCodes {
			if se.HasErrorCode(code) {
				return true
			}
		}
	}
	return false
}

// wrapErr maps a driver error of operation op to the store's errors:
// unavailability wraps store.ErrUnavailable, a duplicate key
// store.ErrDuplicate, no document store.ErrNotFound, a regular expression
// the server refuses store.ErrInvalid; the driver's error stays in the
// chain.
func wrapErr(op string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, context.Canceled):
		return fmt.Errorf("mongo: %s: %w", op, err)
	case isUnavailable(err):
		return fmt.Errorf("mongo: %s: %w: %w", op, store.ErrUnavailable, err)
	case mongo.IsDuplicateKeyError(err):
		return fmt.Errorf("mongo: %s: %w", op, store.ErrDuplicate)
	case errors.Is(err, mongo.ErrNoDocuments):
		return fmt.Errorf("mongo: %s: %w", op, store.ErrNotFound)
	case isBadRegex(err):
		return fmt.Errorf("mongo: %s: %w: %w", op, store.ErrInvalid, err)
	default:
		return fmt.Errorf("mongo: %s: %w", op, err)
	}
}

// isIndexNotFound reports whether err is MongoDB's IndexNotFound (code 27).
func isIndexNotFound(err error) bool {
	var se mongo.ServerError
	return errors.As(err, &se) && se.HasErrorCode(27)
}

// codeBadRegex is MongoDB's error for a $regex its PCRE does not compile.
// FindRooms checks patterns with Go's regexp first, so this is a pattern
// that RE2 accepts and PCRE does not, which the two syntaxes allow at their
// edges.
const codeBadRegex = 51091

// isBadRegex reports whether err is the server refusing a regular
// expression.
func isBadRegex(err error) bool {
	var se mongo.ServerError
	return errors.As(err, &se) && se.HasErrorCode(codeBadRegex)
}
