// Package server is keydesk's authentication server: the HTTP API that
// applications call to check a user's passcode (POST /v1/auth), the admin
// API the help desk's staff use under the role table, and RADIUS for VPNs
// and network devices. It decides nothing itself: package verify does.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"sync"
	"time"
)

// Server answers HTTP and RADIUS requests. Make one with [New].
type Server struct {
	cfg      Config
	log      *slog.Logger
	now      func() time.Time
	deps     Deps
	m        *metrics
	users    *limiter // passcode attempts per user name
	clients  *limiter // HTTP requests per source address
	nases    *limiter // authentic RADIUS requests per source address
	apps     *appCache
	radius   *radiusTable
	refusals *refusals
	// importing holds the one import running (POST /v1/admin/imports).
	importing chan struct{}
	tls       *tls.Config
	handler   http.Handler
	web       *web // keys in the browser and the portal
}

// New checks cfg (after filling in its defaults) and makes a server.
func New(cfg Config, d Deps) (*Server, error) {
	cfg.Default()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("server config: %w", err)
	}
	if d.Decider == nil || d.Callers == nil || d.Desk == nil {
		return nil, errors.New("server: every dependency is needed")
	}
	s := &Server{
		cfg: cfg, log: cfg.Log, now: cfg.Now, deps: d, m: newMetrics(),
		users:   newLimiter(cfg.UserRate, cfg.UserBurst),
		clients: newLimiter(cfg.ClientRate, cfg.ClientBurst),
		nases:   newLimiter(cfg.ClientRate, cfg.ClientBurst),
	}
	s.apps = newAppCache(time.Duration(cfg.CacheTTL), cfg.Now)
	s.radius = newRADIUSTable(time.Duration(cfg.CacheTTL), cfg.Now)
	s.refusals = newRefusals(s)
	s.importing = make(chan struct{}, 1)
	if cfg.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
		if err != nil {
			return nil, fmt.Errorf("server: TLS certificate: %w", err)
		}
		s.tls = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	w, err := s.newWeb()
	if err != nil {
		return nil, err
	}
	s.web = w
	s.handler = s.routes()
	return s, nil
}

// Config is the server's config, defaulted.
func (s *Server) Config() Config { return s.cfg }

// Handler is the HTTP API, for tests and for mounting elsewhere.
func (s *Server) Handler() http.Handler { return s.handler }

// Serve answers HTTP on ln and RADIUS on pc (either may be nil) until ctx
// ends, then shuts down gracefully: no new requests are taken, and those
// in flight get ShutdownTimeout to finish and be answered. It returns nil
// after a clean shutdown. The caller closes ln and pc afterwards.
func (s *Server) Serve(ctx context.Context, ln net.Listener, pc net.PacketConn) error {
	if ln == nil && pc == nil {
		return errors.New("server: nothing to serve")
	}
	hs := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: time.Duration(s.cfg.ReadHeaderTimeout),
		ReadTimeout:       time.Duration(s.cfg.ReadTimeout),
		WriteTimeout:      time.Duration(s.cfg.WriteTimeout),
		IdleTimeout:       time.Duration(s.cfg.IdleTimeout),
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	var rs *radiusServer
	errc := make(chan error, 2)
	var wg sync.WaitGroup
	if ln != nil {
		if s.tls != nil {
			ln = tls.NewListener(ln, s.tls)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := hs.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("http: %w", err)
			}
		}()
	}
	if pc != nil {
		rs = s.newRADIUSServer(pc)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := rs.serve(); err != nil {
				errc <- fmt.Errorf("radius: %w", err)
			}
		}()
	}
	housekeeping := make(chan struct{})
	s.background("housekeeping", func() { s.housekeep(ctx, housekeeping) })
	var failed error
	select {
	case <-ctx.Done():
	case failed = <-errc:
	}
	close(housekeeping)
	s.log.Info("shutting down; finishing requests in flight", "timeout", time.Duration(s.cfg.ShutdownTimeout))
	sctx, cancel := context.WithTimeout(context.Background(), time.Duration(s.cfg.ShutdownTimeout))
	defer cancel()
	var errs []error
	if ln != nil {
		if err := hs.Shutdown(sctx); err != nil {
			errs = append(errs, fmt.Errorf("http shutdown: %w", err))
		}
	}
	if rs != nil {
		if err := rs.shutdown(sctx); err != nil {
			errs = append(errs, fmt.Errorf("radius shutdown: %w", err))
		}
	}
	wg.Wait()
	s.refusals.flush(sctx, true)
	return errors.Join(append([]error{failed}, errs...)...)
}

// housekeeping is how often the server does its background work: writing
// the coalesced refusals whose window is over, and pruning the
// authentication log past its retention.
const housekeeping = time.Minute

func (s *Server) housekeep(ctx context.Context, stop <-chan struct{}) {
	t := time.NewTicker(housekeeping)
	defer t.Stop()
	var syncs <-chan time.Time
	if every := time.Duration(s.cfg.DirectorySyncEvery); every > 0 && s.deps.Directory != nil {
		st := time.NewTicker(every)
		defer st.Stop()
		syncs = st.C
	}
	s.pruneAuthLog(ctx)
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			s.refusals.flush(ctx, false)
			s.pruneAuthLog(ctx)
		case <-syncs:
			s.syncDirectory(ctx)
		}
	}
}

// syncDirectory runs the directory sync as the server: what it changed
// is in the audit log; a sync the guard stops changes nothing and is a
// warning here.
func (s *Server) syncDirectory(ctx context.Context) {
	rep, err := s.desk("keydesk:sync").SyncDirectory(ctx, s.deps.Directory, s.cfg.Directory.PlanOptions(), false)
	if err != nil {
		s.log.Warn("directory sync did not run", "err", err)
		return
	}
	s.log.Info("directory sync", "result", rep.String())
}

// pruneAuthLog removes the authentication log's entries older than the
// retention, a bounded batch at a time so that no commit is long.
func (s *Server) pruneAuthLog(ctx context.Context) {
	if s.cfg.AuthLogDays <= 0 {
		return
	}
	before := s.now().AddDate(0, 0, -s.cfg.AuthLogDays)
	for {
		n, err := s.deps.Desk.PruneAuthLog(ctx, before, pruneBatch)
		if err != nil {
			s.log.Warn("pruning the authentication log", "err", err)
			return
		}
		if n < pruneBatch {
			return
		}
	}
}

const pruneBatch = 5000

// recovered logs and counts a panic recovered in where (p is what
// recover returned), so that one request, packet or job cannot take the
// server down: the bug is in the log with its stack, and /metrics counts
// it.
func (s *Server) recovered(where string, p any) {
	s.m.panics.WithLabelValues(where).Inc()
	s.log.Error("panic recovered; the server goes on", "where", where, "panic", p, "stack", string(debug.Stack()))
}

// background runs fn in a goroutine that a panic does not take the process
// down with: the panic is recovered, logged and counted, and fn is not
// run again.
func (s *Server) background(name string, fn func()) {
	go func() {
		defer func() {
			if p := recover(); p != nil {
				s.recovered("background", fmt.Sprintf("%s: %v", name, p))
			}
		}()
		fn()
	}()
}
