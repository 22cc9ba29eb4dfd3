package queries

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/store"
)

// historyRequest is rooms.api.history as received: maxItems is any JSON
// number.
type historyRequest struct {
	RoomID        string   `json:"roomId"`
	MaxItems      *float64 `json:"maxItems"`
	NextPageToken string   `json:"nextPageToken"`
}

// history answers rooms.api.history: a page of the room's finished ledger
// records (store.RoomHistory), one item each. A room with an empty history
// that does not exist either is not_found, as rooms.api.get answers; a
// deleted room's history is there for as long as the ledger keeps it.
func (q *Service) history(ctx context.Context, body []byte) (any, error) {
	var req historyRequest
	if err := decodeQuery(body, &req); err != nil {
		return nil, err
	}
	limit, err := MaxItems(req.MaxItems)
	if err != nil {
		return nil, events.Invalid("invalid "+events.APIHistory+" request",
			events.FieldError{Field: "maxItems", Message: "must be at least 1"})
	}
	id := unsafeIDChars.ReplaceAllString(req.RoomID, "")
	if id == "" {
		return nil, events.Invalid("invalid request",
			events.FieldError{Field: "roomId", Message: "is empty after removing characters other than letters, digits, '-' and '_'"})
	}
	hq := store.HistoryQuery{RoomID: id, Limit: limit + 1}
	if req.NextPageToken != "" {
		if hq.After, err = parseHistoryToken(req.NextPageToken, id); err != nil {
			return nil, err
		}
	}
	recs, err := q.cfg.Store.RoomHistory(ctx, hq)
	if err != nil {
		return nil, err
	}
	out := events.HistoryReply{Items: []events.HistoryItem{}, Pagination: events.Pagination{MaxItems: limit}}
	if len(recs) == 0 && hq.After == nil {
		if _, err := q.room(ctx, id); err != nil {
			return nil, err
		}
	}
	if len(recs) > limit {
		recs = recs[:limit]
		out.Pagination.IsTruncated = true
		out.Pagination.NextPageToken = HistoryToken(id, recs[limit-1].HistoryCursor())
	}
	for i := range recs {
		out.Items = append(out.Items, historyItem(&recs[i], id))
	}
	return out, nil
}

// historyItem is the item of ledger record c in room's history.
func historyItem(c *store.Command, room string) events.HistoryItem {
	it := events.HistoryItem{
		CommandID: c.ID, Subject: c.Type, Dead: c.Status == store.StatusDead,
		ReceivedAt: c.CreatedAt.UnixMilli(), Time: c.UpdatedAt.UnixMilli(),
		Events: []events.HistoryEvent{},
	}
	var res events.Result
	if json.Unmarshal(c.Result, &res) == nil {
		it.OK, it.Status, it.Error = res.OK, res.Status, res.Error
	}
	if c.Cause != "" {
		kind := events.CauseCommand
		if strings.HasPrefix(c.Type, events.WebhookPrefix) {
			kind = events.CauseWebhook
		}
		it.Cause = &events.HistoryCause{Kind: kind, ID: c.Cause}
	}
	for _, m := range c.Outbox {
		if !strings.HasPrefix(m.Subject, events.EventPrefix) {
			continue
		}
		var ev events.Event
		if json.Unmarshal(m.Data, &ev) != nil || ev.Subject != room {
			continue
		}
		it.Events = append(it.Events, events.HistoryEvent{ID: ev.ID, Type: ev.ShortType(), Time: ev.Time.UnixMilli()})
	}
	return it
}

// historyTokenPrefix versions the history's page token.
const historyTokenPrefix = "h1:"

// historyCursor is what a history page token holds: the room and the last
// item's position in its history.
type historyCursor struct {
	Room string `json:"r"`
	At   int64  `json:"t"`
	ID   string `json:"id"`
}

// HistoryToken is the opaque nextPageToken of a page of room's history
// that ends at c: the history resumes just after it. As PageToken, it
// ends with a digest of its content, so an altered token is refused.
func HistoryToken(room string, c store.HistoryCursor) string {
	return sealToken(historyTokenPrefix, historyCursor{Room: room, At: c.At, ID: c.CommandID})
}

// notOurs is why a page token this service did not make is refused.
const notOurs = "is not a token of this service"

// parseHistoryToken returns the position a token of room's history
// resumes after.
func parseHistoryToken(tok, room string) (*store.HistoryCursor, error) {
	bad := func(msg string) error {
		return events.Invalid("invalid "+events.APIHistory+" request",
			events.FieldError{Field: "nextPageToken", Message: msg})
	}
	var c historyCursor
	if !openToken(tok, historyTokenPrefix, &c) || c.ID == "" || len(c.ID) > maxTokenValue {
		return nil, bad(notOurs)
	}
	if c.Room != room {
		return nil, bad("belongs to another room's history")
	}
	return &store.HistoryCursor{At: c.At, CommandID: c.ID}, nil
}
