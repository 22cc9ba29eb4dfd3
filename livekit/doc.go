// Package livekit is roomkeeper's adapter around LiveKit: it asks whether a
// room has a meeting going on, creates LiveKit rooms with roomkeeper's
// metadata and timeouts, deletes them, sends data messages to their
// participants, and signs participant and recording tokens. It wraps
// github.com/livekit/server-sdk-go/v2 (RoomServiceClient) and
// github.com/livekit/protocol/auth; nothing else in roomkeeper imports
// them for these jobs.
//
// # Configuration
//
// New takes a Config; WithDefaults fills what is unset (empty and departure
// timeouts 20s each, request timeout 5s, participant tokens valid 6h,
// recording tokens 2h) and New validates the rest. A Config with no URL
// makes a detached Client, the single-machine default without LiveKit:
//
//   - HasActiveMeeting and RoomExists answer false, ListRooms nothing, so
//     every graceful delete deletes at once;
//   - DeleteRoom succeeds (there is nothing to close);
//   - EnsureRoom, SendData and the token calls fail with ErrUnavailable.
//
// # What an active meeting is
//
// HasActiveMeeting is true when the LiveKit room exists and has at least one
// participant that is not a LiveKit service: a person (or a SIP caller, or
// an ingress someone started) who is joining or connected. Recorders
// (egress) and agents do not count: they follow a meeting, they do not make
// one. A room that exists with nobody in it (just created by EnsureRoom, or
// emptied and waiting out its departure timeout) has no active meeting.
//
// This is what a graceful delete asks: "is somebody in this meeting now?".
// OpenVidu Meet asks the same of LiveKit (room exists and has participants).
// It is one ListParticipants call, which answers empty for a room LiveKit
// does not have.
//
// RoomExists is the other question, "will this room still send
// room_finished?": true as long as LiveKit has the room, with or without
// participants. A worker that marks a room for deletion because of an
// active meeting asks it again after the mark: when the LiveKit room is gone
// by then, no room_finished will come and the worker deletes the room
// itself, so no room stays marked forever.
//
// # Errors
//
// Every error wraps one of the sentinels in errors.go (match with
// errors.Is); the SDK's twirp or network error stays in the chain.
// ErrUnavailable covers a detached Client and every transient failure (the
// server unreachable, a timeout, a 5xx): a worker naks and retries.
// ErrUnauthorized (bad key or secret) and ErrRejected (a request LiveKit
// refuses) do not get better with a retry. DeleteRoom swallows
// ErrRoomNotFound.
//
// Each call is bounded by Config.RequestTimeout (or the caller's earlier
// deadline). Config.ExtraLatency adds a delay before each call, for
// benchmarks only.
package livekit
