// Package rooms is roomkeeper's room domain: what each command and LiveKit
// webhook event does to rooms. One file per message holds its whole path:
// validate (beyond the JSON Schema), plan (the choices made before the
// first effect, stored with the command's claim so every delivery converges
// on them), apply (compare-and-set updates carrying the command ID, or
// writes left to the completion) and the domain events it causes.
//
//   - create.go: rooms.cmd.create (OpenVidu Meet's room: names.go has the
//     name and ID rules, options.go the merges of config, roles and access)
//   - update_config.go, update_status.go, update_roles.go,
//     update_access.go: the updates of OpenVidu Meet's model (what they
//     share is in update_room.go)
//   - update.go: rooms.cmd.update_preferences (the old model)
//   - delete.go: rooms.cmd.delete (delete, or mark a room whose meeting is
//     live; forced deletes end the meeting)
//   - meetings.go: LiveKit's room_started and room_finished (which
//     finalises a room marked for deletion)
//   - sweep.go, expire.go, reconcile.go, limits.go: rooms.cmd.sweep
//     (expired rooms get a delete command each; rooms whose room_finished
//     was lost are reconciled with LiveKit; meetings over their duration
//     limit are ended, those close to it warned once; the ledger is
//     pruned)
//   - signals.go: data messages telling a live meeting's participants that
//     their room changed
//
// [Rooms.Register] adds the handlers to a handler.Registry, which the
// runtime (package workers) runs. The domain knows nothing of NATS, acks,
// naks or redeliveries: a handler returns an outcome or an error
// (package handler says which errors retry), and the runtime does the rest.
package rooms
