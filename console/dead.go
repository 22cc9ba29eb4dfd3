package console

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/natsapi"
)

// deadLimit is how many dead letters the list shows (the newest).
const deadLimit = 200

func (c *Console) deadPage(w http.ResponseWriter, r *http.Request, p *page) {
	p.Title, p.Nav = "Dead letters", "dead"
	ctx, cancel := c.ctx(r)
	defer cancel()
	list, err := natsapi.ListDead(ctx, c.js, deadLimit)
	if err != nil {
		p.Error = "list dead letters: " + err.Error()
		c.render(w, http.StatusBadGateway, "dead", p)
		return
	}
	slices.Reverse(list)
	p.Data = list
	c.render(w, http.StatusOK, "dead", p)
}

// deadData is the page of one dead letter.
type deadData struct {
	D          *events.DeadLetter
	Body       string
	Replayable bool
}

func (c *Console) deadLetterPage(w http.ResponseWriter, r *http.Request, p *page) {
	p.Title, p.Nav = "Dead letter "+r.PathValue("seq"), "dead"
	seq, err := strconv.ParseUint(r.PathValue("seq"), 10, 64)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	ctx, cancel := c.ctx(r)
	defer cancel()
	d, err := natsapi.GetDead(ctx, c.js, seq)
	if err != nil {
		p.Error = err.Error()
		c.render(w, http.StatusNotFound, "deadletter", p)
		return
	}
	p.Data = &deadData{D: d, Body: prettyJSON(d.Data),
		Replayable: events.CommandType(d.OriginalSubject) != "" || strings.HasPrefix(d.OriginalSubject, events.WebhookPrefix)}
	c.render(w, http.StatusOK, "deadletter", p)
}

// replayData is the outcome of a replay (an htmx fragment).
type replayData struct {
	ID     string
	Edited bool
	Result *events.Result
	Err    string
}

// replay publishes a dead letter again under a fresh command ID
// (natsapi.ReplayDead), or, with edit=1, the body of the form instead of
// its own (natsapi.ReplayDeadBody), then waits for the result.
func (c *Console) replay(w http.ResponseWriter, r *http.Request, p *page) {
	seq, err := strconv.ParseUint(r.PathValue("seq"), 10, 64)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	ctx, cancel := c.ctx(r)
	defer cancel()
	out := &replayData{Edited: r.PostFormValue("edit") == "1"}
	p.Data = out
	body := []byte(r.PostFormValue("body"))
	switch {
	case out.Edited && !json.Valid(body):
		// As roomctl dead replay --edit: refused before it is published,
		// so that a typo does not make one more dead letter.
		out.Err = "the edited body is not valid JSON: nothing was published; correct it and replay again"
		c.render(w, http.StatusOK, "replay_fragment", p)
		return
	case out.Edited:
		out.ID, err = natsapi.ReplayDeadBody(ctx, c.js, seq, "", body)
	default:
		out.ID, err = natsapi.ReplayDead(ctx, c.js, seq, "")
	}
	if err == nil {
		out.Result, err = c.client.Result(ctx, out.ID)
	}
	if err != nil {
		out.Err = err.Error()
	}
	c.render(w, http.StatusOK, "replay_fragment", p)
}

// deleteDead deletes one dead letter (natsapi.DeleteDead).
func (c *Console) deleteDead(w http.ResponseWriter, r *http.Request, _ *page) {
	seq, err := strconv.ParseUint(r.PathValue("seq"), 10, 64)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	ctx, cancel := c.ctx(r)
	defer cancel()
	msg := fmt.Sprintf("Dead letter %d deleted.", seq)
	if n, _, err := natsapi.DeleteDead(ctx, c.js, seq); err != nil {
		msg = "delete: " + err.Error()
	} else if n == 0 {
		msg = fmt.Sprintf("Dead letter %d was already gone.", seq)
	}
	http.Redirect(w, r, c.cfg.Prefix+"/dead?flash="+url.QueryEscape(msg), http.StatusSeeOther)
}

// purgeDead deletes every dead letter stored now (natsapi.PurgeDead).
func (c *Console) purgeDead(w http.ResponseWriter, r *http.Request, _ *page) {
	ctx, cancel := c.ctx(r)
	defer cancel()
	var msg string
	if n, err := natsapi.PurgeDead(ctx, c.js); err != nil {
		msg = "purge: " + err.Error()
	} else {
		msg = fmt.Sprintf("Purged %d dead letter(s).", n)
	}
	http.Redirect(w, r, c.cfg.Prefix+"/dead?flash="+url.QueryEscape(msg), http.StatusSeeOther)
}
