package events

import (
	"encoding/json"
	"slices"
	"strings"
)

// APIHistory is the subject of rooms.api.history: a room's history, every
// command and LiveKit webhook that was about it, from the command ledger.
const APIHistory = "rooms.api.history"

// HistoryRequest is the request of rooms.api.history.
type HistoryRequest struct {
	RoomID string `json:"roomId"`
	// MaxItems is the page size, 1..100 (larger is capped at 100); 0
	// means the default, 10.
	MaxItems int `json:"maxItems,omitempty"`
	// NextPageToken is the previous page's Pagination.NextPageToken; empty
	// for the first page.
	NextPageToken string `json:"nextPageToken,omitempty"`
}

// Kinds of HistoryCause.
const (
	// CauseCommand: a command published this one (a sweep's delete of an
	// expired room: the sweep's command ID).
	CauseCommand = "command"
	// CauseWebhook: the item is LiveKit's webhook event of that ID.
	CauseWebhook = "webhook"
)

// HistoryCause is what made a history item happen, when not a client.
type HistoryCause struct {
	// Kind is command or webhook.
	Kind string `json:"kind"`
	// ID is the command ID, or the webhook event's ID.
	ID string `json:"id"`
}

// HistoryEvent is a domain event a history item published about the
// room (on rooms.events.<type>).
type HistoryEvent struct {
	ID string `json:"id"`
	// Type is the short type ("deleted"), the last token of its subject.
	Type string `json:"type"`
	// Time is the event's time, epoch ms.
	Time int64 `json:"time"`
}

// HistoryItem is one command or LiveKit webhook event in a room's history:
// its ledger record.
type HistoryItem struct {
	CommandID string `json:"commandId"`
	// Subject is the subject it came on (rooms.cmd.update_config,
	// livekit.webhook.room_finished, ...).
	Subject string `json:"subject"`
	// OK and Status are its result's (Status: the REST status); Error is
	// the error of a failed one.
	OK     bool   `json:"ok"`
	Status int    `json:"status,omitempty"`
	Error  *Error `json:"error,omitempty"`
	// Dead reports a command given up (a dead letter was published).
	Dead bool `json:"dead,omitempty"`
	// ReceivedAt is when it was first taken, Time when it was finished
	// (epoch ms); the history is in Time order.
	ReceivedAt int64 `json:"receivedAt"`
	Time       int64 `json:"time"`
	// Cause is the webhook event or the command that caused it; absent for
	// a client's command.
	Cause *HistoryCause `json:"cause,omitempty"`
	// Events are the domain events it published about the room.
	Events []HistoryEvent `json:"events"`
}

// HistoryReply is the reply of rooms.api.history.
type HistoryReply struct {
	Items      []HistoryItem `json:"items"`
	Pagination Pagination    `json:"pagination"`
}

// maxNamedRoomID bounds the room IDs CommandRooms reads.
const maxNamedRoomID = 256

// CommandRooms returns the room IDs a command's body names (roomId, and
// the roomIds of a delete), read leniently and without repeats, so that
// even a command refused as invalid is in the history of the rooms it
// names. At most MaxDeleteRoomIDs; IDs that are empty, longer than 256
// bytes or hold a control character or '.', '*', '>' are left out.
func CommandRooms(body []byte) []string {
	var named struct {
		RoomID  json.RawMessage   `json:"roomId"`
		RoomIDs []json.RawMessage `json:"roomIds"`
	}
	if json.Unmarshal(body, &named) != nil {
		return nil
	}
	var out []string
	seen := map[string]bool{}
	add := func(raw json.RawMessage) {
		var id string
		if len(out) >= MaxDeleteRoomIDs || json.Unmarshal(raw, &id) != nil || !plausibleRoomID(id) || seen[id] {
			return
		}
		seen[id] = true
		out = append(out, id)
	}
	if named.RoomID != nil {
		add(named.RoomID)
	}
	for _, raw := range named.RoomIDs {
		add(raw)
	}
	return out
}

// WebhookRooms returns the room a LiveKit webhook event's body names (its
// room's name, or its egress's room name), read leniently as
// CommandRooms reads a command, so that a webhook that failed is in the
// history of its room; nil when it names none.
func WebhookRooms(body []byte) []string {
	var named struct {
		Room       struct{ Name json.RawMessage } `json:"room"`
		EgressInfo struct {
			RoomName json.RawMessage `json:"roomName"`
		} `json:"egressInfo"`
	}
	if json.Unmarshal(body, &named) != nil {
		return nil
	}
	var out []string
	for _, raw := range []json.RawMessage{named.Room.Name, named.EgressInfo.RoomName} {
		var id string
		if raw != nil && json.Unmarshal(raw, &id) == nil && plausibleRoomID(id) && !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out
}

func plausibleRoomID(id string) bool {
	if id == "" || len(id) > maxNamedRoomID {
		return false
	}
	return !strings.ContainsFunc(id, func(r rune) bool { return r < 0x20 || r == 0x7f || r == '.' || r == '*' || r == '>' })
}
