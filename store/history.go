package store

// This file holds what a room's history needs of the ledger
// (Store.RoomHistory, rooms.api.history).

// HistoryQuery selects a page of one room's history: the finished ledger
// records whose Rooms hold RoomID, in completion order (UpdatedAt, then
// ID).
type HistoryQuery struct {
	RoomID string
	// After, when set, starts just after this position.
	After *HistoryCursor
	// Limit bounds the page (at least 1).
	Limit int
}

// HistoryCursor is a record's position in a room's history: its completion
// time (epoch ms) and its command ID.
type HistoryCursor struct {
	At        int64
	CommandID string
}

// HistoryCursor returns c's position in a room's history: the cursor of
// the last record of a page is where the next page starts.
func (c *Command) HistoryCursor() HistoryCursor {
	return HistoryCursor{At: c.UpdatedAt.UnixMilli(), CommandID: c.ID}
}
