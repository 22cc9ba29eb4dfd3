package webhooks

import (
	"sync"
	"sync/atomic"
)

// budget bounds the bytes of body buffers that requests in flight hold
// together. A request takes the size of its buffer before reading a byte and
// gives it back when it is done; one that finds too little left is answered
// 503 at once, so stalled uploads cannot pile up memory.
type budget struct {
	max  int64
	held atomic.Int64
}

// take reserves n bytes; false when that would exceed max.
func (b *budget) take(n int64) bool {
	for {
		cur := b.held.Load()
		if cur+n > b.max {
			return false
		}
		if b.held.CompareAndSwap(cur, cur+n) {
			return true
		}
	}
}

// give returns n bytes taken before.
func (b *budget) give(n int64) { b.held.Add(-n) }

// minBufClass is the smallest body buffer: LiveKit's events are 0.5–3 KiB.
const minBufClass = 4 << 10

// bufPool keeps body buffers in size classes, doubling from minBufClass,
// the last one exactly the largest body, so a request gets a buffer at
// most twice its body (and never larger than the largest body), and buffers
// are reused instead of allocated per request.
type bufPool struct {
	sizes []int
	pools []sync.Pool
}

func newBufPool(maxBody int) *bufPool {
	p := &bufPool{}
	for s := minBufClass; s < maxBody; s *= 2 {
		p.sizes = append(p.sizes, s)
	}
	p.sizes = append(p.sizes, maxBody)
	p.pools = make([]sync.Pool, len(p.sizes))
	return p
}

// class is the index of the smallest class that holds n bytes (n at most
// the largest body).
func (p *bufPool) class(n int) int {
	for i, s := range p.sizes {
		if n <= s {
			return i
		}
	}
	return len(p.sizes) - 1
}

func (p *bufPool) get(class int) *[]byte {
	if b, ok := p.pools[class].Get().(*[]byte); ok {
		return b
	}
	b := make([]byte, p.sizes[class])
	return &b
}

func (p *bufPool) put(class int, b *[]byte) { p.pools[class].Put(b) }
