package server

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// refusalWindow is how long the refusals of one administrator on one
// route are gathered into one audit entry: a script without the right
// role must not be able to write thousands of fsynced rows a second.
const refusalWindow = time.Minute

// refusals coalesces the audit entries of refused admin calls: the first
// refusal of an administrator on a route is written at once; the ones
// that follow within the window are counted, and written as one entry
// with their count when the window is over (by the next refusal, or by
// the server's background flush).
type refusals struct {
	s *Server

	mu      sync.Mutex
	pending map[refusalKey]*refusal
}

type refusalKey struct{ actor, route string }

type refusal struct {
	opened time.Time // when the entry that opened the window was written
	count  int       // refusals since, not yet written
	why    string
}

func newRefusals(s *Server) *refusals { return &refusals{s: s, pending: map[refusalKey]*refusal{}} }

// note records one refusal.
func (rf *refusals) note(ctx context.Context, actor, route, why string) {
	now := rf.s.now()
	k := refusalKey{actor, route}
	rf.mu.Lock()
	p := rf.pending[k]
	switch {
	case p != nil && now.Sub(p.opened) < refusalWindow:
		p.count++
		rf.mu.Unlock()
		return
	case p != nil && p.count > 0:
		// The window is over: this refusal writes the ones it held.
		why = fmt.Sprintf("%s (and %s since %s)", why, moreRefusals(p.count), p.opened.UTC().Format(time.RFC3339))
	}
	rf.pending[k] = &refusal{opened: now, why: why}
	rf.mu.Unlock()
	rf.write(ctx, actor, route, why)
}

// flush writes the counts of windows that are over (all of them with
// force, at shutdown).
func (rf *refusals) flush(ctx context.Context, force bool) {
	now := rf.s.now()
	type entry struct {
		k   refusalKey
		why string
	}
	var due []entry
	rf.mu.Lock()
	for k, p := range rf.pending {
		if !force && now.Sub(p.opened) < refusalWindow {
			continue
		}
		if p.count > 0 {
			due = append(due, entry{k, fmt.Sprintf("%s since %s: %s", moreRefusals(p.count), p.opened.UTC().Format(time.RFC3339), p.why)})
		}
		delete(rf.pending, k)
	}
	rf.mu.Unlock()
	for _, e := range due {
		rf.write(ctx, e.k.actor, e.k.route, e.why)
	}
}

func (rf *refusals) write(ctx context.Context, actor, route, why string) {
	if err := rf.s.desk(actor).RecordRefusal(ctx, route, why); err != nil {
		rf.s.log.Error("a refusal could not be written to the audit log", "actor", actor, "route", route, "err", err)
	}
}

func moreRefusals(n int) string {
	if n == 1 {
		return "1 more refusal"
	}
	return fmt.Sprintf("%d more refusals", n)
}
