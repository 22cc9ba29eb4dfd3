package ctl

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/roomkeeper/roomkeeper/natsapi"
)

// DeadCmd is `roomctl dead`: the dead letters on ROOMS_DEAD.
type DeadCmd struct {
	List   DeadListCmd   `cmd:"" help:"Print the dead letters: stream sequence, subject, command ID, deliveries, reason."`
	Replay DeadReplayCmd `cmd:"" help:"Publish a dead letter's body (or an edited one) again on its original subject with a new command ID, wait for the result and print it."`
	Purge  DeadPurgeCmd  `cmd:"" help:"Delete dead letters: those of the sequences given, or every one with --all."`
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
		return jsonLines(e.out, dead)
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
	Wait   bool   `default:"true" negatable:"" help:"Wait for the new command's result and print it (--no-wait: print the new command ID only)."`
	Edit   bool   `xor:"body" help:"Edit the body before it is published: opens --editor on it (an empty file cancels the replay)."`
	File   string `xor:"body" type:"existingfile" help:"Publish the body in this file instead of the dead letter's."`
	Editor string `env:"VISUAL,EDITOR" default:"vi" help:"The editor of --edit (a command; the file is its last argument)."`
}

// Run republishes the dead letter and waits for its result.
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
	var body []byte
	switch {
	case c.File != "":
		if body, err = readBody(c.File); err != nil {
			return err
		}
	case c.Edit:
		d, err := natsapi.GetDead(ctx, js, c.Seq)
		if err != nil {
			return deadError(c.Seq, err)
		}
		if body, err = editBody(e.ctx, c.Editor, d.Data); err != nil {
			return err
		}
		// The editor may have taken a while: the wait starts now.
		cancel()
		ctx, cancel = e.withTimeout()
		defer cancel()
	}
	if body != nil {
		id, err = natsapi.ReplayDeadBody(ctx, js, c.Seq, id, body)
	} else {
		id, err = natsapi.ReplayDead(ctx, js, c.Seq, id)
	}
	if err != nil {
		return deadError(c.Seq, err)
	}
	if !c.Wait {
		_, err := fmt.Fprintln(e.out, id)
		return err
	}
	_, _ = fmt.Fprintf(e.errOut, "command %s published\n", id)
	return e.waitResult(ctx, id)
}

// deadError is the exit of a failed read or replay of dead letter seq.
func deadError(seq uint64, err error) error {
	switch {
	case errors.Is(err, jetstream.ErrMsgNotFound):
		return fail(ExitErrorResult, "no dead letter with sequence %s", strconv.FormatUint(seq, 10))
	case errors.Is(err, natsapi.ErrNotReplayable):
		return fail(ExitErrorResult, "%w", err)
	default:
		return fail(ExitUnreachable, "%w", err)
	}
}

// readBody reads a replacement body: it must be JSON, as every command
// and webhook body is.
func readBody(path string) ([]byte, error) {
	body, err := os.ReadFile(path)
	if err != nil {
		return nil, fail(ExitUsage, "--file: %w", err)
	}
	body = bytes.TrimSpace(body)
	if !json.Valid(body) {
		return nil, fail(ExitUsage, "%s is not valid JSON", path)
	}
	return body, nil
}

// editBody writes body (indented when it is JSON) to a temporary file,
// runs editor on it, and returns what the file holds afterwards. An empty
// file cancels (exit 1), as git does with an empty commit message.
func editBody(ctx context.Context, editor string, body []byte) ([]byte, error) {
	args := strings.Fields(editor)
	if len(args) == 0 {
		return nil, fail(ExitUsage, "--edit needs an editor (--editor, $VISUAL or $EDITOR)")
	}
	f, err := os.CreateTemp("", "roomctl-dead-*.json")
	if err != nil {
		return nil, err
	}
	defer func() { _ = os.Remove(f.Name()) }()
	var b bytes.Buffer
	if json.Indent(&b, body, "", "  ") != nil {
		b.Reset()
		b.Write(body)
	}
	b.WriteByte('\n')
	if _, err := f.Write(b.Bytes()); err != nil {
		_ = f.Close()
		return nil, err
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, args[0], append(args[1:], f.Name())...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		return nil, fail(ExitErrorResult, "editor %s: %w; nothing replayed", args[0], err)
	}
	edited, err := os.ReadFile(f.Name())
	if err != nil {
		return nil, err
	}
	edited = bytes.TrimSpace(edited)
	if len(edited) == 0 {
		return nil, fail(ExitErrorResult, "the body is empty; nothing replayed")
	}
	if !json.Valid(edited) {
		return nil, fail(ExitUsage, "the edited body is not valid JSON; nothing replayed")
	}
	return edited, nil
}

// DeadPurgeCmd is `roomctl dead purge`.
type DeadPurgeCmd struct {
	Seqs []uint64 `arg:"" optional:"" name:"seq" help:"Stream sequences of the dead letters to delete (from dead list)."`
	All  bool     `help:"Delete every dead letter (those stored now; one arriving meanwhile stays)."`
}

// Run deletes the dead letters and says how many.
func (c *DeadPurgeCmd) Run(e *env) error {
	if c.All == (len(c.Seqs) > 0) {
		return fail(ExitUsage, "give the sequences of the dead letters to delete, or --all")
	}
	js, err := e.jetStream()
	if err != nil {
		return err
	}
	ctx, cancel := e.withTimeout()
	defer cancel()
	if c.All {
		n, err := natsapi.PurgeDead(ctx, js)
		if err != nil {
			return fail(ExitUnreachable, "%w", err)
		}
		_, err = fmt.Fprintf(e.out, "%d dead letters deleted\n", n)
		return err
	}
	n, missing, err := natsapi.DeleteDead(ctx, js, c.Seqs...)
	_, _ = fmt.Fprintf(e.out, "%d dead letters deleted\n", n)
	if err != nil {
		return fail(ExitUnreachable, "%w", err)
	}
	if len(missing) > 0 {
		seqs := make([]string, len(missing))
		for i, s := range missing {
			seqs[i] = strconv.FormatUint(s, 10)
		}
		return fail(ExitErrorResult, "no dead letter with sequence %s", strings.Join(seqs, ", "))
	}
	return nil
}
