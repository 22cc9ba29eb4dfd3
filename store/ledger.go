package store

import (
	"context"
	"fmt"
	"time"
)

// CommandQuery selects ledger records (LedgerReader.FindCommands).
type CommandQuery struct {
	// Status is the ledger status to list: StatusPending, StatusDone or
	// StatusDead.
	Status string
	// After, when set, starts just after this position.
	After *CommandCursor
	// Limit bounds the page (at least 1).
	Limit int
}

// CommandCursor is a ledger record's position in FindCommands' order:
// its UpdatedAt (millisecond precision, as stored), then its ID.
type CommandCursor struct {
	UpdatedAt time.Time
	ID        string
}

// Cursor is c's position in FindCommands' order: the cursor of the last
// record of a page is where the next one starts.
func (c *Command) Cursor() CommandCursor {
	return CommandCursor{UpdatedAt: c.UpdatedAt.Truncate(time.Millisecond), ID: c.ID}
}

// Check checks q: an unknown status or a Limit below 1 is ErrInvalid.
// Both stores call it first.
func (q *CommandQuery) Check() error {
	switch q.Status {
	case StatusPending, StatusDone, StatusDead:
	default:
		return fmt.Errorf("%w: ledger status %q", ErrInvalid, q.Status)
	}
	if q.Limit < 1 {
		return fmt.Errorf("%w: limit %d below 1", ErrInvalid, q.Limit)
	}
	return nil
}

// LedgerReader lists the command ledger (rooms.api.commands).
type LedgerReader interface {
	// FindCommands returns up to q.Limit ledger records of status
	// q.Status, the most recently updated first (UpdatedAt, then ID,
	// descending), starting just after q.After (keyset pagination: pass
	// the Cursor of the last record of a page to get the next). The
	// records have no Plan and no Outbox (left out to keep a page small).
	// It walks the ledger's index on (status, updatedAt), the one
	// PruneCommands uses, so a page costs about q.Limit records however
	// large the ledger is. ErrInvalid when q does not pass Check.
	FindCommands(ctx context.Context, q CommandQuery) ([]Command, error)
}
