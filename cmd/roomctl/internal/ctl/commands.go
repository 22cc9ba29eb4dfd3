package ctl

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/natsapi"
	"github.com/roomkeeper/roomkeeper/schemas"
)

// ---------------------------------------------------------------- commands

// CreateCmd is `roomctl create`.
type CreateCmd struct {
	commandFlags
	Name             string `help:"Room name (trimmed, whitespace collapsed; default Room)."`
	AutoDeletionDate string `name:"auto-deletion-date" help:"When the room expires (at least 1 h ahead): RFC 3339 or epoch milliseconds."`
	WithMeeting      string `name:"with-meeting" enum:",force,when_meeting_ends" default:"" help:"Auto-deletion policy for a room with a live meeting: force or when_meeting_ends (default)."`
	WithRecordings   string `name:"with-recordings" enum:",force,close" default:"" help:"Auto-deletion policy for a room with recordings: force or close (default)."`
	Config           string `help:"Partial config as JSON, merged with the defaults, e.g. {\"recording\":{\"enabled\":false},\"maxParticipants\":10}."`
	Roles            string `help:"Partial roles as JSON, e.g. {\"speaker\":{\"permissions\":{\"mediaShareScreen\":false}}}."`
	Access           string `help:"Access switches as JSON, e.g. {\"anonymous\":{\"recording\":{\"enabled\":false}}}."`
	Preferences      string `help:"Deprecated: the old model's preferences as JSON (complete object)."`
}

// Run publishes rooms.cmd.create.
func (c *CreateCmd) Run(e *env) error {
	body := map[string]any{}
	if c.Name != "" {
		body["roomName"] = c.Name
	}
	if c.AutoDeletionDate != "" {
		ms, err := ParseDate(c.AutoDeletionDate)
		if err != nil {
			return fail(ExitUsage, "--auto-deletion-date: %w", err)
		}
		body["autoDeletionDate"] = ms
	}
	if c.WithMeeting != "" || c.WithRecordings != "" {
		body["autoDeletionPolicy"] = events.AutoDeletionPolicyOptions{WithMeeting: c.WithMeeting, WithRecordings: c.WithRecordings}
	}
	for _, o := range []struct{ flag, key, value string }{
		{"config", "config", c.Config}, {"roles", "roles", c.Roles}, {"access", "access", c.Access},
		{"preferences", "preferences", c.Preferences},
	} {
		if o.value == "" {
			continue
		}
		raw, err := rawJSON(o.flag, o.value)
		if err != nil {
			return err
		}
		body[o.key] = raw
	}
	return e.do(c.commandFlags, events.SubjectCreate, body)
}

// UpdateConfigCmd is `roomctl update-config`.
type UpdateConfigCmd struct {
	commandFlags
	RoomID string `arg:"" name:"roomId"`
	Config string `required:"" help:"Partial config as JSON, deep-merged into the room's; null removes a limit, e.g. {\"maxParticipants\":null}."`
}

// Run publishes rooms.cmd.update_config.
func (c *UpdateConfigCmd) Run(e *env) error {
	raw, err := rawJSON("config", c.Config)
	if err != nil {
		return err
	}
	return e.do(c.commandFlags, events.SubjectUpdateConfig, map[string]any{"roomId": c.RoomID, "config": raw})
}

// UpdateStatusCmd is `roomctl update-status`.
type UpdateStatusCmd struct {
	commandFlags
	RoomID string `arg:"" name:"roomId"`
	Status string `arg:"" name:"status" enum:"open,closed" help:"open or closed (closing a room with a live meeting closes it when the meeting ends)."`
}

// Run publishes rooms.cmd.update_status.
func (c *UpdateStatusCmd) Run(e *env) error {
	return e.do(c.commandFlags, events.SubjectUpdateStatus, events.UpdateStatus{RoomID: c.RoomID, Status: c.Status})
}

// UpdateRolesCmd is `roomctl update-roles`.
type UpdateRolesCmd struct {
	commandFlags
	RoomID string `arg:"" name:"roomId"`
	Roles  string `required:"" help:"The permissions to change, as JSON, e.g. {\"speaker\":{\"permissions\":{\"chatWrite\":false}}}."`
}

// Run publishes rooms.cmd.update_roles.
func (c *UpdateRolesCmd) Run(e *env) error {
	raw, err := rawJSON("roles", c.Roles)
	if err != nil {
		return err
	}
	return e.do(c.commandFlags, events.SubjectUpdateRoles, map[string]any{"roomId": c.RoomID, "roles": raw})
}

// UpdateAccessCmd is `roomctl update-access`.
type UpdateAccessCmd struct {
	commandFlags
	RoomID string `arg:"" name:"roomId"`
	Access string `required:"" help:"The access switches to set, as JSON, e.g. {\"anonymous\":{\"speaker\":{\"enabled\":false}}}."`
}

// Run publishes rooms.cmd.update_access.
func (c *UpdateAccessCmd) Run(e *env) error {
	raw, err := rawJSON("access", c.Access)
	if err != nil {
		return err
	}
	return e.do(c.commandFlags, events.SubjectUpdateAccess, map[string]any{"roomId": c.RoomID, "access": raw})
}

// ParseDate reads an RFC 3339 time or epoch milliseconds into epoch
// milliseconds.
func ParseDate(s string) (int64, error) {
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		return ms, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return 0, fmt.Errorf("%q is neither RFC 3339 nor epoch milliseconds", s)
	}
	return t.UnixMilli(), nil
}

// DeleteCmd is `roomctl delete`.
type DeleteCmd struct {
	commandFlags
	RoomIDs        []string `arg:"" name:"roomId" help:"Rooms to delete."`
	WithMeeting    string   `help:"A room with an active meeting: force (end it), when_meeting_ends, or fail (default)." enum:"force,when_meeting_ends,fail," default:""`
	WithRecordings string   `help:"A room with recordings: force (delete them), close (keep the room, closed), or fail (default)." enum:"force,close,fail," default:""`
	Force          bool     `help:"Deprecated: --with-meeting force."`
}

// Run publishes rooms.cmd.delete.
func (c *DeleteCmd) Run(e *env) error {
	return e.do(c.commandFlags, events.SubjectDelete, events.DeleteRooms{RoomIDs: c.RoomIDs, WithMeeting: c.WithMeeting, WithRecordings: c.WithRecordings, Force: c.Force})
}

// UpdatePreferencesCmd is `roomctl update-preferences`.
type UpdatePreferencesCmd struct {
	commandFlags
	RoomID      string `arg:"" name:"roomId"`
	Preferences string `required:"" help:"The complete new preferences, as JSON."`
}

// Run publishes rooms.cmd.update_preferences.
func (c *UpdatePreferencesCmd) Run(e *env) error {
	raw, err := rawJSON("preferences", c.Preferences)
	if err != nil {
		return err
	}
	return e.do(c.commandFlags, events.SubjectUpdatePreferences, map[string]any{"roomId": c.RoomID, "preferences": raw})
}

// SweepCmd is `roomctl sweep`.
type SweepCmd struct {
	commandFlags
}

// Run publishes rooms.cmd.sweep.
func (c *SweepCmd) Run(e *env) error {
	return e.do(c.commandFlags, events.SubjectSweep, struct{}{})
}

// ResultCmd is `roomctl result`.
type ResultCmd struct {
	ID string `arg:"" name:"id" help:"Command ID."`
}

// Run waits for the result of a command. An ID that no command can have
// (a wildcard, a space) is a usage error, found before connecting.
func (c *ResultCmd) Run(e *env) error {
	if !events.ValidCommandID(c.ID) {
		return fail(ExitUsage, "%q is not a command ID: 1 to 128 letters, digits, '-', '_' or ':'", c.ID)
	}
	ctx, cancel := e.withTimeout()
	defer cancel()
	return e.waitResult(ctx, c.ID)
}

// ---------------------------------------------------------------- queries

// query sends a rooms.api.* request and returns the raw reply.
func (e *env) query(subject string, req any) (json.RawMessage, error) {
	client, err := e.client()
	if err != nil {
		return nil, err
	}
	ctx, cancel := e.withTimeout()
	defer cancel()
	var reply json.RawMessage
	if err := client.Request(ctx, subject, req, &reply); err != nil {
		return nil, err
	}
	return reply, nil
}

func (e *env) printQuery(subject string, req any) error {
	reply, err := e.query(subject, req)
	if err != nil {
		return err
	}
	return printJSON(e.out, reply)
}

// GetCmd is `roomctl get`.
type GetCmd struct {
	RoomID      string `arg:"" name:"roomId"`
	Fields      string `help:"Comma-separated room properties to print."`
	ExtraFields string `name:"extra-fields" help:"Comma-separated extra properties to add: config, roles."`
	Secret      string `help:"Read the room as the member this link secret admits (without it: as the admin)."`
}

// Run prints the room.
func (c *GetCmd) Run(e *env) error {
	return e.printQuery(events.APIGet, events.GetRequest{RoomID: c.RoomID, Fields: c.Fields, ExtraFields: c.ExtraFields, Secret: c.Secret})
}

// ConfigCmd is `roomctl config`.
type ConfigCmd struct {
	RoomID string `arg:"" name:"roomId"`
}

// Run prints the room's config.
func (c *ConfigCmd) Run(e *env) error {
	return e.printQuery(events.APIConfig, events.ConfigRequest{RoomID: c.RoomID})
}

// ListCmd is `roomctl list`.
type ListCmd struct {
	MaxItems    int    `name:"max-items" help:"Page size (1..100); every page is read."`
	Fields      string `help:"Comma-separated room properties to show."`
	ExtraFields string `name:"extra-fields" help:"Comma-separated extra properties to add: config, roles."`
	Name        string `name:"name" help:"Keep the rooms whose name matches (see --match, --ignore-case)."`
	Match       string `name:"match" enum:"exact,prefix,partial,regex" default:"exact" help:"How --name matches: exact, prefix, partial or regex."`
	IgnoreCase  bool   `name:"ignore-case" help:"Match --name ignoring case."`
	Status      string `name:"status" enum:",open,active_meeting,closed" default:"" help:"Keep the rooms of this status: open, active_meeting or closed."`
	Sort        string `name:"sort" enum:"creationDate,roomName,autoDeletionDate" default:"creationDate" help:"Sort by creationDate, roomName or autoDeletionDate."`
	Asc         bool   `name:"asc" help:"Ascending order (default: descending, newest first)."`
	JSON        bool   `name:"json" help:"Print a JSON array instead of a table."`
}

// defaultColumns are the columns of the list table without --fields.
var defaultColumns = []string{"roomId", "roomName", "status", "creationDate", "autoDeletionDate", "meetingEndAction"}

// Run lists every room, page after page.
func (c *ListCmd) Run(e *env) error {
	req := events.ListRequest{
		MaxItems: c.MaxItems, Fields: c.Fields, ExtraFields: c.ExtraFields,
		RoomName: c.Name, RoomNameCaseInsensitive: c.IgnoreCase, Status: c.Status,
		SortField: c.Sort, SortOrder: events.SortDesc,
	}
	if c.Name != "" {
		req.RoomNameMatchMode = c.Match
	}
	if c.Asc {
		req.SortOrder = events.SortAsc
	}
	var rooms []map[string]json.RawMessage
	for {
		raw, err := e.query(events.APIList, req)
		if err != nil {
			return err
		}
		var page struct {
			Rooms      []map[string]json.RawMessage `json:"rooms"`
			Pagination events.Pagination            `json:"pagination"`
		}
		if err := json.Unmarshal(raw, &page); err != nil {
			return fmt.Errorf("decode %s reply: %w", events.APIList, err)
		}
		rooms = append(rooms, page.Rooms...)
		if !page.Pagination.IsTruncated || page.Pagination.NextPageToken == "" {
			break
		}
		req.NextPageToken = page.Pagination.NextPageToken
	}
	if c.JSON {
		if rooms == nil {
			rooms = []map[string]json.RawMessage{}
		}
		return printJSON(e.out, rooms)
	}
	cols := defaultColumns
	if c.Fields != "" {
		cols = nil
		for f := range strings.SplitSeq(c.Fields, ",") {
			if f = strings.TrimSpace(f); f != "" {
				cols = append(cols, f)
			}
		}
	}
	return writeTable(e.out, cols, rooms)
}

// writeTable prints rooms as an aligned table of cols.
func writeTable(w io.Writer, cols []string, rooms []map[string]json.RawMessage) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	head := make([]string, len(cols))
	for i, c := range cols {
		head[i] = header(c)
	}
	_, _ = fmt.Fprintln(tw, strings.Join(head, "\t"))
	for _, r := range rooms {
		cells := make([]string, len(cols))
		for i, c := range cols {
			cells[i] = cell(c, r[c])
		}
		_, _ = fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	return tw.Flush()
}

// header is a column title: "autoDeletionDate" → "AUTO DELETION DATE".
func header(field string) string {
	var b strings.Builder
	for i, r := range field {
		if r >= 'A' && r <= 'Z' && i > 0 {
			b.WriteByte(' ')
		}
		b.WriteRune(r)
	}
	return strings.ToUpper(b.String())
}

// cell renders one value: dates as RFC 3339 (UTC), strings bare, the rest
// as compact JSON, "-" when absent.
func cell(field string, v json.RawMessage) string {
	if len(v) == 0 || string(v) == "null" {
		return "-"
	}
	if strings.HasSuffix(field, "Date") {
		var ms int64
		if json.Unmarshal(v, &ms) == nil {
			return time.UnixMilli(ms).UTC().Format(time.RFC3339)
		}
	}
	var s string
	if json.Unmarshal(v, &s) == nil {
		return s
	}
	return string(v)
}

// WatchCmd is `roomctl watch`.
type WatchCmd struct {
	Count int    `help:"Stop after this many events (0: run until interrupted)."`
	Since string `xor:"start" help:"Start with the events since this time: a duration back from now (10m, 2h) or an RFC 3339 time (ROOMS_EVENTS keeps 7 days)."`
	Last  int    `xor:"start" help:"Start with the last N events (of --type and --room), then follow."`
	Room  string `help:"Only the events of this room (ID)."`
	Type  string `help:"Only the events of this type: created, deleted, meeting_started, ... (or io.roomkeeper.room.<type>)."`
}

// ParseSince reads --since: a duration back from now, or an RFC 3339 time.
func ParseSince(s string, now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(s); err == nil {
		if d < 0 {
			return time.Time{}, fmt.Errorf("%q: a duration back from now must not be negative", s)
		}
		return now.Add(-d), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither a duration (10m) nor an RFC 3339 time", s)
	}
	return t, nil
}

// options are the natsapi.WatchOptions of the flags.
func (c *WatchCmd) options() (natsapi.WatchOptions, error) {
	o := natsapi.WatchOptions{Last: c.Last, RoomID: c.Room}
	if c.Last < 0 {
		return o, fail(ExitUsage, "--last must not be negative")
	}
	if c.Since != "" {
		t, err := ParseSince(c.Since, time.Now())
		if err != nil {
			return o, fail(ExitUsage, "--since: %w", err)
		}
		o.Since = t
	}
	if c.Type != "" {
		o.Type = strings.TrimPrefix(strings.TrimPrefix(c.Type, events.CloudEventsType), events.EventPrefix)
		// An unknown type would match no event and wait forever.
		if !slices.Contains(schemas.EventTypes, o.Type) {
			return o, fail(ExitUsage, "--type %q is not an event type: one of %s", c.Type, strings.Join(schemas.EventTypes, ", "))
		}
	}
	return o, nil
}

// Run prints events until interrupted (or --count).
func (c *WatchCmd) Run(e *env) error {
	o, err := c.options()
	if err != nil {
		return err
	}
	client, err := e.client()
	if err != nil {
		return err
	}
	ctx, cancel := e.ctxCancel()
	defer cancel()
	n := 0
	var werr error
	err = client.WatchWith(ctx, o, func(ev events.Event) {
		if werr != nil || c.Count > 0 && n >= c.Count {
			return
		}
		line, err := json.Marshal(ev)
		if err != nil {
			werr = err
			cancel()
			return
		}
		if _, err := fmt.Fprintln(e.out, string(line)); err != nil {
			werr = err
			cancel()
			return
		}
		n++
		if c.Count > 0 && n >= c.Count {
			cancel()
		}
	})
	if err != nil {
		return fail(ExitUnreachable, "%w", err)
	}
	return werr
}

// RoleCmd is `roomctl role`.
type RoleCmd struct {
	RoomID string `arg:"" name:"roomId"`
	Secret string `required:"" env:"ROOMKEEPER_SECRET" help:"One of the room's secrets (or $ROOMKEEPER_SECRET)."`
}

// Run prints {"role"}.
func (c *RoleCmd) Run(e *env) error {
	return e.printQuery(events.APIRole, events.SecretRequest{RoomID: c.RoomID, Secret: c.Secret})
}

// RecordingTokenCmd is `roomctl recording-token`.
type RecordingTokenCmd struct {
	RoomID string `arg:"" name:"roomId"`
	Secret string `required:"" env:"ROOMKEEPER_SECRET" help:"One of the room's secrets (or $ROOMKEEPER_SECRET)."`
}

// Run prints {"token"}.
func (c *RecordingTokenCmd) Run(e *env) error {
	return e.printQuery(events.APIRecordingToken, events.SecretRequest{RoomID: c.RoomID, Secret: c.Secret})
}

// TokenCmd is `roomctl token`.
type TokenCmd struct {
	RoomID string `arg:"" name:"roomId"`
	Secret string `required:"" env:"ROOMKEEPER_SECRET" help:"One of the room's secrets (or $ROOMKEEPER_SECRET)."`
	Name   string `required:"" help:"Participant name (the LiveKit identity)."`
}

// Run prints {"token", "livekitUrl", "role"}.
func (c *TokenCmd) Run(e *env) error {
	return e.printQuery(events.APIParticipantToken, events.ParticipantTokenRequest{RoomID: c.RoomID, Secret: c.Secret, ParticipantName: c.Name})
}
