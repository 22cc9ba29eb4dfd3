// Package nemesis breaks a roomkeeper deployment at random and checks what
// the message API promises, as Jepsen does for databases.
//
// TestNemesis runs the system as deployed, as separate OS processes on
// loopback (internal/procs): a JetStream cluster of three nats-server
// nodes with R3 streams, three `roomkeeper worker` sharing one SQLite
// file, two `roomkeeper scheduler` with a short SWEEP_INTERVAL and one
// `roomkeeper webhooks`. For a set duration it publishes a seeded random
// load (creates, some expiring within seconds; graceful and forced
// deletes; preference updates; duplicate publishes; commands without
// Nats-Msg-Id; poison, oversize and reserved-ID commands; rooms.api.get and
// list queries) while a seeded schedule of faults (NewSchedule) kills
// (-9) and restarts roomkeeper processes, stops one with SIGSTOP for
// longer than AckWait, kills one NATS node or restarts all three in turn,
// or makes the store unreachable (the SQLite write lock held by another
// process, shorter and longer than a command's retry budget).
//
// Once the faults stop and the system settled (bounded), every process is
// stopped with SIGTERM and Check reads the streams and the store:
// every accepted command has exactly one result (a repeat past the
// duplicates window gets the same one again); ok results and the rooms
// agree (a room exists iff its create succeeded and no delete of it did,
// a room_finished of a marked room counting as one); no room is left
// marked for deletion or with an active meeting once every meeting ended
// (by its room_finished, or the sweep's reconciliation when LiveKit lost
// the room);
// every event is stored once and every ok result has its events; every
// dead letter has a result; nothing is left queued or unacked; every
// expired room is gone; no process hung on SIGTERM.
//
// The seed is printed with a one-line summary
//
//	nemesis: seed S, N commands, F faults (by kind), V violations
//
// and NEMESIS_SEED=S replays the same schedule of faults and operations
// (their timing and the rooms they hit depend on the run). NEMESIS_DURATION
// sets the fault phase: 20s per seed by default (one fixed seed and one
// random), 5m under `make nemesis`. NEMESIS_STORE=mongo runs the workers on
// the MongoDB wire protocol (a FerretDB process, internal/faulttest/ferretdb)
// instead of SQLite, with one worker, a lighter load and a sweep every 10 s
// (FerretDB v1 is slow and its conditional updates are not atomic across
// processes); the store faults then kill FerretDB instead of locking the
// SQLite file. The processes log at NEMESIS_LOG_LEVEL (warn by default);
// a failed run keeps their logs in a temporary directory it names.
package nemesis
