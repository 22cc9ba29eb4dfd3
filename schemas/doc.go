// Package schemas holds the JSON Schemas (draft 2020-12) of roomkeeper's
// message API and validates messages against them at the edge.
//
// # Files
//
// Every schema is a file schemas/<name>.json, embedded in the binary and
// compiled once on first use (github.com/santhosh-tekuri/jsonschema/v6):
//
//   - command.create, command.delete, command.update_preferences,
//     command.update_config, command.update_status, command.update_roles,
//     command.update_access, command.sweep: the bodies of rooms.cmd.<type>;
//   - meetroom: a room in OpenVidu Meet's model (its $defs: config, roles,
//     permissions, access, autoDeletionPolicy, encoding), and
//     meetroom.options: the partial config, roles, access and policy of a
//     create or an update;
//   - result: the result envelope on rooms.results.<commandId>, whose data is
//     checked by the command type (meetroom for create and update_status, its
//     config, roles or access for the other updates, room for
//     update_preferences, result.delete, result.sweep);
//   - room (and its $defs/fields, every property optional, for replies to
//     queries with fields), preferences, error;
//   - query.<name>.request and query.<name>.reply for rooms.api.<name>, and
//     query.error, the {"error": {...}} reply of a failed query;
//   - event: the CloudEvents 1.0 envelope of rooms.events.<type>, whose data
//     is checked by type: meetroom for created; room for
//     preferences_updated and marked_for_deletion; event.deleted ({roomId, roomName?, forced?}) for
//     deleted; meetroom, or event.meeting ({roomId}) when the room was
//     gone, for meeting_started and meeting_ended; event.recording for
//     recording_started, recording_updated, recording_ended and
//     recording_deleted;
//   - livekit.webhook: the LiveKit webhook events roomkeeper reads;
//   - dead.headers: the headers of a dead letter on rooms.dead.<type>, whose
//     body is the original message body, unchanged.
//
// schemas/asyncapi.yaml (AsyncAPI 3.0) describes every channel with these
// schemas and an example of each message; the tests validate every example.
//
// # Strict outputs, lenient inputs
//
// What roomkeeper accepts (command bodies, query requests) ignores unknown
// properties, as OpenVidu Meet does: a producer that already sends a newer
// optional property to an older worker during a rolling upgrade must not see
// its command dead-lettered. Property names are matched exactly, by the
// schemas and by the workers' decoding alike: "ROOMNAME" is an unknown
// property, not "roomName", and is ignored. What roomkeeper produces (results, rooms,
// replies, events) forbids unknown properties, so a field added in Go
// without its schema fails the round-trip tests: adding one is a contract
// change made in code and schema together. Consumers that validate outputs
// with a pinned copy of these files should expect new properties.
//
// Rules that depend on configuration or state stay in code: autoDeletionDate
// at least MIN_AUTO_DELETION_DELAY ahead, room name and ID sanitising, at
// least one room ID left after it, the maxItems floor and cap. maxItems is a
// number, not an integer, so 12.78 reaches the code that floors it.
//
// # Validation
//
// [ValidateCommand] and [ValidateQuery] take a subject and a body and return
// nil or an *events.Error with code invalid_argument whose details name each
// field at fault the way a user writes it ("roomName",
// "preferences.recordingPreferences.allowAccessTo", "roomIds[0]"; "body"
// for malformed JSON or a body that is not an object), with messages such as
// "must be a string" or "must be at most 50 characters". Messages never
// quote the value at fault. A subject without a schema gives an error
// wrapping [ErrUnknownSubject]. An empty body counts as {} (a sweep or a
// create with every default). [Validate] checks any named schema, for tests
// and clients; [SchemaFor] and [ReplySchemaFor] name the schema of a subject,
// [Subjects] lists every concrete subject with one.
//
// The schemas accept JSON that Go's decoder may still refuse: a whole number
// written with an exponent (1.9e12) is an integer for JSON Schema but does
// not decode into an int64, so decoding errors must be answered with
// invalid_argument too.
package schemas
