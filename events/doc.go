// Package events is roomkeeper's message contract, as Go types: the
// subjects, stream and consumer names, the commands and their results, the
// room as other services see it, the query requests and replies, the domain
// events, the error codes and the message IDs that make every publish
// idempotent. It imports nothing of the module and nothing of NATS: the
// client that speaks this contract over NATS is package natsapi.
//
// Commands are published on rooms.cmd.<type> with a Nats-Msg-Id header that
// is the command's ID; every command gets exactly one [Result] on
// rooms.results.<commandId>. Domain events are CloudEvents 1.0 on
// rooms.events.<type> whose ID is derived from the command or webhook that
// caused them, so a redelivery never publishes a second event.
package events
