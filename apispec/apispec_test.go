package apispec

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/stretchr/testify/require"
)

func TestLoad(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	doc, err := Load(ctx)
	require.NoError(t, err)
	require.Equal(t, "3.1.0", doc.OpenAPI)
	require.Len(t, doc.Servers, 1)
	require.Equal(t, "/api/v1", doc.Servers[0].URL)
	ss := doc.Components.SecuritySchemes["apiKeyHeader"]
	require.NotNil(t, ss)
	require.Equal(t, "apiKey", ss.Value.Type)
	require.Equal(t, "header", ss.Value.In)
	require.Equal(t, "X-API-KEY", ss.Value.Name)
	require.Equal(t, openapi3.SecurityRequirements{{"apiKeyHeader": {}}}, doc.Security)
	secret := doc.Components.SecuritySchemes["roomSecret"]
	require.NotNil(t, secret)
	require.Equal(t, "apiKey", secret.Value.Type)
	require.Equal(t, "query", secret.Value.In)
	require.Equal(t, "secret", secret.Value.Name)

	hooks, err := LoadWebhooks(ctx)
	require.NoError(t, err)
	var events []string
	for name := range hooks.Webhooks {
		events = append(events, name)
	}
	slices.Sort(events)
	require.Equal(t, []string{"meetingEnded", "meetingStarted", "recordingEnded", "recordingStarted", "recordingUpdated"}, events)

	// What is served is what was loaded, and a caller cannot change it.
	y := YAML()
	require.Equal(t, openapiYAML, y)
	y[0] = '#'
	require.NotEqual(t, y[0], YAML()[0])
	require.Equal(t, webhooksYAML, WebhooksYAML())
}

// The operations are upstream's rooms endpoints (and this document), nothing
// else: no members, users or recordings.
func TestOperations(t *testing.T) {
	t.Parallel()
	doc, err := Load(context.Background())
	require.NoError(t, err)
	var ops []string
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			ops = append(ops, method+" "+path)
		}
	}
	slices.Sort(ops)
	require.Equal(t, []string{
		"DELETE /rooms",
		"DELETE /rooms/{roomId}",
		"GET /openapi.yaml",
		"GET /rooms",
		"GET /rooms/{roomId}",
		"GET /rooms/{roomId}/config",
		"POST /rooms",
		"PUT /rooms/{roomId}/access",
		"PUT /rooms/{roomId}/config",
		"PUT /rooms/{roomId}/roles",
		"PUT /rooms/{roomId}/status",
	}, ops)
}

// Every endpoint and status the spec lists has a body schema; the writes take
// an Idempotency-Key and document the 503 with the command ID; the API key
// endpoints document the 401 and the 422 with upstream's error body.
func TestEveryResponseHasASchema(t *testing.T) {
	t.Parallel()
	doc, err := Load(context.Background())
	require.NoError(t, err)
	errorSchema := doc.Components.Schemas["Error"].Value
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			name := method + " " + path
			require.NotZero(t, op.Responses.Len(), name)
			for status, resp := range op.Responses.Map() {
				require.NotNil(t, resp.Value, "%s %s", name, status)
				require.Len(t, resp.Value.Content, 1, "%s %s: one media type", name, status)
				for mt, c := range resp.Value.Content {
					require.NotNil(t, c.Schema, "%s %s %s", name, status, mt)
					require.NotNil(t, c.Schema.Value, "%s %s %s", name, status, mt)
				}
			}
			if op.OperationID == "getOpenAPI" {
				require.Equal(t, openapi3.SecurityRequirements{}, *op.Security, "the document is public")
				continue
			}
			switch op.OperationID {
			case "getRoom", "getRoomConfig":
				// An anonymous link's secret reads its room, in the query
				// parameter the scheme names.
				require.Equal(t, openapi3.SecurityRequirements{{"apiKeyHeader": {}}, {"roomSecret": {}}}, *op.Security, name)
				secret := op.Parameters.GetByInAndName("query", "secret")
				require.NotNil(t, secret, "%s: the secret parameter", name)
				require.False(t, secret.Required, name)
			default:
				require.Nil(t, op.Security, "%s: the document's API key", name)
				require.Nil(t, op.Parameters.GetByInAndName("query", "secret"), "%s: no room secret", name)
			}
			if op.RequestBody != nil {
				// The gateway refuses a body over its limit before reading it.
				tooLarge := op.Responses.Value("413")
				require.NotNil(t, tooLarge, "%s: 413", name)
				require.Same(t, errorSchema, tooLarge.Value.Content.Get("application/json").Schema.Value, name)
			}
			for _, status := range []string{"401", "422", "500"} {
				resp := op.Responses.Value(status)
				require.NotNil(t, resp, "%s %s", name, status)
				require.Same(t, errorSchema, resp.Value.Content.Get("application/json").Schema.Value, "%s %s", name, status)
			}
			require.Contains(t, errorSchema.Required, "error")
			require.Contains(t, errorSchema.Required, "message")
			details := errorSchema.Properties["details"].Value.Items.Value
			require.ElementsMatch(t, []string{"field", "message"}, details.Required)

			write := method != http.MethodGet
			key := op.Parameters.GetByInAndName("header", "Idempotency-Key")
			unavailable := op.Responses.Value("503")
			require.NotNil(t, unavailable, name)
			if !write {
				require.Nil(t, key, "%s: a read takes no Idempotency-Key", name)
				continue
			}
			require.NotNil(t, key, name)
			require.False(t, key.Required, name)
			timeout := unavailable.Value.Content.Get("application/json").Schema.Value
			require.Same(t, doc.Components.Schemas["CommandTimeoutError"].Value, timeout, name)
			require.Contains(t, timeout.Required, "commandId", name)
			require.Equal(t, key.Schema.Value.Pattern, timeout.Properties["commandId"].Value.Pattern,
				"%s: the 503's command ID is a valid Idempotency-Key", name)
		}
	}
	require.NotNil(t, doc.Paths.Find("/openapi.yaml").Get.Responses.Status(http.StatusOK).Value.Content.Get(ContentType))
	created := doc.Paths.Find("/rooms").Post.Responses.Value("201").Value
	require.NotNil(t, created.Headers["Location"])
	require.True(t, created.Headers["Location"].Value.Required)
}

// Load validates the examples of the document against their schemas, so
// every example in openapi.yaml and webhooks.yaml conforms.
func TestLoadChecksExamples(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for name, data := range map[string][]byte{"openapi.yaml": openapiYAML, "webhooks.yaml": webhooksYAML} {
		_, err := load(ctx, name, data)
		require.NoError(t, err)
	}
	good := "                    meetingEndAction: none\n                    _extraFields: [config, roles]\n"
	require.Contains(t, string(openapiYAML), good)
	broken := strings.Replace(string(openapiYAML), good, "                    meetingEndAction: never\n", 1)
	_, err := load(ctx, "openapi.yaml", []byte(broken))
	require.ErrorIs(t, err, ErrInvalid)
	require.ErrorContains(t, err, "never")

	good = "                status: complete\n"
	require.Contains(t, string(webhooksYAML), good)
	broken = strings.Replace(string(webhooksYAML), good, "                status: started\n", 1)
	_, err = load(ctx, "webhooks.yaml", []byte(broken))
	require.ErrorIs(t, err, ErrInvalid)
	require.ErrorContains(t, err, "started")
}

// webhooks.yaml repeats the room's schemas of openapi.yaml (each file is
// self-contained); they must stay the same.
func TestWebhooksShareTheRoomSchemas(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	api, err := Load(ctx)
	require.NoError(t, err)
	hooks, err := LoadWebhooks(ctx)
	require.NoError(t, err)
	shared := 0
	for name, s := range hooks.Components.Schemas {
		a, ok := api.Components.Schemas[name]
		if !ok {
			continue
		}
		shared++
		want, err := json.Marshal(a)
		require.NoError(t, err)
		got, err := json.Marshal(s)
		require.NoError(t, err)
		require.JSONEq(t, string(want), string(got), name)
	}
	require.GreaterOrEqual(t, shared, 10, "the room and its parts")
	require.Contains(t, hooks.Components.Schemas, "MeetRoom")
}

// Each file is self-contained: every $ref points inside it.
func TestNoExternalRefs(t *testing.T) {
	t.Parallel()
	for name, data := range map[string][]byte{"openapi.yaml": openapiYAML, "webhooks.yaml": webhooksYAML} {
		refs := 0
		for _, line := range strings.Split(string(data), "\n") {
			_, ref, ok := strings.Cut(line, "$ref:")
			if !ok {
				continue
			}
			refs++
			ref = strings.Trim(strings.TrimSpace(ref), `'"`)
			require.True(t, strings.HasPrefix(ref, "#/components/"), "%s: %s", name, line)
		}
		require.NotZero(t, refs, name)
	}
}
