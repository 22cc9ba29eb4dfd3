// Package queries answers roomkeeper's read API, the rooms.api.* requests
// (get, list, role, recording_token, participant_token), as the NATS micro
// service "roomkeeper": request-reply over core NATS, in the default queue
// group so every worker process shares them, with replies and errors in
// the contract's JSON (events.ErrorReply).
//
// Queries read the store and sign LiveKit tokens; they change nothing. A
// [Service] is started on a connection with Start and stopped with Close,
// which waits for the requests in flight.
package queries
