package publish

import (
	"errors"
	"fmt"
)

// Sentinel errors of the package. A failed publish returns a *MsgError
// wrapping exactly one of ErrNotSent, ErrRefused and ErrNoAck, and the
// cause beside it.
var (
	// ErrConfig: a Config or New argument is invalid.
	ErrConfig = errors.New("invalid publisher configuration")
	// ErrNotSent: the client did not send the message (over the server's
	// max payload, too many acknowledgements pending, connection closed).
	// JetStream did not store it.
	ErrNotSent = errors.New("message not sent")
	// ErrTooLarge: the message with its headers is over the server's max
	// payload. It comes with ErrNotSent.
	ErrTooLarge = errors.New("message over the server's max payload")
	// ErrRefused: JetStream answered with an error (not the expected
	// stream, over the stream's maximum message size, stream full...) or
	// no stream takes the subject. It did not store the message.
	ErrRefused = errors.New("message refused by JetStream")
	// ErrNoAck: no acknowledgement came: the timeout passed, the context
	// ended or the connection was lost. JetStream may have stored the
	// message; publishing it again with the same message ID is safe inside
	// the duplicates window.
	ErrNoAck = errors.New("no acknowledgement")
)

// MsgError is the failure of one message of a batch: the first, in the
// order of the batch, that failed.
type MsgError struct {
	// Index is the message's position in the batch.
	Index int
	// Subject and MsgID name the message.
	Subject string
	MsgID   string
	// Kind is ErrNotSent, ErrRefused or ErrNoAck.
	Kind error
	// Settled: the client holds the message no longer (its publish ended
	// with an answer or an error of the client, not by the timeout or the
	// context): a caller may reuse the message's data. False also when the
	// message was not sent (the client's error may come after it copied
	// part of it; nats.go does not say).
	Settled bool
	// Err is the cause (from nats.go, or the context's error).
	Err error
}

func (e *MsgError) Error() string {
	return fmt.Sprintf("publish %s (message ID %q): %v: %v", e.Subject, e.MsgID, e.Kind, e.Err)
}

// Unwrap returns the kind and the cause, so errors.Is matches either
// (ErrNoAck and context.DeadlineExceeded, say).
func (e *MsgError) Unwrap() []error { return []error{e.Kind, e.Err} }
