// Package fakeclock is a manual clock for tests of code that takes a
// hid.Clock: time moves only when the test says so, and the test can wait
// until the code under test has armed the timer it expects. (It does not
// import hid, so that hid's own tests can use it; tests wrap NewTimer.)
package fakeclock

import (
	"sync"
	"time"
)

// Clock is a clock whose time moves only on [Clock.Advance].
type Clock struct {
	mu      sync.Mutex
	now     time.Time
	timers  map[*Timer]struct{}
	changed chan struct{} // closed and replaced whenever the timer set changes
}

// New returns a clock that reads t until advanced.
func New(t time.Time) *Clock {
	return &Clock{now: t, timers: map[*Timer]struct{}{}, changed: make(chan struct{})}
}

// Timer is an armed timer of a Clock.
type Timer struct {
	c    *Clock
	at   time.Time
	ch   chan time.Time
	dur  time.Duration
	done bool
}

// Now returns the clock's current time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// NewTimer arms a timer that fires when the clock has advanced by d.
func (c *Clock) NewTimer(d time.Duration) *Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &Timer{c: c, at: c.now.Add(d), ch: make(chan time.Time, 1), dur: d}
	if d <= 0 {
		t.done = true
		t.ch <- c.now
		return t
	}
	c.timers[t] = struct{}{}
	c.notifyLocked()
	return t
}

// C delivers the time at which the timer fired.
func (t *Timer) C() <-chan time.Time { return t.ch }

// Stop disarms the timer; it reports whether the timer was armed.
func (t *Timer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	if t.done {
		return false
	}
	t.done = true
	delete(t.c.timers, t)
	t.c.notifyLocked()
	return true
}

func (c *Clock) notifyLocked() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// Advance moves the clock forward by d and fires every timer that is due.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	for t := range c.timers {
		if !t.at.After(c.now) {
			t.done = true
			delete(c.timers, t)
			t.ch <- c.now
		}
	}
	c.notifyLocked()
}

// Pending describes an armed timer.
type Pending struct {
	Duration time.Duration // as created
	Deadline time.Time
}

// Pending returns the armed timers.
func (c *Clock) Pending() []Pending {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pendingLocked()
}

func (c *Clock) pendingLocked() []Pending {
	var ps []Pending
	for t := range c.timers {
		ps = append(ps, Pending{Duration: t.dur, Deadline: t.at})
	}
	return ps
}

// BlockUntil waits until ok accepts the armed timers, and reports true; or
// until done is closed, and reports false.
func (c *Clock) BlockUntil(done <-chan struct{}, ok func([]Pending) bool) bool {
	for {
		c.mu.Lock()
		ps := c.pendingLocked()
		changed := c.changed
		c.mu.Unlock()
		if ok(ps) {
			return true
		}
		select {
		case <-changed:
		case <-done:
			return false
		}
	}
}

// Has returns a BlockUntil condition: some armed timer was created with d.
func Has(d time.Duration) func([]Pending) bool {
	return func(ps []Pending) bool {
		for _, p := range ps {
			if p.Duration == d {
				return true
			}
		}
		return false
	}
}

// Due returns a BlockUntil condition: some armed timer fires at t.
func Due(t time.Time) func([]Pending) bool {
	return func(ps []Pending) bool {
		for _, p := range ps {
			if p.Deadline.Equal(t) {
				return true
			}
		}
		return false
	}
}
