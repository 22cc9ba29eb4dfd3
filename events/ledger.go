package events

import "encoding/json"

// APICommands is the subject of the ledger query: the command ledger's
// records by state, a page at a time.
const APICommands = "rooms.api.commands"

// Command states of rooms.api.commands: how a ledger record stands.
const (
	// CommandPending: claimed by a worker, no result yet.
	CommandPending = "pending"
	// CommandDone: finished with an ok result.
	CommandDone = "done"
	// CommandFailed: finished with a result that is not ok (the message
	// was acked: a bad request, a room that does not exist, ...).
	CommandFailed = "failed"
	// CommandDead: given up and dead-lettered on ROOMS_DEAD (a body that
	// does not decode, max deliveries exceeded); its result is not ok.
	CommandDead = "dead"
)

// CommandStates are the states rooms.api.commands lists.
var CommandStates = []string{CommandPending, CommandDone, CommandFailed, CommandDead}

// CommandsRequest is the request of rooms.api.commands.
type CommandsRequest struct {
	// State is one of CommandStates; required.
	State string `json:"state"`
	// Type, when set, keeps the records of one command type (a subject,
	// e.g. rooms.cmd.create).
	Type string `json:"type,omitempty"`
	// MaxItems is the page size, 1..100 (larger is capped at 100); 0 means
	// the default, 10.
	MaxItems int `json:"maxItems,omitempty"`
	// NextPageToken is the previous page's Pagination.NextPageToken; empty
	// for the first page. It is only valid with the same state and type.
	NextPageToken string `json:"nextPageToken,omitempty"`
}

// CommandRecord is a ledger record as rooms.api.commands lists it.
type CommandRecord struct {
	CommandID string `json:"commandId"`
	Type      string `json:"type"`
	// State is the request's state.
	State string `json:"state"`
	// Status is the result's REST status (absent while pending, and in
	// results stored before it existed).
	Status int `json:"status,omitempty"`
	// ClaimedAt is when a worker claimed the command; CompletedAt when it
	// finished (absent while pending); epoch ms.
	ClaimedAt   int64 `json:"claimedAt"`
	CompletedAt int64 `json:"completedAt,omitempty"`
	// Result is the command's result, as published on
	// rooms.results.<commandId> (absent while pending).
	Result json.RawMessage `json:"result,omitempty"`
}

// CommandsReply is the reply of rooms.api.commands: the records most
// recently updated first. A page may hold fewer than maxItems records, even
// none, while Pagination.IsTruncated is set: a request reads a bounded part
// of the ledger (the done and failed records share one walk, and a type
// filter skips records), and the token resumes where it stopped.
type CommandsReply struct {
	Items      []CommandRecord `json:"items"`
	Pagination Pagination      `json:"pagination"`
}
