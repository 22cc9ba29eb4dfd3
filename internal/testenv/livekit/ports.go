package livekit

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"syscall"
)

// Port blocks are handed out below Linux's ephemeral range (32768-60999 by
// default), so no outgoing connection of another process is given one of
// their ports by the kernel while a server is starting.
const (
	blockFirst = 20000
	blockLast  = 32000
	// blockSize ports per server: the HTTP/WebSocket port, then rtcPorts UDP
	// ports for ICE.
	blockSize = 1 + rtcPorts
	rtcPorts  = 20
)

// portBlock is a range of loopback ports reserved for one server, across
// every test process on the machine, by an exclusive lock on a file named
// after its first port. The lock is held until release.
type portBlock struct {
	HTTP     int
	RTCStart int
	RTCEnd   int // inclusive
	lock     *os.File
}

func (b *portBlock) release() {
	if b.lock != nil {
		_ = syscall.Flock(int(b.lock.Fd()), syscall.LOCK_UN)
		_ = b.lock.Close()
		b.lock = nil
	}
}

// reservePorts finds a block whose lock is free and whose ports can be bound
// on 127.0.0.1 right now.
func reservePorts() (*portBlock, error) {
	dir := filepath.Join(os.TempDir(), "roomkeeper-livekit-ports")
	if err := os.MkdirAll(dir, 0o755); err != nil { //nolint:gosec // the port locks are shared by every test binary on the machine
		return nil, fmt.Errorf("port lock dir: %w", err)
	}
	blocks := (blockLast - blockFirst) / blockSize
	order := rand.Perm(blocks)
	if len(order) > 200 {
		order = order[:200]
	}
	for _, i := range order {
		first := blockFirst + i*blockSize
		f, err := os.OpenFile(filepath.Join(dir, fmt.Sprintf("%d.lock", first)), os.O_CREATE|os.O_RDWR, 0o644) //nolint:gosec // as the directory: shared locks, no secrets
		if err != nil {
			return nil, fmt.Errorf("port lock: %w", err)
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			_ = f.Close()
			continue
		}
		b := &portBlock{HTTP: first, RTCStart: first + 1, RTCEnd: first + rtcPorts, lock: f}
		if portsFree(b) {
			return b, nil
		}
		b.release()
	}
	return nil, fmt.Errorf("no free block of %d loopback ports in %d-%d", blockSize, blockFirst, blockLast)
}

// portsFree reports whether the block's TCP port and UDP ports can all be
// bound on 127.0.0.1 at once.
func portsFree(b *portBlock) bool {
	var closers []func() error
	defer func() {
		for _, c := range closers {
			_ = c()
		}
	}()
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", b.HTTP))
	if err != nil {
		return false
	}
	closers = append(closers, l.Close)
	for p := b.RTCStart; p <= b.RTCEnd; p++ {
		c, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			return false
		}
		closers = append(closers, c.Close)
	}
	return true
}
