// Package apispec holds the OpenAPI documents of roomkeeper's HTTP API:
// openapi.yaml, OpenVidu Meet's rooms REST API as the gateway serves it at
// /api/v1/openapi.yaml, and webhooks.yaml, the webhook events the dispatcher
// POSTs. Both are adapted from upstream's spec (Apache-2.0) and bundled into
// one self-contained file each (no external $ref); where roomkeeper differs
// from upstream, the document says so in an x-roomkeeper note.
//
// The files are embedded: YAML and WebhooksYAML return them as served, Load
// and LoadWebhooks parse and validate them with kin-openapi. The package
// apispectest checks the requests, responses and webhooks of tests against
// them.
package apispec
