package events

import (
	"strconv"
	"strings"
	"time"
)

// Headers roomkeeper sets on the commands it publishes itself.
const (
	// HeaderOrigin marks a command published by roomkeeper itself: the
	// scheduler's sweeps ("scheduler"), a command's fan-out
	// ("command:<id>", kept by its requeued copies), a requeued command
	// ("requeue"). Only such a
	// command may carry an ID with a reserved prefix (ReservedCommandID).
	// Other publishers must not set it.
	HeaderOrigin = "Roomkeeper-Origin"
	// HeaderCommandID carries the command ID of a requeued copy, whose
	// Nats-Msg-Id is the copy's own.
	HeaderCommandID = "Roomkeeper-Command-Id"
	// HeaderRequeues counts how often a command was requeued because the
	// store was away on its last delivery.
	HeaderRequeues = "Roomkeeper-Requeues"
	// HeaderFirstDelivery is when the command was first taken (RFC 3339),
	// kept on a requeued copy so time-dependent rules use that time.
	HeaderFirstDelivery = "Roomkeeper-First-Delivery"
	// HeaderDeadOriginalSize is the size in bytes of a dead letter's
	// original body when the dead letter carries it cut.
	HeaderDeadOriginalSize = "Roomkeeper-Dead-Original-Size"
)

// Origins of HeaderOrigin.
const (
	OriginScheduler = "scheduler"
	OriginRequeue   = "requeue"
	// OriginCommandPrefix + the parent's command ID: a fan-out command.
	OriginCommandPrefix = "command:"
)

// Command ID prefixes roomkeeper gives its own commands. A command from
// anyone else with an ID starting with one of them is invalid_argument, so
// a client's ID can never take the place of one of roomkeeper's.
const (
	// AutoIDPrefix: the ID of a command published without Nats-Msg-Id
	// (AutoCommandID).
	AutoIDPrefix = "seq-"
	// WebhookIDPrefix: what the worker puts before a webhook's Nats-Msg-Id
	// to make its command ID (its key in the command ledger).
	WebhookIDPrefix = "lk:"
	// SweepIDPrefix: the scheduler's sweeps.
	SweepIDPrefix = "sweep-"
	// ExpireIDPrefix and ReconcileIDPrefix: a sweep's deletes.
	ExpireIDPrefix    = "expire-"
	ReconcileIDPrefix = "reconcile-"
)

// ReservedIDPrefixes lists the prefixes of ReservedCommandID.
var ReservedIDPrefixes = []string{AutoIDPrefix, WebhookIDPrefix, SweepIDPrefix, ExpireIDPrefix, ReconcileIDPrefix}

// ReservedCommandID reports whether id starts with a prefix roomkeeper
// keeps for its own commands, and which.
func ReservedCommandID(id string) (string, bool) {
	for _, p := range ReservedIDPrefixes {
		if strings.HasPrefix(id, p) {
			return p, true
		}
	}
	return "", false
}

// AutoCommandID is the command ID of a message published without a
// Nats-Msg-Id: its stream sequence and the time the stream stored it
// (nanoseconds, base 36). Both are the same on every delivery; the time
// keeps the ID unique when the stream is recreated and sequences restart.
func AutoCommandID(seq uint64, stored time.Time) string {
	return AutoIDPrefix + strconv.FormatUint(seq, 10) + "-" + strconv.FormatInt(stored.UnixNano(), 36)
}
