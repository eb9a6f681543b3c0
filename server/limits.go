package server

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// maxLimited bounds the keys one limiter remembers, so that a flood of
// made-up user names or source addresses cannot fill memory.
const maxLimited = 50_000

// sweepEvery is how often a full limiter looks for keys it may forget.
const sweepEvery = time.Second

// limiter is a token bucket per key (a user name, a source address) on the
// server's clock. Only a key whose bucket has refilled may be forgotten:
// a key that has been spending (a user being guessed at) stays, however
// many other keys come, so that a flood of made-up names cannot hand an
// attacker a fresh bucket. When the table is full of such keys, new keys
// share one overflow bucket until some refill.
type limiter struct {
	every rate.Limit
	burst int
	off   bool

	mu        sync.Mutex
	keys      map[string]*rate.Limiter
	overflow  *rate.Limiter
	lastSweep time.Time
}

func newLimiter(perSecond float64, burst int) *limiter {
	return &limiter{every: rate.Limit(perSecond), burst: burst, off: perSecond < 0,
		keys: map[string]*rate.Limiter{}, overflow: rate.NewLimiter(rate.Limit(perSecond), burst)}
}

// allow takes a token for key at now, or says how long until one is there.
func (l *limiter) allow(key string, now time.Time) (bool, time.Duration) {
	if l.off {
		return true, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	lim := l.bucket(key, now)
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

func (l *limiter) bucket(key string, now time.Time) *rate.Limiter {
	if lim := l.keys[key]; lim != nil {
		return lim
	}
	if len(l.keys) >= maxLimited && now.Sub(l.lastSweep) >= sweepEvery {
		l.sweep(now)
	}
	if len(l.keys) >= maxLimited {
		return l.overflow
	}
	lim := rate.NewLimiter(l.every, l.burst)
	l.keys[key] = lim
	return lim
}

// sweep forgets the keys whose buckets are full again: forgetting them
// changes nothing, as a new bucket starts full.
func (l *limiter) sweep(now time.Time) {
	l.lastSweep = now
	for k, lim := range l.keys {
		if lim.TokensAt(now) >= float64(l.burst) {
			delete(l.keys, k)
		}
	}
}
