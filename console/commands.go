package console

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/roomkeeper/roomkeeper/events"
)

// commandsData is the commands page: one page of ledger records of a state.
type commandsData struct {
	State, Type string
	States      []string
	Items       []events.CommandRecord
	Next        string
}

// commandsPage lists the ledger's records of a state (rooms.api.commands),
// the most recently updated first, with their results.
func (c *Console) commandsPage(w http.ResponseWriter, r *http.Request, p *page) {
	q := r.URL.Query()
	d := &commandsData{State: q.Get("state"), Type: q.Get("type"), States: events.CommandStates}
	p.Title, p.Nav, p.Data = "Commands", "commands", d
	switch {
	case d.State == "":
		d.State = events.CommandDone
	case !slices.Contains(d.States, d.State):
		p.Error = "state " + strconv.Quote(d.State) + ": one of " + strings.Join(d.States, ", ")
		d.State = ""
		c.render(w, http.StatusUnprocessableEntity, "commands", p)
		return
	}
	ctx, cancel := c.ctx(r)
	defer cancel()
	reply, err := c.client.Commands(ctx, events.CommandsRequest{State: d.State, Type: d.Type, MaxItems: 50, NextPageToken: q.Get("page")})
	if err != nil {
		p.Error = "commands: " + err.Error()
		c.render(w, statusOf(err), "commands", p)
		return
	}
	d.Items = reply.Items
	if reply.Pagination.IsTruncated && reply.Pagination.NextPageToken != "" {
		next := url.Values{"state": {d.State}, "type": {d.Type}, "page": {reply.Pagination.NextPageToken}}
		d.Next = c.cfg.Prefix + "/commands?" + next.Encode()
	}
	c.render(w, http.StatusOK, "commands", p)
}
