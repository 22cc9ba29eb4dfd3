// Package benchkit holds what roomkeeper's benchmarks share: the load
// generator behind `roomctl bench` ([Run]: publish commands at a rate with
// a window of commands in flight, wait for every result, latency
// percentiles from an HDR histogram), the raw store ceiling ([Ceiling]:
// the same store writes done directly, at the same concurrency), and the
// figures file (docs/bench.json) that BENCHMARKS.md and the charts are
// made from ([Figures]).
//
// Its benchmarks (bench_test.go) measure the figures of BENCHMARKS.md:
//
//	go test -run '^$' -bench . -benchtime 2x ./internal/benchkit -figures ../../docs/bench.json -column before
//
// and `go run ./internal/benchkit/cmd/charts` draws docs/bench-latency.png
// and docs/bench-scaling.png from docs/bench.json.
package benchkit
