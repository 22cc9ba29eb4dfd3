package events

import (
	"crypto/sha256"
	"encoding/hex"
)

// HeaderWebhookEventID carries a LiveKit event's own id on
// livekit.webhook.<event> when its Nats-Msg-Id is a digest of it
// ([WebhookMsgID]), for people reading the stream. NATS trims leading and
// trailing spaces of header values; the body has the id exactly.
const HeaderWebhookEventID = "Roomkeeper-Webhook-Event-Id"

// maxWebhookMsgID is the longest Nats-Msg-Id a webhook event may have, so
// that WebhookIDPrefix + it is a valid command ID (128 at most).
const maxWebhookMsgID = 128 - len(WebhookIDPrefix)

// WebhookMsgID is the Nats-Msg-Id a LiveKit event with the given id is
// stored with: the id itself when WebhookIDPrefix + id is a valid command
// ID (LiveKit's ids, EV_ and 12 letters or digits, always are), otherwise
// "h-" and the hex SHA-256 of the id (66 characters). Either way the worker
// can key its ledger on it, and the same event, retried, gets the same ID,
// so the stream's duplicates window and the ledger still drop the copies.
//
// The digest form cannot be taken for an id LiveKit sent: one that looks
// like it ("h-" and 64 hex digits) is digested too.
func WebhookMsgID(id string) string {
	if len(id) <= maxWebhookMsgID && ValidCommandID(id) && !looksDigested(id) {
		return id
	}
	sum := sha256.Sum256([]byte(id))
	return "h-" + hex.EncodeToString(sum[:])
}

// looksDigested reports whether id has the form of a WebhookMsgID digest.
func looksDigested(id string) bool {
	if len(id) != 2+2*sha256.Size || id[:2] != "h-" {
		return false
	}
	_, err := hex.DecodeString(id[2:])
	return err == nil
}
