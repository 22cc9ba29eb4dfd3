package archtest

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const module = "github.com/roomkeeper/roomkeeper"

// deps lists the packages pkg depends on, directly or not (go list -deps),
// without its tests.
func deps(t *testing.T, pkg string) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", module+"/"+pkg).Output()
	require.NoError(t, err, "go list -deps %s", pkg)
	return strings.Fields(string(out))
}

// The layering of docs/architecture.md: each rule names a package and what
// it must not depend on, directly or through another package.
func TestLayering(t *testing.T) {
	t.Parallel()
	rules := []struct {
		pkg    string
		banned func(dep string) bool
		why    string
	}{
		{"events", func(d string) bool { return strings.HasPrefix(d, module+"/") && d != module+"/events" },
			"the contract is the ground floor: it imports nothing of the module"},
		{"events", func(d string) bool { return strings.HasPrefix(d, "github.com/nats-io/") },
			"the contract is plain Go types: NATS is natsapi's business"},
		{"store", func(d string) bool { return d == module+"/workers" || d == module+"/rooms" || d == module+"/handler" },
			"the store knows neither the runtime nor the domain"},
		{"handler", func(d string) bool { return strings.HasPrefix(d, "github.com/nats-io/") || d == module+"/workers" },
			"handlers see a decoded message, not a NATS message"},
		{"rooms", func(d string) bool { return strings.HasPrefix(d, "github.com/nats-io/") || d == module+"/workers" },
			"the domain knows nothing of NATS, acks, naks or redeliveries"},
		{"workers", func(d string) bool { return d == module+"/rooms" || d == module+"/queries" },
			"the runtime does not know what a room is"},
		{"queries", func(d string) bool { return d == module+"/workers" || d == module+"/rooms" },
			"the read API reads the store; it runs no command"},
		{"gateway", func(d string) bool {
			return d == module+"/rooms" || d == module+"/workers" || d == module+"/queries" ||
				d == module+"/store" || strings.HasPrefix(d, module+"/store/")
		}, "the HTTP API only translates to commands and queries: it needs NATS, not the store nor the domain"},
		{"roomlink", func(d string) bool {
			return strings.HasPrefix(d, module+"/store") || d == module+"/workers" || d == module+"/rooms" || d == module+"/queries"
		}, "the room link pages read through the rooms.api.* queries, in any role"},
		{"internal/tracing", func(d string) bool { return strings.HasPrefix(d, "github.com/nats-io/") },
			"tracing carries trace context in plain header maps, so the LiveKit client and others can use it without NATS"},
		{"internal/metrics", func(d string) bool {
			return d == module+"/webhooks" || d == module+"/workers" || d == module+"/rooms" || d == module+"/outhooks"
		},
			"metrics implement the observers of the packages they watch without importing them"},
		{"console", func(d string) bool {
			return d == module+"/workers" || d == module+"/rooms" || d == module+"/queries" || d == module+"/handler" || strings.HasPrefix(d, module+"/store")
		}, "the console talks to roomkeeper over NATS only, as any service does: it works in any role, without a store"},
		{"outhooks", func(d string) bool {
			return d == module+"/workers" || d == module+"/rooms" || d == module+"/handler" || strings.HasPrefix(d, module+"/store")
		}, "the dispatcher sends the domain events as they are: it neither runs commands nor reads the store"},
	}
	for _, r := range rules {
		for _, d := range deps(t, r.pkg) {
			require.False(t, r.banned(d), "%s depends on %s: %s", r.pkg, d, r.why)
		}
	}
}
