// Package workers is roomkeeper's message runtime: it takes commands and
// LiveKit webhook events from JetStream and runs them through the handlers
// of a handler.Registry (the room domain registers its own, package rooms),
// with one outcome policy for every message. It knows nothing of rooms.
//
// A [Worker] pulls from the durable "workers" consumers of ROOMS_COMMANDS
// and LIVEKIT_WEBHOOKS with a per-process concurrency limit:
//
//   - decode and validate the body (the route's decoder: JSON Schema, then
//     the handler's own rules); a planning handler makes its choices now,
//     so they are stored with the claim;
//   - claim the command in the ledger (store.Command, _id = command ID); a
//     command already finished republishes its stored result and events
//     and is acked, so a redelivery has no second effect; a command claimed
//     before keeps the plan of its first delivery;
//   - run the handler (panics are recovered as transient failures); the
//     room writes it leaves in its outcome are applied with the completion
//     (one SQLite transaction, or Mongo's guarded completion);
//   - success or an ordinary error result (not_found, forbidden): complete
//     the ledger record, publish the result and events with derived message
//     IDs, awaited together, then ack;
//   - invalid input: error result, a dead letter on rooms.dead.<type> with
//     the reason, then term: never a redelivery loop;
//   - a transient failure (store or NATS unreachable): nak with a growing
//     delay; on the consumer's last delivery the command gets an
//     "unavailable" result and a dead letter instead, or, when the ledger
//     cannot be written, a requeued copy at the back of the stream.
//
// [DeadLetters] ends the messages JetStream gave up on (max deliveries
// advisories, and a periodic scan for lost ones) through the same policy.
package workers
