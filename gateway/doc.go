// Package gateway is roomkeeper's HTTP API: OpenVidu Meet's REST rooms API
// (/api/v1/rooms...) translated to roomkeeper's message contract, so that
// services written for OpenVidu Meet call roomkeeper unchanged.
//
// Writes are commands: the gateway publishes the command on JetStream
// (through natsapi.Client) with the request's Idempotency-Key as its command
// ID, or an ID of its own (http-...), and waits for its one result, at most
// Config.CommandTimeout. The result's status and data are the REST status
// and body; on time-out the gateway answers 503 with the command ID in the
// body (commandId) and in the Idempotency-Key header, so the caller retries
// with the same key: the duplicates window and the command ledger make the
// retry one effect, and the retry reads the stored result, so it gets the
// same response. A key reused for another kind of command is refused (422).
// Every write response carries the command ID in Idempotency-Key.
//
// Reads are the rooms.api.* queries. The gateway holds no state and opens
// no store: it needs only NATS.
//
// Authentication is upstream's: an X-API-KEY header matching one of the
// configured keys (401 with upstream's body otherwise). GET
// /rooms/{roomId} and GET /rooms/{roomId}/config, which upstream also
// serves to a room member, accept instead a room secret in the `secret`
// query parameter (the secret of an anonymous link, as in the link's URL):
// the caller reads as that link's role. Upstream's JWT room member token
// (X-Room-Member-Token) is not served.
//
// X-Fields and X-ExtraFields merge with the fields and extraFields query
// parameters as upstream merges them: the union of both lists, unknown
// names dropped. The gateway applies the projection itself to the rooms of
// write results (create, update status, delete), which carry the whole room.
package gateway
