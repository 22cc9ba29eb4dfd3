// Package webhooks is roomkeeper's HTTP receiver for LiveKit webhooks.
//
// A [Receiver] answers POST [Path] (/livekit/webhook). For each request it
//
//  1. verifies the Authorization JWT before it reads a byte of the body, as
//     LiveKit's own verifier (github.com/livekit/protocol/webhook.Receive)
//     does: signed with the secret of the API key it names, not expired,
//     with a sha256 claim (401 when it is missing or wrong; the connection
//     is then closed rather than the body drained),
//  2. reads at most [Config.MaxBody] bytes of the body (413 when it is
//     larger) into a pooled buffer sized to its Content-Length, or grown a
//     size class at a time when it is chunked, and checks its sha256
//     against the token's claim (401),
//  3. decodes the body as a livekit.WebhookEvent (400 when it is malformed,
//     has no id or event, or the event is not a single safe subject token),
//  4. publishes the body unchanged, byte for byte, on
//     livekit.webhook.<event> with Nats-Msg-Id set to
//     events.WebhookMsgID of the event's id: the id itself when the worker
//     can use it as its ledger key, else a digest of it (then the header
//     events.HeaderWebhookEventID carries the id), and
//  5. answers 200 only once JetStream has acknowledged (stored) it, or
//     reports the event as a duplicate of one already stored; 503 when it
//     cannot be stored in [Config.PublishTimeout], so that LiveKit retries.
//
// Memory held by requests in flight is bounded: a request's body buffer is
// counted in a budget of [Config.MaxInFlightBytes] from before its first
// byte is read until it is answered, and a request that would go over it is
// answered 503 with a Retry-After of [BusyRetryAfter] seconds at once,
// without reading its body. Requests that fail the token check hold no
// buffer at all. The budget counts the body buffers: decoding a large event
// allocates about its strings again for the time of the request, after the
// body has arrived. A buffer is back in the pool once its request is
// answered, except after a publish that timed out (JetStream's client may
// still hold it; it is then left to the garbage collector). Stalled uploads
// are the HTTP server's to cut: give it a ReadTimeout (roomkeeper's app sets
// HTTP_READ_TIMEOUT and the other limits).
//
// Any other method gets 405. A request that fails publishes nothing.
//
// LiveKit retries an event answered with 503 with the same id at about +1,
// +3, +7 and +15 s, so the message ID and the stream's duplicates window turn
// those retries into one stored event. LiveKit queues events per room, so a
// slow answer holds back the room's next event: the receiver answers 503 at
// once while the NATS connection is down, instead of waiting for the publish
// timeout. No Retry-After is sent with that 503, so LiveKit's own backoff
// spreads its retries over the longest window.
//
// Give the receiver a NATS connection opened with nats.ReconnectBufSize(-1):
// the default reconnect buffer would hold a publish made during a disconnect
// and send it after the receiver has already answered 503. The receiver
// refuses to publish while the connection is not connected, which closes
// most of that window; an acknowledgement lost after the server stored the
// event is the one case left, and the retry then finds a duplicate.
//
// Each request is logged (event id, type, room, outcome, status) at debug
// level when it is stored, info when it is refused or busy and warning when
// it could not be stored; neither the Authorization header nor the API secret is ever
// logged. Outcomes are counted through the optional [Metrics] hook.
package webhooks
