package ctl

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/roomkeeper/roomkeeper/events"
)

// CommandsCmd is `roomctl commands`: the command ledger by state.
type CommandsCmd struct {
	State    string `arg:"" name:"state" enum:"pending,done,failed,dead" help:"pending (no result yet), done (ok), failed (a result not ok), or dead (dead-lettered)."`
	Type     string `help:"Keep one command type: its subject (rooms.cmd.create) or its name (create)."`
	Limit    int    `default:"50" help:"Show at most N records, the most recent first (0: all)."`
	MaxItems int    `name:"max-items" help:"Page size of each request (1..100); pages are read until --limit."`
	JSON     bool   `name:"json" help:"Print one JSON object per line (with the whole result) instead of a table."`
}

// Run lists the records, page after page.
func (c *CommandsCmd) Run(e *env) error {
	if c.Limit < 0 {
		return fail(ExitUsage, "--limit must not be negative")
	}
	if c.MaxItems < 0 || c.MaxItems > 100 {
		return fail(ExitUsage, "--max-items must be in 1..100")
	}
	typ := c.Type
	if typ != "" && !strings.Contains(typ, ".") {
		typ = events.CommandPrefix + typ
	}
	client, err := e.client()
	if err != nil {
		return err
	}
	items, err := allPages(e, c.Limit, func(ctx context.Context, token string) ([]events.CommandRecord, events.Pagination, error) {
		page, err := client.Commands(ctx, events.CommandsRequest{State: c.State, Type: typ, MaxItems: c.MaxItems, NextPageToken: token})
		if err != nil {
			return nil, events.Pagination{}, err
		}
		return page.Items, page.Pagination, nil
	})
	if err != nil {
		return err
	}
	if c.JSON {
		return jsonLines(e.out, items)
	}
	tw := tabwriter.NewWriter(e.out, 0, 4, 2, ' ', 0)
	_, _ = fmt.Fprintln(tw, "COMMAND ID\tTYPE\tSTATE\tSTATUS\tCLAIMED\tCOMPLETED\tERROR")
	for _, it := range items {
		_, _ = fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", it.CommandID, it.Type, it.State,
			orDash(it.Status), msTime(it.ClaimedAt), msTime(it.CompletedAt), resultError(it.Result))
	}
	return tw.Flush()
}

func orDash(status int) string {
	if status == 0 {
		return "-"
	}
	return strconv.Itoa(status)
}

// msTime is epoch ms as RFC 3339 (UTC, milliseconds), "-" for none.
func msTime(ms int64) string {
	if ms == 0 {
		return "-"
	}
	return time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000Z07:00")
}

// resultError is "code: message" of a result that failed, "-" otherwise.
func resultError(raw json.RawMessage) string {
	var r events.Result
	if len(raw) == 0 || json.Unmarshal(raw, &r) != nil || r.Error == nil {
		return "-"
	}
	return r.Error.Code + ": " + r.Error.Message
}

// allPages reads the pages fetch returns, each with its own timeout, from
// the first until the last or until limit items (0: no limit), and returns
// their items (never nil), at most limit.
func allPages[T any](e *env, limit int, fetch func(ctx context.Context, token string) ([]T, events.Pagination, error)) ([]T, error) {
	items, token := []T{}, ""
	for limit == 0 || len(items) < limit {
		ctx, cancel := e.withTimeout()
		page, p, err := fetch(ctx, token)
		cancel()
		if err != nil {
			return nil, err
		}
		items = append(items, page...)
		if !p.IsTruncated || p.NextPageToken == "" {
			break
		}
		token = p.NextPageToken
	}
	if limit > 0 && len(items) > limit {
		items = items[:limit]
	}
	return items, nil
}
