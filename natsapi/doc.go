// Package natsapi speaks roomkeeper's message contract (package events)
// over NATS JetStream: the [Client] other services import to send commands
// and wait for their one result, run the rooms.api.* queries and watch the
// domain events; the [Topology] of the streams and consumers and
// [Bootstrap], which every roomkeeper role runs at start; and the
// dead-letter tools behind `roomctl dead` (ListDead, GetDead, ReplayDead).
package natsapi
