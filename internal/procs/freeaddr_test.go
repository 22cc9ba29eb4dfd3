package procs

import (
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
)

// FreeAddr's ports are outside the kernel's ephemeral range, so no
// outgoing connection (a NATS node dialing its route peers) can take one
// before its process listens on it.
func TestFreeAddrOutsideTheEphemeralRange(t *testing.T) {
	lo, hi := 32768, 60999
	if raw, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		f := strings.Fields(string(raw))
		if len(f) == 2 {
			lo, _ = strconv.Atoi(f[0])
			hi, _ = strconv.Atoi(f[1])
		}
	}
	seen := map[string]bool{}
	for range 500 {
		addr := FreeAddr(t)
		if seen[addr] {
			t.Fatalf("FreeAddr gave %s twice", addr)
		}
		seen[addr] = true
		_, p, err := net.SplitHostPort(addr)
		if err != nil {
			t.Fatal(err)
		}
		port, _ := strconv.Atoi(p)
		if port >= lo && port <= hi {
			t.Fatalf("FreeAddr gave %s, in the ephemeral range %d..%d", addr, lo, hi)
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatalf("FreeAddr gave %s, which is not free: %v", addr, err)
		}
		_ = ln.Close()
	}
}
