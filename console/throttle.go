package console

import (
	"net"
	"net/http"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// maxThrottled bounds the client addresses the login throttle remembers;
// past it, the oldest state is dropped (all of it: a flood of addresses
// starts every address afresh rather than growing the map).
const maxThrottled = 10000

// throttle limits failed logins per client address: LoginBurst failures at
// once, then one per LoginEvery. A client over the limit is refused before
// its secret is looked at, so a password cannot be guessed faster than
// that.
type throttle struct {
	every time.Duration
	burst int
	mu    sync.Mutex
	by    map[string]*rate.Limiter
}

func newThrottle(every time.Duration, burst int) *throttle {
	return &throttle{every: every, burst: burst, by: map[string]*rate.Limiter{}}
}

// host is the client address of r, without its port.
func host(r *http.Request) string {
	h, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return h
}

func (t *throttle) limiter(r *http.Request) *rate.Limiter {
	t.mu.Lock()
	defer t.mu.Unlock()
	k := host(r)
	l := t.by[k]
	if l == nil {
		if len(t.by) >= maxThrottled {
			clear(t.by)
		}
		l = rate.NewLimiter(rate.Every(t.every), t.burst)
		t.by[k] = l
	}
	return l
}

// wait is how long r's client must wait before its next login attempt
// (0: it may try now).
func (t *throttle) wait(r *http.Request) time.Duration {
	now := time.Now()
	l := t.limiter(r)
	if l.TokensAt(now) >= 1 {
		return 0
	}
	res := l.ReserveN(now, 1)
	d := res.DelayFrom(now)
	res.CancelAt(now)
	return d
}

// failed counts a failed login of r's client.
func (t *throttle) failed(r *http.Request) { t.limiter(r).Allow() }
