// Package workers applies roomkeeper's commands and LiveKit webhook events.
//
// A [Registry] holds one typed handler per subject. A [Worker] pulls from the
// durable "workers" consumers of ROOMS_COMMANDS and LIVEKIT_WEBHOOKS with a
// per-process concurrency limit and runs every message through one outcome
// policy:
//
//   - decode and validate the body (schemas); a [Planner] handler makes its
//     choices now (a create's random ID and secrets, a delete's rooms to
//     delete or mark, whether a room_finished deletes its room), so they
//     are stored with the claim;
//   - claim the command in the ledger (store.Command, _id = command ID); a
//     command already done republishes its stored result and events and is
//     acked, so a redelivery has no second effect; a command claimed before
//     keeps the plan of its first delivery;
//   - run the handler; every effect a handler applies is safe to re-run
//     (insert by ID, delete by ID, compare-and-set updates carrying the
//     command ID), and the room writes it leaves in [Outcome.Writes] are
//     applied with the completion (one SQLite transaction);
//   - success or an ordinary error result (not_found, forbidden): complete
//     the ledger record, publish the result and events with derived message
//     IDs, awaited together, then double-ack;
//   - invalid input: error result, a dead letter on rooms.dead.<type> with the
//     reason, then term — never a redelivery loop;
//   - a transient failure (store or NATS unreachable): nak with a growing
//     delay; on the consumer's last delivery the command gets an
//     "unavailable" result and a dead letter instead;
//   - a panic in a handler is recovered and handled as a transient failure.
package workers
