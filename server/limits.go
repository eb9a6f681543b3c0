package server

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// maxLimited bounds the keys one limiter remembers per generation, so that
// a flood of made-up user names or source addresses cannot fill memory.
const maxLimited = 50_000

// limiter is a token bucket per key (a user name, a source address) on the
// server's clock. Keys live in two generations: when the newer fills up it
// becomes the older and the older is dropped. A dropped key starts again
// with a full bucket, so a flood of keys can refresh one key's bucket; the
// verifier's lockout, which lives in the inventory, still holds then.
type limiter struct {
	every rate.Limit
	burst int
	off   bool

	mu       sync.Mutex
	cur, old map[string]*rate.Limiter
}

func newLimiter(perSecond float64, burst int) *limiter {
	return &limiter{every: rate.Limit(perSecond), burst: burst, off: perSecond < 0,
		cur: map[string]*rate.Limiter{}, old: map[string]*rate.Limiter{}}
}

// allow takes a token for key at now, or says how long until one is there.
func (l *limiter) allow(key string, now time.Time) (bool, time.Duration) {
	if l.off {
		return true, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	lim := l.cur[key]
	if lim == nil {
		if lim = l.old[key]; lim == nil {
			lim = rate.NewLimiter(l.every, l.burst)
		}
		if len(l.cur) >= maxLimited {
			l.old, l.cur = l.cur, make(map[string]*rate.Limiter, len(l.cur))
		}
		l.cur[key] = lim
	}
	r := lim.ReserveN(now, 1)
	if !r.OK() {
		return false, time.Second
	}
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}
