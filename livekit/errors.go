package livekit

import (
	"context"
	"errors"
	"fmt"
	"net"

	"github.com/twitchtv/twirp"
)

// Errors returned by the Client, wrapped with %w: match them with errors.Is.
var (
	// ErrUnavailable means LiveKit cannot be used now: the adapter is
	// detached (no URL configured), or the server is unreachable, timed out
	// or failed internally. The call may succeed later; a worker naks and
	// retries.
	ErrUnavailable = errors.New("livekit unavailable")

	// ErrUnauthorized means LiveKit refused the API key or secret. Retrying
	// does not help until the configuration is fixed.
	ErrUnauthorized = errors.New("livekit refused the credentials")

	// ErrRejected means LiveKit refused the request itself (invalid argument,
	// limit exceeded and the like). Retrying the same request does not help.
	ErrRejected = errors.New("livekit rejected the request")

	// ErrRoomNotFound means LiveKit has no room of that name. DeleteRoom
	// treats it as success; SendData returns it.
	ErrRoomNotFound = errors.New("livekit room not found")

	// ErrInvalidArgument means the caller passed an argument the adapter
	// refuses before any call (an empty room ID, an unknown role).
	ErrInvalidArgument = errors.New("invalid argument")

	// ErrInvalidConfig means New was given a Config it cannot use.
	ErrInvalidConfig = errors.New("invalid livekit config")
)

// classify wraps an error from a RoomService call in the sentinel that says
// what a caller should do with it, keeping the original in the chain.
func classify(op string, err error) error {
	if err == nil {
		return nil
	}
	var twerr twirp.Error
	if errors.As(err, &twerr) {
		switch twerr.Code() {
		case twirp.NotFound:
			return fmt.Errorf("livekit %s: %w: %w", op, ErrRoomNotFound, err)
		case twirp.Unauthenticated, twirp.PermissionDenied:
			return fmt.Errorf("livekit %s: %w: %w", op, ErrUnauthorized, err)
		case twirp.InvalidArgument, twirp.Malformed, twirp.OutOfRange, twirp.FailedPrecondition,
			twirp.AlreadyExists, twirp.Unimplemented, twirp.BadRoute:
			return fmt.Errorf("livekit %s: %w: %w", op, ErrRejected, err)
		}
		// Unavailable, DeadlineExceeded, Canceled, ResourceExhausted, Aborted,
		// Internal (which is also how twirp reports a transport error: refused
		// connection, reset, timeout), Unknown, DataLoss: transient.
		return fmt.Errorf("livekit %s: %w: %w", op, ErrUnavailable, err)
	}
	var netErr net.Error
	if errors.As(err, &netErr) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return fmt.Errorf("livekit %s: %w: %w", op, ErrUnavailable, err)
	}
	// Anything else (a token the SDK could not sign, say) is not a LiveKit
	// outage; keep it as it is.
	return fmt.Errorf("livekit %s: %w", op, err)
}

func isRoomNotFound(err error) bool { return errors.Is(err, ErrRoomNotFound) }
