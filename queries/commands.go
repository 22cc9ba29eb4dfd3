package queries

import (
	"context"
	"encoding/json"
	"time"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/store"
)

// MaxCommandsScan bounds the ledger records one rooms.api.commands request
// reads: the done and failed states share the ledger's done records, and a
// type filter skips records, so a page may need more reads than it has
// items; past this bound the page ends early, truncated, and its token
// resumes after the last record read.
const MaxCommandsScan = 1000

// commandsRequest is rooms.api.commands as received.
type commandsRequest struct {
	State         string   `json:"state"`
	Type          string   `json:"type"`
	MaxItems      *float64 `json:"maxItems"`
	NextPageToken string   `json:"nextPageToken"`
}

// ledgerStatus is the ledger status the records of a state have.
func ledgerStatus(state string) string {
	switch state {
	case events.CommandPending:
		return store.StatusPending
	case events.CommandDead:
		return store.StatusDead
	default: // done, failed
		return store.StatusDone
	}
}

// resultHead is what the listing reads of a result.
type resultHead struct {
	OK     bool `json:"ok"`
	Status int  `json:"status"`
}

// commandRecord is the listed form of rec, a record of state (nil when it
// is not of that state: a done record whose result is not ok, say).
func commandRecord(rec *store.Command, state, typ string) *events.CommandRecord {
	if typ != "" && rec.Type != typ {
		return nil
	}
	out := &events.CommandRecord{CommandID: rec.ID, Type: rec.Type, State: state, ClaimedAt: rec.CreatedAt.UnixMilli()}
	if state == events.CommandPending {
		return out
	}
	var head resultHead
	if len(rec.Result) > 0 {
		_ = json.Unmarshal(rec.Result, &head) // a record without a readable result counts as not ok
	}
	if rec.Status == store.StatusDone && head.OK != (state == events.CommandDone) {
		return nil
	}
	out.Status = head.Status
	out.CompletedAt = rec.UpdatedAt.UnixMilli()
	if json.Valid(rec.Result) {
		out.Result = rec.Result
	}
	return out
}

func (q *Service) commands(ctx context.Context, body []byte) (any, error) {
	var req commandsRequest
	if err := decodeQuery(body, &req); err != nil {
		return nil, err
	}
	limit, err := maxItems(events.APICommands, req.MaxItems)
	if err != nil {
		return nil, err
	}
	sq := store.CommandQuery{Status: ledgerStatus(req.State)}
	if req.NextPageToken != "" {
		if sq.After, err = parseCommandsToken(req.NextPageToken, req.State, req.Type); err != nil {
			return nil, err
		}
	}
	// Without a filter on the records read, a page is one read of limit+1.
	filtered := req.Type != "" || req.State == events.CommandDone || req.State == events.CommandFailed
	out := events.CommandsReply{Items: []events.CommandRecord{}, Pagination: events.Pagination{MaxItems: limit}}
	truncate := func(at store.CommandCursor) (any, error) {
		out.Pagination.IsTruncated = true
		out.Pagination.NextPageToken = CommandsToken(req.State, req.Type, at)
		return out, nil
	}
	var lastItem store.CommandCursor // the position of the page's last item
	for scanned := 0; ; {
		sq.Limit = limit + 1 - len(out.Items)
		if filtered {
			sq.Limit = min(max(2*limit, 50), MaxCommandsScan-scanned)
		}
		recs, err := q.cfg.Store.FindCommands(ctx, sq)
		if err != nil {
			return nil, err
		}
		for i := range recs {
			scanned++
			cur := recs[i].Cursor()
			sq.After = &cur
			item := commandRecord(&recs[i], req.State, req.Type)
			if item == nil {
				continue
			}
			if len(out.Items) == limit {
				return truncate(lastItem)
			}
			out.Items = append(out.Items, *item)
			lastItem = cur
		}
		switch {
		case len(recs) < sq.Limit:
			return out, nil // the end of the ledger's records of the status
		case scanned >= MaxCommandsScan:
			return truncate(*sq.After)
		}
	}
}

// commandsTokenPrefix versions the token of rooms.api.commands.
const commandsTokenPrefix = "c1:"

// commandsCursor is what a rooms.api.commands token holds: the listing's
// state and type, and the position of the last record read.
type commandsCursor struct {
	State     string `json:"s"`
	Type      string `json:"t,omitempty"`
	UpdatedAt int64  `json:"u"`
	ID        string `json:"id"`
}

// CommandsToken is the opaque nextPageToken of a rooms.api.commands page
// of state and typ that ends at position at (keyset pagination, like
// PageToken, and like it closed with a digest so an altered token is
// refused).
func CommandsToken(state, typ string, at store.CommandCursor) string {
	return sealToken(commandsTokenPrefix, commandsCursor{State: state, Type: typ, UpdatedAt: at.UpdatedAt.UnixMilli(), ID: at.ID})
}

func parseCommandsToken(tok, state, typ string) (*store.CommandCursor, error) {
	bad := func(msg string) error {
		return events.Invalid("invalid "+events.APICommands+" request",
			events.FieldError{Field: "nextPageToken", Message: msg})
	}
	var c commandsCursor
	if !openToken(tok, commandsTokenPrefix, &c) || c.ID == "" || len(c.ID) > maxTokenValue {
		return nil, bad("is not a token of this service")
	}
	if c.State != state || c.Type != typ {
		return nil, bad("belongs to a listing of another state or type")
	}
	return &store.CommandCursor{UpdatedAt: time.UnixMilli(c.UpdatedAt).UTC(), ID: c.ID}, nil
}
