// Package faulttest breaks real roomkeeper processes and checks the promise
// of the message API: a command that JetStream accepted gets exactly one
// result and exactly one effect, whatever fails in between.
//
// The tests build the roomkeeper, nats-server and ferretdb binaries into a
// temporary directory (once per package, in TestMain), run them as separate
// OS processes on loopback, and inject one fault each while commands flow:
//
//   - TestWorkerKilled: kill -9 of one of two worker processes, restarted
//     a second later;
//   - TestNATSRestarted: the nats-server process (JetStream file store)
//     killed and started again on the same port and store directory;
//   - TestStoreOutage: the MongoDB store (a FerretDB process, built from
//     ./ferretdb) killed and started again 10 s later;
//   - TestWorkerSIGTERM: SIGTERM to a worker under load, which must finish
//     and ack what it holds and exit within a bound.
//
// Each test then reads the streams and the store and counts lost and doubled
// results, events and rooms. FAULTTEST_TRACE=1 prints the number of
// results every second while a test runs. The package holds no code used elsewhere;
// ./ferretdb is a test-only command.
package faulttest
