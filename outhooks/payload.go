package outhooks

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/roomkeeper/roomkeeper/events"
)

// Headers of an outgoing webhook.
const (
	// HeaderTimestamp: epoch ms of this try (upstream X-Timestamp).
	HeaderTimestamp = "X-Timestamp"
	// HeaderSignature: hex HMAC-SHA256 of "<X-Timestamp>.<body>" (upstream
	// X-Signature).
	HeaderSignature = "X-Signature"
	// HeaderEventID: the domain event's id, the same on every try of one
	// event (roomkeeper's; upstream has none).
	HeaderEventID = "X-Event-Id"
)

// Payload is the body of an outgoing webhook (upstream MeetWebhookEvent),
// its fields in upstream's order.
type Payload struct {
	Event        string          `json:"event"`
	CreationDate int64           `json:"creationDate"`
	Data         json.RawMessage `json:"data"`
}

// recordingInfo is upstream's MeetRecordingInfo: events.Recording without
// roomkeeper's egressId. recordingEnded always carries endDate, duration,
// size and details (upstream's schema requires them).
type recordingInfo struct {
	RecordingID string   `json:"recordingId"`
	RoomID      string   `json:"roomId"`
	RoomName    string   `json:"roomName"`
	Status      string   `json:"status"`
	Filename    string   `json:"filename,omitempty"`
	StartDate   *int64   `json:"startDate,omitempty"`
	EndDate     *int64   `json:"endDate,omitempty"`
	Duration    *float64 `json:"duration,omitempty"`
	Size        *int64   `json:"size,omitempty"`
	Error       string   `json:"error,omitempty"`
	Details     *string  `json:"details,omitempty"`
}

// PayloadOf is the webhook a domain event makes, and its upstream event
// name: errMalformed when ev is not a domain event the dispatcher sends.
func PayloadOf(ev events.Event) (Payload, error) {
	name := webhookEvent(ev.ShortType())
	if name == "" || ev.ID == "" {
		return Payload{}, fmt.Errorf("%w: type %q, id %q", errMalformed, ev.Type, ev.ID)
	}
	p := Payload{Event: name, CreationDate: ev.Time.UnixMilli()}
	switch name {
	case MeetingStarted, MeetingEnded:
		// The room as the event carries it, in its own field order.
		var buf bytes.Buffer
		if err := json.Compact(&buf, ev.Data); err != nil || !bytes.HasPrefix(buf.Bytes(), []byte("{")) {
			return Payload{}, fmt.Errorf("%w: %s data is not a room", errMalformed, ev.ShortType())
		}
		p.Data = buf.Bytes()
	default:
		var rec events.Recording
		if err := json.Unmarshal(ev.Data, &rec); err != nil || rec.RecordingID == "" {
			return Payload{}, fmt.Errorf("%w: %s data is not a recording", errMalformed, ev.ShortType())
		}
		info := recordingInfo{
			RecordingID: rec.RecordingID, RoomID: rec.RoomID, RoomName: rec.RoomName, Status: rec.Status,
			Filename: rec.Filename, StartDate: rec.StartDate, EndDate: rec.EndDate, Duration: rec.Duration,
			Size: rec.Size, Error: rec.Error,
		}
		if rec.Details != "" {
			info.Details = &rec.Details
		}
		if name == RecordingEnded {
			info.EndDate = orDefault(info.EndDate, ev.Time.UnixMilli())
			info.Duration = orDefault(info.Duration, 0)
			info.Size = orDefault(info.Size, 0)
			info.Details = orDefault(info.Details, "")
		}
		raw, err := json.Marshal(info)
		if err != nil {
			return Payload{}, err
		}
		p.Data = raw
	}
	return p, nil
}

func orDefault[T any](p *T, v T) *T {
	if p != nil {
		return p
	}
	return &v
}

// Sign is X-Signature: the hex HMAC-SHA256, keyed with secret, of
// "<timestamp>.<body>", timestamp in epoch ms, as upstream's
// generateWebhookSignature computes it (there body is JSON.stringify of
// the payload, which is also the body it sends).
func Sign(secret string, timestamp int64, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(strconv.FormatInt(timestamp, 10)))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}

// Verify reports whether signature is Sign(secret, timestamp, body), in
// constant time: what a receiver checks.
func Verify(secret, timestamp, signature string, body []byte) bool {
	ts, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return false
	}
	return hmac.Equal([]byte(Sign(secret, ts, body)), []byte(signature))
}

// Body is the request body of p, written as JavaScript's JSON.stringify
// writes it (see stringify): a receiver written for upstream verifies the
// signature over JSON.stringify of the parsed body, which must give these
// bytes back.
func (p Payload) Body() ([]byte, error) {
	raw, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	return stringify(raw)
}
