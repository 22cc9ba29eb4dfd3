// Package publish is roomkeeper's one way of publishing to JetStream: a
// [Publisher] sends a batch of messages asynchronously, each with its
// message ID (Nats-Msg-Id, so JetStream drops a copy inside the stream's
// duplicates window) and headers, then awaits every acknowledgement, the
// whole bounded by [Config.Timeout] and the caller's context.
//
// The worker's outbox and dead letters, the webhook receiver and the
// scheduler publish through it. [Publisher.Publish] returns the
// acknowledgements in the order of the messages, so a caller that counts
// duplicates reads [jetstream.PubAck.Duplicate]; a failure is a *[MsgError]
// that names the message (subject and message ID) and wraps one of the
// sentinels of errors.go: [ErrNotSent], [ErrRefused] or [ErrNoAck].
//
// The public events package publishes on its own (natsapi.ReplayDead, the
// command client): it must not import anything of this module.
package publish
