package schemas

import (
	"bytes"
	"embed"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/roomkeeper/roomkeeper/events"
)

//go:embed *.json
var files embed.FS

// baseURL is where the embedded files are registered with the compiler;
// their relative $refs ("room.json") resolve against it. Nothing is ever
// fetched from it: every file is added as a resource up front.
const baseURL = "https://github.com/roomkeeper/roomkeeper/schemas/"

// Schema names of the command bodies, by subject.
var commandSchemas = map[string]string{
	events.SubjectCreate:            "command.create",
	events.SubjectDelete:            "command.delete",
	events.SubjectUpdatePreferences: "command.update_preferences",
	events.SubjectSweep:             "command.sweep",
	events.SubjectUpdateConfig:      "command.update_config",
	events.SubjectUpdateStatus:      "command.update_status",
	events.SubjectUpdateRoles:       "command.update_roles",
	events.SubjectUpdateAccess:      "command.update_access",
}

// Schema names of the query requests and replies, by subject.
var (
	queryRequestSchemas = map[string]string{
		events.APIGet:              "query.get.request",
		events.APIList:             "query.list.request",
		events.APIConfig:           "query.config.request",
		events.APIRole:             "query.role.request",
		events.APIRecordingToken:   "query.recording_token.request",
		events.APIParticipantToken: "query.participant_token.request",
		events.APICommands:         "query.commands.request",
	}
	queryReplySchemas = map[string]string{
		events.APIGet:              "query.get.reply",
		events.APIList:             "query.list.reply",
		events.APIConfig:           "query.config.reply",
		events.APIRole:             "query.role.reply",
		events.APIRecordingToken:   "query.recording_token.reply",
		events.APIParticipantToken: "query.participant_token.reply",
		events.APICommands:         "query.commands.reply",
	}
)

// EventTypes are the domain event types, each published on
// rooms.events.<type> with the "event" schema.
var EventTypes = []string{
	events.EventCreated,
	events.EventPreferencesUpdated,
	events.EventConfigUpdated,
	events.EventStatusUpdated,
	events.EventRolesUpdated,
	events.EventAccessUpdated,
	events.EventDeleted,
	events.EventMeetingStarted,
	events.EventMeetingEnded,
	events.EventDeletionScheduled,
	events.EventClosed,
	events.EventRecordingDeleted,
}

// Names of schemas that are not tied to one subject.
const (
	// Result is the command result envelope (rooms.results.<commandId>).
	Result = "result"
	// Event is the CloudEvents envelope of every domain event.
	Event = "event"
	// Room is a complete room (OpenVidu Meet's model), as results and
	// events carry it.
	Room = "meetroom"
	// QueryError is the {"error": {...}} reply of a failed query.
	QueryError = "query.error"
	// LiveKitWebhook is a LiveKit webhook event (livekit.webhook.<event>).
	LiveKitWebhook = "livekit.webhook"
)

type registry struct {
	schemas map[string]*jsonschema.Schema
	names   []string
}

// load compiles every embedded schema once, on first use. A schema that does
// not compile is a bug in this package (its tests compile them all), so it
// panics.
var load = sync.OnceValue(func() *registry {
	reg, err := compile()
	if err != nil {
		panic("schemas: " + err.Error())
	}
	return reg
})

func compile() (*registry, error) {
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	paths, err := fs.Glob(files, "*.json")
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(paths))
	for _, p := range paths {
		raw, err := files.ReadFile(p)
		if err != nil {
			return nil, err
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		if err := c.AddResource(baseURL+p, doc); err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		names = append(names, strings.TrimSuffix(p, ".json"))
	}
	slices.Sort(names)
	reg := &registry{schemas: make(map[string]*jsonschema.Schema, len(names)), names: names}
	for _, n := range names {
		s, err := c.Compile(baseURL + n + ".json")
		if err != nil {
			return nil, fmt.Errorf("compile %s: %w", n, err)
		}
		reg.schemas[n] = s
	}
	return reg, nil
}

// Names returns the name of every schema, sorted; the file of schema n is
// schemas/<n>.json.
func Names() []string { return slices.Clone(load().names) }

// File returns the JSON text of the named schema.
func File(name string) ([]byte, error) {
	raw, err := files.ReadFile(name + ".json")
	if err != nil {
		return nil, fmt.Errorf("%w: %q", ErrUnknownSchema, name)
	}
	return raw, nil
}

// Subjects returns every concrete subject with a schema, sorted: the
// commands, the queries, rooms.events.<type> for every event type and the
// LiveKit webhooks the workers consume. Results (rooms.results.<commandId>)
// and other livekit.webhook.<event> subjects are covered by [SchemaFor].
func Subjects() []string {
	var out []string
	for s := range commandSchemas {
		out = append(out, s)
	}
	for s := range queryRequestSchemas {
		out = append(out, s)
	}
	for _, t := range EventTypes {
		out = append(out, events.EventSubject(t))
	}
	out = append(out, events.SubjectRoomStarted, events.SubjectRoomFinished,
		events.SubjectEgressStarted, events.SubjectEgressUpdated, events.SubjectEgressEnded)
	slices.Sort(out)
	return out
}

// SchemaFor returns the name of the schema of a message body published on
// subject: a command body, a query request, a result, an event or a LiveKit
// webhook event.
func SchemaFor(subject string) (string, bool) {
	if n, ok := commandSchemas[subject]; ok {
		return n, true
	}
	if n, ok := queryRequestSchemas[subject]; ok {
		return n, true
	}
	if id, ok := strings.CutPrefix(subject, events.ResultPrefix); ok && id != "" {
		return Result, true
	}
	if t, ok := strings.CutPrefix(subject, events.EventPrefix); ok && slices.Contains(EventTypes, t) {
		return Event, true
	}
	if e, ok := strings.CutPrefix(subject, events.WebhookPrefix); ok && e != "" {
		return LiveKitWebhook, true
	}
	return "", false
}

// ReplySchemaFor returns the name of the schema of a successful reply to the
// query on subject; a failed one has the [QueryError] schema.
func ReplySchemaFor(subject string) (string, bool) {
	n, ok := queryReplySchemas[subject]
	return n, ok
}

// ValidateCommand validates the body of a command published on subject
// (rooms.cmd.<type>). It returns nil, an *events.Error with code
// invalid_argument whose details name the fields at fault, or an error
// wrapping [ErrUnknownSubject]. An empty body counts as {}.
func ValidateCommand(subject string, body []byte) error {
	name, ok := commandSchemas[subject]
	if !ok {
		return fmt.Errorf("%w: %q", ErrUnknownSubject, subject)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		body = []byte("{}")
	}
	return validate(name, "invalid "+subject+" body", body)
}

// ValidateQuery validates the request of a query on subject (rooms.api.*),
// like [ValidateCommand]. An empty request counts as {}.
func ValidateQuery(subject string, body []byte) error {
	name, ok := queryRequestSchemas[subject]
	if !ok {
		return fmt.Errorf("%w: %q", ErrUnknownSubject, subject)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		body = []byte("{}")
	}
	return validate(name, "invalid "+subject+" request", body)
}

// Validate validates data against the named schema (see [Names]). It returns
// nil, an *events.Error with code invalid_argument naming the fields at
// fault, or an error wrapping [ErrUnknownSchema].
func Validate(name string, data []byte) error {
	if _, ok := load().schemas[name]; !ok {
		return fmt.Errorf("%w: %q", ErrUnknownSchema, name)
	}
	return validate(name, "does not match schema "+name, data)
}

func validate(name, message string, data []byte) error {
	sch := load().schemas[name]
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return events.Invalid(message, events.FieldError{Field: BodyField, Message: "malformed JSON"})
	}
	if err := sch.Validate(inst); err != nil {
		return events.Invalid(message, fieldErrors(err, inst)...)
	}
	return nil
}
