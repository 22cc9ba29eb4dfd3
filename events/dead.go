package events

import (
	"time"
)

// DeadLetter is a message on ROOMS_DEAD: the body of a command or webhook
// event that could not be applied, with why.
type DeadLetter struct {
	// Seq is the dead letter's sequence in ROOMS_DEAD (what replay takes).
	Seq uint64 `json:"seq"`
	// Subject is rooms.dead.<type>.
	Subject string `json:"subject"`
	// OriginalSubject is where the message was first published.
	OriginalSubject string `json:"originalSubject"`
	// CommandID is the command ID (webhook events: lk:<Nats-Msg-Id>, see
	// WebhookMsgID; outgoing webhooks: the domain event's ID).
	CommandID string `json:"commandId"`
	// TargetURL is the receiver of an outgoing webhook dead letter
	// (rooms.dead.outgoing_<event type>).
	TargetURL string `json:"targetUrl,omitempty"`
	// Deliveries is how often the message was delivered before it died.
	Deliveries uint64 `json:"deliveries"`
	// Reason says why it died.
	Reason string `json:"reason"`
	// OriginalSeq is the message's sequence in its own stream.
	OriginalSeq uint64    `json:"originalSeq,omitempty"`
	Time        time.Time `json:"time"`
	Data        []byte    `json:"-"`
}
