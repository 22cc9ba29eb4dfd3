package events

import (
	"encoding/json"
	"time"
)

// Source is the CloudEvents source of every roomkeeper event.
const Source = "roomkeeper"

// CloudEventsType prefixes the CloudEvents type of domain events
// ("io.roomkeeper.room.created").
const CloudEventsType = "io.roomkeeper.room."

// Event is a domain event in CloudEvents 1.0 structured JSON.
type Event struct {
	SpecVersion     string          `json:"specversion"`
	ID              string          `json:"id"`
	Source          string          `json:"source"`
	Type            string          `json:"type"`
	Time            time.Time       `json:"time"`
	Subject         string          `json:"subject"`
	DataContentType string          `json:"datacontenttype"`
	Data            json.RawMessage `json:"data"`
}

// NewEvent builds the event of eventType for roomID caused by cause (a command
// ID or webhook event ID); its ID derives from the cause, so building it again
// on a redelivery gives the same ID.
func NewEvent(cause, eventType, roomID string, at time.Time, data any) (Event, error) {
	raw, err := json.Marshal(data)
	if err != nil {
		return Event{}, err
	}
	return Event{
		SpecVersion:     "1.0",
		ID:              EventID(cause, eventType, roomID),
		Source:          Source,
		Type:            CloudEventsType + eventType,
		Time:            at.UTC(),
		Subject:         roomID,
		DataContentType: "application/json",
		Data:            raw,
	}, nil
}

// ShortType returns the event's type without the CloudEvents prefix
// ("created"), which is also the last token of its subject.
func (e Event) ShortType() string {
	if len(e.Type) > len(CloudEventsType) && e.Type[:len(CloudEventsType)] == CloudEventsType {
		return e.Type[len(CloudEventsType):]
	}
	return e.Type
}
