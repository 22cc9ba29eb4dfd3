// Package outhooks is the dispatcher of outgoing webhooks (issue 16): it
// POSTs OpenVidu Meet's webhook events — meetingStarted, meetingEnded,
// recordingStarted, recordingUpdated and recordingEnded — to the URLs
// configured, signed as upstream signs them, from roomkeeper's domain
// events on ROOMS_EVENTS (meeting_started, meeting_ended,
// recording_started, recording_updated, recording_ended).
//
// Each target URL has its own durable pull consumer on ROOMS_EVENTS
// (TargetConsumer: "outhook_" and a hash of the URL, filtered to the
// events the URL wants), so one slow or failing receiver never holds back
// another, and a dispatcher that restarts resumes where its consumer was.
// Any number of dispatcher processes share the consumers.
//
// The request is upstream's: a JSON body {event, creationDate, data}
// (creationDate: the domain event's time in epoch ms; data: the room for
// meeting events, the recording for recording events), with X-Timestamp
// (epoch ms of this try) and X-Signature, the hex HMAC-SHA256 of
// "<X-Timestamp>.<body>" keyed with the secret (upstream's
// generateWebhookSignature; upstream keys it with its first API key).
// roomkeeper adds X-Event-Id, the domain event's CloudEvents id: delivery
// is at least once, and every try of one event carries the same ID and
// the same body, so a receiver de-duplicates on it. Upstream has no such
// header.
//
// The outcome of a POST decides what JetStream does with the event: a 2xx
// acks it; a network error, a timeout, 5xx, 408 or 429 naks it with the
// next delay of an exponential backoff (Config.RetryMin doubling up to
// Config.RetryMax) until Config.Tries deliveries were made; any other
// status gives up at once. An event given up (or out of tries) becomes a
// dead letter on ROOMS_DEAD, rooms.dead.outgoing_<event type>, whose body
// is the domain event and whose headers carry the reason, the deliveries,
// the event ID and the target URL; then it is termed. The retries live in
// JetStream, not in the process: a dispatcher that stops mid-delivery
// leaves the event unacknowledged, and the next one delivers it.
package outhooks
