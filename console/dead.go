package console

import (
	"context"
	"fmt"
	"net/http"
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
	Editable   bool
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
		Replayable: events.CommandType(d.OriginalSubject) != "" || strings.HasPrefix(d.OriginalSubject, events.WebhookPrefix),
		Editable:   events.CommandType(d.OriginalSubject) != ""}
	c.render(w, http.StatusOK, "deadletter", p)
}

// replayData is the outcome of a replay (an htmx fragment).
type replayData struct {
	ID     string
	Edited bool
	Result *events.Result
	Err    string
}

// replay publishes a dead letter again (natsapi.ReplayDead), or, with
// edit=1, the body of the form on the original command subject under a
// fresh command ID, then waits for the result.
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
	if out.Edited {
		out.ID, err = c.replayEdited(ctx, seq, []byte(r.PostFormValue("body")))
	} else {
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

// replayEdited publishes body on the original subject of dead letter seq,
// a command's, as a new command.
func (c *Console) replayEdited(ctx context.Context, seq uint64, body []byte) (string, error) {
	d, err := natsapi.GetDead(ctx, c.js, seq)
	if err != nil {
		return "", err
	}
	if events.CommandType(d.OriginalSubject) == "" {
		return "", fmt.Errorf("%w: %s", errNotReplayable, d.OriginalSubject)
	}
	id := natsapi.NewReplayID(seq)
	return id, c.client.SendRaw(ctx, id, d.OriginalSubject, body)
}
