// Package webhooks is roomkeeper's HTTP receiver for LiveKit webhooks.
//
// A [Receiver] answers POST [Path] (/livekit/webhook). For each request it
//
//  1. reads at most [Config.MaxBody] bytes of the body (413 when it is
//     larger),
//  2. verifies the Authorization JWT and the body's sha256 against the
//     configured API key and secret with LiveKit's own verifier,
//     github.com/livekit/protocol/webhook.Receive (401 when either is
//     missing or wrong),
//  3. decodes the body as a livekit.WebhookEvent (400 when it is malformed,
//     has no id or event, or the event is not a single safe subject token),
//  4. publishes the body unchanged, byte for byte, on
//     livekit.webhook.<event> with Nats-Msg-Id set to the event's id, and
//  5. answers 200 only once JetStream has acknowledged (stored) it, or
//     reports the event as a duplicate of one already stored; 503 when it
//     cannot be stored in [Config.PublishTimeout], so that LiveKit retries.
//
// Any other method gets 405. A request that fails publishes nothing.
//
// LiveKit retries an event answered with 503 with the same id at about +1,
// +3, +7 and +15 s, so the message ID and the stream's duplicates window turn
// those retries into one stored event. LiveKit queues events per room, so a
// slow answer holds back the room's next event: the receiver answers 503 at
// once while the NATS connection is down, instead of waiting for the publish
// timeout. No Retry-After is sent, so LiveKit's own backoff spreads its
// retries over the longest window.
//
// Give the receiver a NATS connection opened with nats.ReconnectBufSize(-1):
// the default reconnect buffer would hold a publish made during a disconnect
// and send it after the receiver has already answered 503. The receiver
// refuses to publish while the connection is not connected, which closes
// most of that window; an acknowledgement lost after the server stored the
// event is the one case left, and the retry then finds a duplicate.
//
// Each request is logged (event id, type, room, outcome, status) at debug
// level when it is stored, info when it is refused and warning when it could
// not be stored; neither the Authorization header nor the API secret is ever
// logged. Outcomes are counted through the optional [Metrics] hook.
package webhooks
