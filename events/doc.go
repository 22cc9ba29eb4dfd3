// Package events is roomkeeper's message contract: the subjects, streams and
// consumers on NATS JetStream, the command result and domain event formats,
// the message IDs that make every publish idempotent, and the Go client other
// services import to talk to roomkeeper.
//
// Commands are published on rooms.cmd.<type> with a Nats-Msg-Id header that
// is the command's ID; every command gets exactly one [Result] on
// rooms.results.<commandId>. Domain events are CloudEvents 1.0 on
// rooms.events.<type> whose ID is derived from the command or webhook that
// caused them, so a redelivery never publishes a second event.
package events
