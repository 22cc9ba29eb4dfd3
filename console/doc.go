// Package console is roomkeeper's web console, served under /ui on
// HTTP_ADDR by every role: rooms (search, filter, sort, detail, create,
// delete with a policy), the command ledger, live domain events
// (server-sent events from ROOMS_EVENTS), dead letters (replay,
// edit-then-replay, purge), and the streams and consumers with small
// charts of throughput and latency sampled from the process's own
// Prometheus registry.
//
// It talks to roomkeeper over NATS only, as any other service does: reads
// through the rooms.api.* queries, writes through the commands
// (natsapi.Client), never through a store, so it works in any role.
//
// Pages are server-rendered html/template with htmx (static/htmx.min.js,
// htmx.org 2.0.11 from the npm registry, Zero-Clause BSD licence in
// static/htmx.LICENSE), embedded in the binary.
//
// Authentication: a login form takes one of the HTTP API's keys (API_KEYS,
// API_KEYS_FILE) or CONSOLE_PASSWORD and sets a session cookie (HttpOnly,
// SameSite=Strict, Secure under TLS or behind a TLS proxy) signed with
// HMAC-SHA256 under Config.SessionKey (roomkeeper derives it from the
// password and the keys, so that replicas share sessions; by default a key
// drawn at random when the process starts, and sessions end with it).
// Every POST carries a CSRF token derived from the session (a hidden form
// field, or the X-CSRF-Token header htmx sends from hx-headers) and is
// refused when its Origin is another host. With neither keys nor password,
// the console is open, but only when HTTP_ADDR is a loopback address, and
// every page says so; it then answers only requests whose Host is
// localhost or a loopback address (not a page of another site reaching it
// through DNS rebinding).
package console
