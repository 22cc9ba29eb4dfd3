package ctl

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"text/tabwriter"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/roomkeeper/roomkeeper/natsapi"
)

// DeadCmd is `roomctl dead`: the dead letters on ROOMS_DEAD.
type DeadCmd struct {
	List   DeadListCmd   `cmd:"" help:"Print the dead letters: stream sequence, subject, command ID, deliveries, reason."`
	Replay DeadReplayCmd `cmd:"" help:"Publish a dead letter's body again on its original subject with a new command ID, and print the ID."`
}

// DeadListCmd is `roomctl dead list`.
type DeadListCmd struct {
	Limit int  `default:"100" help:"Show the last N dead letters (0: all)."`
	JSON  bool `name:"json" help:"Print one JSON object per line instead of a table."`
}

// jetStream connects on first use.
func (e *env) jetStream() (jetstream.JetStream, error) {
	if _, err := e.client(); err != nil {
		return nil, err
	}
	js, err := jetstream.New(e.nc)
	if err != nil {
		return nil, fail(ExitUnreachable, "%w", err)
	}
	return js, nil
}

// Run prints the dead letters, oldest first.
func (c *DeadListCmd) Run(e *env) error {
	if c.Limit < 0 {
		return fail(ExitUsage, "--limit must not be negative")
	}
	js, err := e.jetStream()
	if err != nil {
		return err
	}
	ctx, cancel := e.withTimeout()
	defer cancel()
	dead, err := natsapi.ListDead(ctx, js, c.Limit)
	if err != nil {
		return fail(ExitUnreachable, "%w", err)
	}
	if c.JSON {
		enc := json.NewEncoder(e.out)
		for _, d := range dead {
			if err := enc.Encode(d); err != nil {
				return err
			}
		}
		return nil
	}
	tw := tabwriter.NewWriter(e.out, 0, 4, 2, ' ', 0)
	_, _ = fmt.Fprintln(tw, "SEQ\tSUBJECT\tCOMMAND ID\tDELIVERIES\tREASON")
	for _, d := range dead {
		_, _ = fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%s\n", d.Seq, d.OriginalSubject, d.CommandID, d.Deliveries, d.Reason)
	}
	return tw.Flush()
}

// DeadReplayCmd is `roomctl dead replay <seq>`.
type DeadReplayCmd struct {
	Seq uint64 `arg:"" name:"seq" help:"Stream sequence of the dead letter (from dead list)."`
	commandFlags
	Wait bool `help:"Wait for the new command's result and print it."`
}

// Run republishes the dead letter and prints the new command ID.
func (c *DeadReplayCmd) Run(e *env) error {
	id := c.ID
	if id != "" {
		var err error
		if id, err = c.id(); err != nil {
			return err
		}
	}
	js, err := e.jetStream()
	if err != nil {
		return err
	}
	ctx, cancel := e.withTimeout()
	defer cancel()
	id, err = natsapi.ReplayDead(ctx, js, c.Seq, id)
	switch {
	case errors.Is(err, jetstream.ErrMsgNotFound):
		return fail(ExitErrorResult, "no dead letter with sequence %s", strconv.FormatUint(c.Seq, 10))
	case errors.Is(err, natsapi.ErrNotReplayable):
		return fail(ExitErrorResult, "%w", err)
	case err != nil:
		return fail(ExitUnreachable, "%w", err)
	}
	if !c.Wait {
		_, err := fmt.Fprintln(e.out, id)
		return err
	}
	_, _ = fmt.Fprintln(e.errOut, id)
	return e.waitResult(ctx, id)
}
