package ctl

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/roomkeeper/roomkeeper/events"
)

// HistoryCmd is `roomctl history`.
type HistoryCmd struct {
	RoomID   string `arg:"" name:"roomId"`
	MaxItems int    `name:"max-items" help:"Page size (1..100); every page is read."`
	JSON     bool   `name:"json" help:"Print a JSON array of the items instead of a table."`
}

// Run prints the room's whole history (rooms.api.history), page after
// page, oldest first.
func (c *HistoryCmd) Run(e *env) error {
	client, err := e.client()
	if err != nil {
		return err
	}
	items, err := allPages(e, 0, func(ctx context.Context, token string) ([]events.HistoryItem, events.Pagination, error) {
		page, err := client.History(ctx, events.HistoryRequest{RoomID: c.RoomID, MaxItems: c.MaxItems, NextPageToken: token})
		if err != nil {
			return nil, events.Pagination{}, err
		}
		return page.Items, page.Pagination, nil
	})
	if err != nil {
		return err
	}
	if c.JSON {
		return printJSON(e.out, items)
	}
	tw := tabwriter.NewWriter(e.out, 0, 4, 2, ' ', 0)
	_, _ = fmt.Fprintln(tw, "TIME\tCOMMAND ID\tSUBJECT\tRESULT\tCAUSE\tEVENTS")
	for _, it := range items {
		_, _ = fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n",
			time.UnixMilli(it.Time).UTC().Format("2006-01-02T15:04:05.000Z"),
			it.CommandID, it.Subject, resultCell(it), causeCell(it.Cause), eventsCell(it.Events))
	}
	return tw.Flush()
}

// resultCell is "ok 201", "error 409 conflict", with " dead" when given up.
func resultCell(it events.HistoryItem) string {
	s := "ok"
	if !it.OK {
		s = "error"
	}
	if it.Status != 0 {
		s += " " + strconv.Itoa(it.Status)
	}
	if it.Error != nil {
		s += " " + it.Error.Code
	}
	if it.Dead {
		s += " dead"
	}
	return s
}

// causeCell is "webhook:<id>" or "command:<id>", "-" when a client sent it.
func causeCell(c *events.HistoryCause) string {
	if c == nil {
		return "-"
	}
	return c.Kind + ":" + c.ID
}

// eventsCell lists the short types of the events, "-" when none.
func eventsCell(evs []events.HistoryEvent) string {
	if len(evs) == 0 {
		return "-"
	}
	types := make([]string, len(evs))
	for i, ev := range evs {
		types[i] = ev.Type
	}
	return strings.Join(types, ",")
}
