package directory

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// pool keeps connections open between calls, so that a login costs the
// round trips of its search and its bind and nothing more: no TCP or TLS
// handshake, no service bind.
type pool struct {
	name  string
	dial  func(context.Context) (*ldap.Conn, error)
	idle  chan *ldap.Conn
	slots chan struct{} // one per open connection

	mu     sync.Mutex
	closed bool
}

func newPool(name string, size int, dial func(context.Context) (*ldap.Conn, error)) *pool {
	return &pool{name: name, dial: dial, idle: make(chan *ldap.Conn, size), slots: make(chan struct{}, size)}
}

var errClosed = errors.New("directory: client closed")

// get returns an open connection, idle or new, and whether it was idle.
func (p *pool) get(ctx context.Context) (*ldap.Conn, bool, error) {
	for {
		if p.isClosed() {
			return nil, false, errClosed
		}
		select {
		case c := <-p.idle:
			if c.IsClosing() {
				p.discard(c)
				continue
			}
			return c, true, nil
		default:
		}
		select {
		case c := <-p.idle:
			if c.IsClosing() {
				p.discard(c)
				continue
			}
			return c, true, nil
		case p.slots <- struct{}{}:
			c, err := p.dial(ctx)
			if err != nil {
				<-p.slots
				return nil, false, err
			}
			return c, false, nil
		case <-ctx.Done():
			return nil, false, unavailable("waiting for a free "+p.name+" connection", ctx.Err())
		}
	}
}

// put gives back a connection that is still good.
func (p *pool) put(c *ldap.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || c.IsClosing() {
		go p.discard(c)
		return
	}
	p.idle <- c // never blocks: there are no more connections than slots
}

func (p *pool) discard(c *ldap.Conn) {
	c.Close()
	<-p.slots
}

func (p *pool) isClosed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closed
}

func (p *pool) close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	for {
		select {
		case c := <-p.idle:
			p.discard(c)
		default:
			return
		}
	}
}

// do runs op on a connection of the pool within ctx, each request bounded
// by perRequest. A connection that fails (or is cut by ctx) is closed, not
// kept. An idle connection the server has dropped since (an idle timeout,
// a restart) gets one more try on a new connection.
func (p *pool) do(ctx context.Context, perRequest time.Duration, op func(*ldap.Conn) error) error {
	for attempt := 0; ; attempt++ {
		c, reused, err := p.get(ctx)
		if err != nil {
			return err
		}
		c.SetTimeout(requestTimeout(ctx, perRequest))
		// go-ldap takes no context: closing the connection is what ends a
		// request that ctx no longer waits for.
		stop := context.AfterFunc(ctx, func() { c.Close() })
		err = op(c)
		cut := !stop()
		switch {
		case cut:
			p.discard(c)
			return unavailable(p.name, ctx.Err())
		case isConnectionFailure(err):
			p.discard(c)
			if reused && attempt == 0 {
				continue
			}
			return unavailable(p.name, err)
		}
		p.put(c)
		return err
	}
}

// requestTimeout is perRequest, or less if ctx ends sooner.
func requestTimeout(ctx context.Context, perRequest time.Duration) time.Duration {
	if dl, ok := ctx.Deadline(); ok {
		if left := time.Until(dl); left < perRequest {
			return max(left, time.Millisecond)
		}
	}
	return perRequest
}

// isConnectionFailure tells the errors after which a connection is not
// to be used again, and which say the directory cannot answer now.
func isConnectionFailure(err error) bool {
	return err != nil && (ldap.IsErrorAnyOf(err,
		ldap.ErrorNetwork,
		ldap.LDAPResultBusy,
		ldap.LDAPResultUnavailable,
		ldap.LDAPResultTimeLimitExceeded,
		ldap.LDAPResultAdminLimitExceeded,
	) || errors.Is(err, ldap.ErrNilConnection))
}

// dialer opens connections to the directory: TCP, then TLS (ldaps:// or
// StartTLS), then for the service pool the service account's bind.
type dialer struct {
	addr     string
	ldaps    bool
	startTLS bool
	tls      *tls.Config
	timeout  time.Duration
}

func (d *dialer) open(ctx context.Context) (*ldap.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	var (
		nc  net.Conn
		err error
	)
	nd := &net.Dialer{}
	if d.ldaps {
		nc, err = (&tls.Dialer{NetDialer: nd, Config: d.tls}).DialContext(ctx, "tcp", d.addr)
	} else {
		nc, err = nd.DialContext(ctx, "tcp", d.addr)
	}
	if err != nil {
		return nil, unavailable("connecting to "+d.addr, err)
	}
	c := ldap.NewConn(nc, d.ldaps)
	c.Start()
	if !d.startTLS {
		return c, nil
	}
	c.SetTimeout(requestTimeout(ctx, d.timeout))
	// The TLS handshake after StartTLS has no deadline of its own.
	stop := context.AfterFunc(ctx, func() { nc.Close() })
	err = c.StartTLS(d.tls)
	if !stop() {
		c.Close()
		return nil, unavailable("StartTLS with "+d.addr, ctx.Err())
	}
	if err != nil {
		c.Close()
		return nil, unavailable("StartTLS with "+d.addr, err)
	}
	return c, nil
}

// bound returns a dial function that binds as the service account.
func (d *dialer) bound(dn string, password []byte) func(context.Context) (*ldap.Conn, error) {
	return func(ctx context.Context) (*ldap.Conn, error) {
		c, err := d.open(ctx)
		if err != nil {
			return nil, err
		}
		ctx, cancel := context.WithTimeout(ctx, d.timeout)
		defer cancel()
		c.SetTimeout(requestTimeout(ctx, d.timeout))
		stop := context.AfterFunc(ctx, func() { c.Close() })
		err = c.Bind(dn, string(password))
		if !stop() {
			return nil, unavailable("binding as the service account", ctx.Err())
		}
		if err != nil {
			c.Close()
			if ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials) {
				err = fmt.Errorf("the directory refused the password of %s", dn)
			}
			return nil, unavailable("binding as the service account", err)
		}
		return c, nil
	}
}
