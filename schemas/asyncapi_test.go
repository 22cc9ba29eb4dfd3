package schemas_test

import (
	"bytes"
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/roomkeeper/roomkeeper/events"
	"github.com/roomkeeper/roomkeeper/schemas"
)

// handledSubjects are the subjects the code publishes or consumes; each must
// be a channel of asyncapi.yaml.
var handledSubjects = []string{
	events.SubjectCreate,
	events.SubjectDelete,
	events.SubjectUpdatePreferences,
	events.SubjectUpdateConfig,
	events.SubjectUpdateStatus,
	events.SubjectUpdateRoles,
	events.SubjectUpdateAccess,
	events.SubjectSweep,
	events.APIGet,
	events.APIList,
	events.APIRole,
	events.APIRecordingToken,
	events.APIParticipantToken,
	events.APIHistory,
	events.EventSubject(events.EventCreated),
	events.EventSubject(events.EventPreferencesUpdated),
	events.EventSubject(events.EventConfigUpdated),
	events.EventSubject(events.EventStatusUpdated),
	events.EventSubject(events.EventRolesUpdated),
	events.EventSubject(events.EventAccessUpdated),
	events.EventSubject(events.EventDeleted),
	events.EventSubject(events.EventMeetingStarted),
	events.EventSubject(events.EventMeetingEnded),
	events.EventSubject(events.EventRecordingStarted),
	events.EventSubject(events.EventRecordingUpdated),
	events.EventSubject(events.EventRecordingEnded),
	events.SubjectRoomStarted,
	events.SubjectRoomFinished,
	events.ResultSubject("create-7f3a"),
	events.DeadSubject(events.SubjectCreate),
	events.DeadSubject(events.SubjectRoomFinished),
}

type document = map[string]any

func loadAsyncAPI(t *testing.T) document {
	t.Helper()
	raw, err := os.ReadFile("asyncapi.yaml")
	require.NoError(t, err)
	var doc document
	require.NoError(t, yaml.Unmarshal(raw, &doc))
	require.Equal(t, "3.0.0", doc["asyncapi"])
	return doc
}

func section(t *testing.T, m document, key string) document {
	t.Helper()
	v, ok := m[key].(document)
	require.True(t, ok, "%s is not a mapping", key)
	return v
}

// localRef resolves "#/components/messages/x" in doc.
func localRef(t *testing.T, doc document, ref string) document {
	t.Helper()
	path, ok := strings.CutPrefix(ref, "#/")
	require.True(t, ok, "not a local $ref: %s", ref)
	cur := doc
	for _, p := range strings.Split(path, "/") {
		cur = section(t, cur, p)
	}
	return cur
}

// checker validates an example against a schema object of the document: a
// Multi Format Schema Object whose schema is a $ref to one of the files, or
// an inline schema.
type checker func(t *testing.T, example any)

func schemaChecker(t *testing.T, obj document, usedNames map[string]bool) checker {
	t.Helper()
	if _, ok := obj["schemaFormat"]; ok {
		require.Equal(t, "application/schema+json;version=2020-12", obj["schemaFormat"])
		obj = section(t, obj, "schema")
	}
	if ref, ok := obj["$ref"].(string); ok {
		name, ok := strings.CutPrefix(ref, "./")
		require.True(t, ok, "schema $ref %q is not a file beside the document", ref)
		name = strings.TrimSuffix(name, ".json")
		require.Contains(t, schemas.Names(), name)
		usedNames[name] = true
		return func(t *testing.T, example any) {
			t.Helper()
			require.NoError(t, schemas.Validate(name, toJSON(t, example)))
		}
	}
	// An inline schema (headers of commands and query errors, the dead
	// letter payload).
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(toJSON(t, obj)))
	require.NoError(t, err)
	require.NoError(t, c.AddResource("inline.json", inst))
	sch, err := c.Compile("inline.json")
	require.NoError(t, err)
	return func(t *testing.T, example any) {
		t.Helper()
		v, err := jsonschema.UnmarshalJSON(bytes.NewReader(toJSON(t, example)))
		require.NoError(t, err)
		require.NoError(t, sch.Validate(v))
	}
}

func toJSON(t *testing.T, v any) []byte {
	t.Helper()
	raw, err := json.Marshal(v)
	require.NoError(t, err)
	return raw
}

func TestAsyncAPIExamplesValidate(t *testing.T) {
	t.Parallel()
	doc := loadAsyncAPI(t)
	messages := section(t, section(t, doc, "components"), "messages")
	require.NotEmpty(t, messages)
	used := map[string]bool{}
	for name, m := range messages {
		msg := m.(document)
		t.Run(name, func(t *testing.T) {
			payload := schemaChecker(t, section(t, msg, "payload"), used)
			var headers checker
			if h, ok := msg["headers"].(document); ok {
				headers = schemaChecker(t, h, used)
			} else if traits, ok := msg["traits"].([]any); ok {
				for _, tr := range traits {
					trait := localRef(t, doc, tr.(document)["$ref"].(string))
					if h, ok := trait["headers"].(document); ok {
						headers = schemaChecker(t, h, used)
					}
				}
			}
			examples, _ := msg["examples"].([]any)
			require.NotEmpty(t, examples, "message %s has no example", name)
			for _, e := range examples {
				ex := e.(document)
				require.Contains(t, ex, "payload")
				payload(t, ex["payload"])
				if h, ok := ex["headers"]; ok {
					require.NotNil(t, headers, "example headers without a headers schema")
					headers(t, h)
				}
			}
		})
	}
	// Every schema of a command, a query or a result envelope is used.
	for _, n := range []string{"command.create", "command.delete", "command.update_preferences", "command.sweep", "result", "event", "query.error", "livekit.webhook", "dead.headers"} {
		require.True(t, used[n], "schema %s is not used by asyncapi.yaml", n)
	}
	for _, s := range schemas.Subjects() {
		if n, ok := schemas.ReplySchemaFor(s); ok {
			require.True(t, used[n], "reply schema %s is not used by asyncapi.yaml", n)
		}
		if n, ok := schemas.SchemaFor(s); ok {
			require.True(t, used[n], "schema %s is not used by asyncapi.yaml", n)
		}
	}
}

var paramPattern = regexp.MustCompile(`\{[^}]+\}`)

func TestAsyncAPIHasEverySubject(t *testing.T) {
	t.Parallel()
	doc := loadAsyncAPI(t)
	channels := section(t, doc, "channels")
	var addresses []*regexp.Regexp
	for name, c := range channels {
		ch := c.(document)
		msgs := section(t, ch, "messages")
		require.NotEmpty(t, msgs, "channel %s has no message", name)
		for _, m := range msgs {
			localRef(t, doc, m.(document)["$ref"].(string))
		}
		addr, ok := ch["address"].(string)
		if !ok {
			require.Nil(t, ch["address"], "channel %s", name) // a reply inbox
			continue
		}
		parts := paramPattern.Split(addr, -1)
		for i, p := range parts {
			parts[i] = regexp.QuoteMeta(p)
		}
		addresses = append(addresses, regexp.MustCompile("^"+strings.Join(parts, "[^.]+")+"$"))

		// An event channel's examples carry its type.
		if t0, ok := strings.CutPrefix(addr, events.EventPrefix); ok {
			for _, m := range msgs {
				msg := localRef(t, doc, m.(document)["$ref"].(string))
				for _, e := range msg["examples"].([]any) {
					p := e.(document)["payload"].(document)
					require.Equal(t, events.CloudEventsType+t0, p["type"], "example of %s", addr)
				}
			}
		}
	}
	subjects := slices.Concat(handledSubjects, schemas.Subjects())
	for _, s := range subjects {
		require.True(t, slices.ContainsFunc(addresses, func(re *regexp.Regexp) bool { return re.MatchString(s) }),
			"subject %s is not a channel of asyncapi.yaml", s)
	}

	// Every channel is used by an operation; query operations have a reply.
	used := map[string]bool{}
	for name, o := range section(t, doc, "operations") {
		op := o.(document)
		ref := section(t, op, "channel")["$ref"].(string)
		localRef(t, doc, ref)
		used[ref] = true
		addr, _ := localRef(t, doc, ref)["address"].(string)
		if strings.HasPrefix(addr, "rooms.api.") {
			require.Equal(t, "receive", op["action"], name)
			reply := section(t, op, "reply")
			rref := section(t, reply, "channel")["$ref"].(string)
			localRef(t, doc, rref)
			used[rref] = true
		}
	}
	for name := range channels {
		require.True(t, used["#/channels/"+name], "channel %s has no operation", name)
	}
}
