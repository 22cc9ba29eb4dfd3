package apispec

import (
	"bytes"
	"context"
	_ "embed"
	"fmt"

	"github.com/getkin/kin-openapi/openapi3"
)

//go:embed openapi.yaml
var openapiYAML []byte

//go:embed webhooks.yaml
var webhooksYAML []byte

// ContentType is the media type openapi.yaml documents for itself at
// GET /api/v1/openapi.yaml.
const ContentType = "application/yaml"

// YAML returns openapi.yaml, the rooms REST API, as the gateway serves it at
// /api/v1/openapi.yaml with ContentType (a copy: the caller may keep or
// change it).
func YAML() []byte { return bytes.Clone(openapiYAML) }

// WebhooksYAML returns webhooks.yaml, the webhook events of the dispatcher
// (a copy).
func WebhooksYAML() []byte { return bytes.Clone(webhooksYAML) }

// Load parses and validates openapi.yaml. Each call returns a new document.
func Load(ctx context.Context) (*openapi3.T, error) {
	return load(ctx, "openapi.yaml", openapiYAML)
}

// LoadWebhooks parses and validates webhooks.yaml (OpenAPI 3.1, its events
// under webhooks). Each call returns a new document.
func LoadWebhooks(ctx context.Context) (*openapi3.T, error) {
	return load(ctx, "webhooks.yaml", webhooksYAML)
}

func load(ctx context.Context, name string, data []byte) (*openapi3.T, error) {
	loader := openapi3.NewLoader()
	loader.Context = ctx
	doc, err := loader.LoadFromData(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrInvalid, name, err)
	}
	if err := doc.Validate(ctx); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrInvalid, name, err)
	}
	return doc, nil
}
