package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// maxDuplicates bounds the answers kept for retransmissions per
// generation; past it the older generation is dropped early.
const maxDuplicates = 100_000

// radiusServer reads datagrams on one socket and decides on them with a
// bounded pool of workers.
type radiusServer struct {
	s        *Server
	pc       net.PacketConn
	work     chan datagram
	dups     *dupCache
	stopping atomic.Bool
	done     chan struct{} // closed when serve has returned
	drops    dropLog
}

// dropLog logs dropped packets with why, at most dropLogBurst lines a
// second: a flood of forged packets must not become a flood of log
// lines. The lines it holds back are counted in the next one it writes,
// and every drop in keydesk_radius_dropped_total.
type dropLog struct {
	mu         sync.Mutex
	second     time.Time
	lines      int
	suppressed int
}

const dropLogBurst = 10

func (rs *radiusServer) dropped(src netip.AddrPort, why string) {
	rs.s.m.dropped.WithLabelValues(why).Inc()
	l := &rs.drops
	now := time.Now().Truncate(time.Second)
	l.mu.Lock()
	if !now.Equal(l.second) {
		l.second, l.lines = now, 0
	}
	if l.lines >= dropLogBurst {
		l.suppressed++
		l.mu.Unlock()
		return
	}
	l.lines++
	held := l.suppressed
	l.suppressed = 0
	l.mu.Unlock()
	if held > 0 {
		rs.s.log.Info("radius packet dropped", "from", src, "why", why, "not_logged_before", held)
		return
	}
	rs.s.log.Info("radius packet dropped", "from", src, "why", why)
}

// datagram is an authentic request waiting for a worker.
type datagram struct {
	req   radiusRequest
	src   netip.AddrPort
	addr  net.Addr
	start time.Time
}

func (s *Server) newRADIUSServer(pc net.PacketConn) *radiusServer {
	return &radiusServer{
		s: s, pc: pc,
		work: make(chan datagram, s.cfg.RADIUSQueue),
		dups: newDupCache(time.Duration(s.cfg.RADIUSDuplicateTTL), s.now),
		done: make(chan struct{}),
	}
}

// serve reads until shutdown, then waits for the workers to answer what
// they hold.
func (rs *radiusServer) serve() error {
	defer close(rs.done)
	var workers sync.WaitGroup
	for range rs.s.cfg.RADIUSWorkers {
		workers.Add(1)
		go func() {
			defer workers.Done()
			for d := range rs.work {
				rs.answer(d)
			}
		}()
	}
	defer workers.Wait()
	defer close(rs.work)
	buf := make([]byte, maxRADIUSPacket+1)
	for {
		n, addr, err := rs.pc.ReadFrom(buf)
		if rs.stopping.Load() {
			return nil
		}
		var ne net.Error
		switch {
		case err != nil && errors.As(err, &ne) && ne.Timeout():
			continue
		case err != nil:
			return err
		}
		ua, isUDP := addr.(*net.UDPAddr)
		if !isUDP {
			continue
		}
		src := ua.AddrPort()
		if n > maxRADIUSPacket {
			rs.dropped(src, dropMalformed)
			continue
		}
		d, why := rs.admit(append([]byte(nil), buf[:n]...), src, addr)
		if why != "" {
			rs.dropped(src, why)
			continue
		}
		select {
		case rs.work <- d:
		default:
			// Every worker busy and the queue full: drop, and let the
			// client retransmit, rather than queue without bound.
			rs.dropped(src, dropBusy)
		}
	}
}

// admit authenticates a datagram as it is read, before it costs anything
// else: a packet that is not from a client, or fails its
// Message-Authenticator, is dropped here, in the one reading goroutine,
// and is charged to no one's rate limit (a forger could otherwise spend a
// NAS's budget from the NAS's address). What is left is charged to its
// source and queued for a worker.
func (rs *radiusServer) admit(b []byte, src netip.AddrPort, addr net.Addr) (d datagram, why string) {
	defer func() {
		if p := recover(); p != nil {
			rs.s.recovered("radius", fmt.Sprintf("reading a packet from %s: %v", src, p))
			d, why = datagram{}, dropPanic
		}
	}()
	start := time.Now()
	req, why := rs.authenticate(context.Background(), b, src)
	if why != "" {
		return datagram{}, why
	}
	if ok, _ := rs.s.nases.allow(src.Addr().Unmap().String(), rs.s.now()); !ok {
		rs.s.m.limited.WithLabelValues(radiusTransport, "client").Inc()
		return datagram{}, dropRateLimited
	}
	return datagram{req: req, src: src, addr: addr, start: start}, ""
}

func (rs *radiusServer) answer(d datagram) {
	defer func() {
		if p := recover(); p != nil {
			rs.s.recovered("radius", fmt.Sprintf("answering %s: %v", d.src, p))
			rs.s.m.dropped.WithLabelValues(dropPanic).Inc()
		}
	}()
	// In-flight decisions finish during a shutdown, so they run on a
	// context that the shutdown does not cancel.
	out, why := rs.process(context.Background(), d.req, d.src, d.start)
	if why != "" {
		rs.dropped(d.src, why)
		return
	}
	if _, err := rs.pc.WriteTo(out, d.addr); err != nil {
		rs.s.log.Warn("radius answer not sent", "to", d.src, "err", err)
	}
}

// shutdown stops reading and waits for the answers in flight, or ctx.
func (rs *radiusServer) shutdown(ctx context.Context) error {
	rs.stopping.Store(true)
	// Unblock ReadFrom without closing the socket: the workers still
	// have answers to send on it.
	rs.pc.SetReadDeadline(time.Now())
	select {
	case <-rs.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// dupCache keeps the answers to recent requests, and which are being
// decided, in two generations of at least ttl each.
type dupCache struct {
	ttl time.Duration
	now func() time.Time

	mu       sync.Mutex
	cur, old map[string]*dupEntry
	rotated  time.Time
}

type dupEntry struct {
	answer []byte // nil while the request is being decided
}

func newDupCache(ttl time.Duration, now func() time.Time) *dupCache {
	return &dupCache{ttl: ttl, now: now, cur: map[string]*dupEntry{}, old: map[string]*dupEntry{}, rotated: now()}
}

// begin looks key up: the answer already given, or fresh when the caller
// is the first to see it (and must finish or forget it). Neither means it
// is being decided now.
func (c *dupCache) begin(key string) (answer []byte, fresh bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if now := c.now(); now.Sub(c.rotated) >= c.ttl || len(c.cur) >= maxDuplicates {
		c.old, c.cur, c.rotated = c.cur, make(map[string]*dupEntry), now
	}
	e := c.cur[key]
	if e == nil {
		e = c.old[key]
	}
	if e != nil {
		return e.answer, false
	}
	c.cur[key] = &dupEntry{}
	return nil, true
}

func (c *dupCache) finish(key string, answer []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.cur[key]; e != nil {
		e.answer = answer
	} else if e := c.old[key]; e != nil {
		e.answer = answer
	}
}

func (c *dupCache) forget(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.cur, key)
	delete(c.old, key)
}
