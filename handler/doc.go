// Package handler is the seam between roomkeeper's message runtime
// (package workers) and what the messages mean (package rooms): typed
// handlers, one per subject, and the [Registry] that holds them.
//
// A handler sees a decoded, validated message in a [Job] and answers with
// an [Outcome] (the result's data, domain events, further commands to
// publish, room writes to apply with the completion) or an error: an
// *events.Error is an answer about the input (invalid_argument, not_found,
// ...) and ends the command with that result; [RetryAfter] asks for
// another try after a delay; any other error is transient and retried with
// the runtime's backoff. A handler knows nothing of acks, naks, delivery
// counts or the ledger: the runtime turns its answer into those.
//
// A [Planner] makes the command's choices (random IDs, secrets, which rooms
// to delete) before its first effect; the runtime stores the plan with the
// command's claim and every later delivery gets the same one, so that all
// deliveries converge on one effect. [Plan] does the same from inside
// Handle for choices that need the claim first.
//
// The package imports neither nats.go nor the runtime.
package handler
