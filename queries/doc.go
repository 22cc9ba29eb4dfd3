// Package queries answers roomkeeper's read API, the rooms.api.* requests
// (get, list, config, role, recording_token, participant_token, and
// commands, the command ledger by state), as the NATS micro
// service "roomkeeper": request-reply over core NATS, in the default queue
// group so every worker process shares them, with replies and errors in
// the contract's JSON (events.ErrorReply, with the REST status OpenVidu
// Meet answers for the error).
//
// Replies are OpenVidu Meet's REST bodies: rooms in its current model
// (events.Room), shaped by fields and extraFields, with the anonymous
// links' URLs left out for a room member whose role may not share them.
//
// Queries read the store and sign LiveKit tokens; they change nothing. A
// [Service] is started on a connection with Start and stopped with Close,
// which waits for the requests in flight.
package queries
