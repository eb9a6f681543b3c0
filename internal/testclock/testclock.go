// Package testclock is a clock that tests set and move, passed where
// keydesk takes a clock (inventory.Options.Now, the server's config, the
// HID client's timers), so that no test sleeps to let time pass. Timers
// fire only when the test moves the clock, and a test can wait until the
// code under test has armed the timer it expects.
package testclock

import (
	"sync"
	"time"
)

// Clock is safe for concurrent use.
type Clock struct {
	mu      sync.Mutex
	now     time.Time
	timers  map[*Timer]struct{}
	changed chan struct{} // closed and replaced whenever the timer set changes
}

// At returns a clock that reads t until it is moved.
func At(t time.Time) *Clock {
	return &Clock{now: t, timers: map[*Timer]struct{}{}, changed: make(chan struct{})}
}

// Now is the clock's reading.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Set moves the clock to t, firing every timer due by then.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.moveLocked(t)
}

// Advance moves the clock by d, firing every timer due by then.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.moveLocked(c.now.Add(d))
}

func (c *Clock) moveLocked(t time.Time) {
	c.now = t
	for tm := range c.timers {
		if !tm.at.After(c.now) {
			tm.done = true
			delete(c.timers, tm)
			tm.ch <- c.now
		}
	}
	c.notifyLocked()
}

// Timer is an armed timer of a Clock.
type Timer struct {
	c    *Clock
	at   time.Time
	ch   chan time.Time
	dur  time.Duration
	done bool
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
