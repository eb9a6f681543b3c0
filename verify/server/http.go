package server

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/keydesk/keydesk/inventory"
	"github.com/keydesk/keydesk/verify"
)

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.m.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("POST /v1/auth", s.auth)
	for _, rt := range s.adminRoutes() {
		mux.Handle(rt.pattern, s.admin(rt))
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, pattern := mux.Handler(r)
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				s.log.Error("handler panicked", "method", r.Method, "path", r.URL.Path, "panic", p)
				if sw.status == 0 {
					s.writeError(sw, r, errorf(http.StatusInternalServerError, "internal", "internal error; the server log has the details"))
				}
			}
			s.m.requests.WithLabelValues(or(pattern, "unmatched"), strconv.Itoa(sw.status)).Inc()
		}()
		if ok, wait := s.clients.allow(clientKey(r.RemoteAddr), s.now()); !ok {
			s.m.limited.WithLabelValues("http", "client").Inc()
			s.writeError(sw, r, &apiError{Status: http.StatusTooManyRequests, Code: "rate_limited",
				Message: "too many requests from this address; slow down", RetryAfter: wait})
			return
		}
		if pattern == "" {
			s.unmatched(sw, r, h)
			return
		}
		// Served through the mux again, which sets the path values.
		mux.ServeHTTP(sw, r)
	})
}

// unmatched answers a request no route takes in the one error shape: the
// mux itself would answer 404 and 405 in plain text.
func (s *Server) unmatched(w http.ResponseWriter, r *http.Request, h http.Handler) {
	probe := &statusWriter{ResponseWriter: discard{http.Header{}}}
	h.ServeHTTP(probe, r)
	if probe.status == http.StatusMethodNotAllowed {
		w.Header().Set("Allow", probe.Header().Get("Allow"))
		s.writeError(w, r, errorf(http.StatusMethodNotAllowed, "method_not_allowed", "%s is not allowed on %s (allowed: %s)",
			r.Method, r.URL.Path, probe.Header().Get("Allow")))
		return
	}
	s.writeError(w, r, errorf(http.StatusNotFound, "no_route", "no route %s %s", r.Method, r.URL.Path))
}

// statusWriter remembers the status written, for the metrics.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

type discard struct{ h http.Header }

func (d discard) Header() http.Header         { return d.h }
func (d discard) Write(b []byte) (int, error) { return len(b), nil }
func (d discard) WriteHeader(int)             {}

// clientKey is the source address of a request, without its port.
func clientKey(remote string) string {
	if ap, err := netip.ParseAddrPort(remote); err == nil {
		return ap.Addr().Unmap().String()
	}
	return remote
}

func or(s, alt string) string {
	if s == "" {
		return alt
	}
	return s
}

// healthz answers 200 when the inventory can be read: it looks up a key
// that no application can have.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	if _, err := s.deps.Directory.ApplicationByKey(r.Context(), inventory.AppKeyPrefix+"healthz"); err != nil && !errors.Is(err, inventory.ErrNotFound) {
		s.log.Error("health check failed", "err", err)
		s.writeError(w, r, errorf(http.StatusServiceUnavailable, "unavailable", "the inventory cannot be read"))
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// bearer is the token of an "Authorization: Bearer" header.
func bearer(r *http.Request) (string, error) {
	h := r.Header.Get("Authorization")
	scheme, token, ok := strings.Cut(h, " ")
	if h == "" || !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return "", &apiError{Status: http.StatusUnauthorized, Code: "unauthenticated",
			Message: "this route needs an Authorization: Bearer header"}
	}
	return strings.TrimSpace(token), nil
}

func unauthenticated(format string, args ...any) *apiError {
	return errorf(http.StatusUnauthorized, "unauthenticated", format, args...)
}

// authRequest is the body of POST /v1/auth.
type authRequest struct {
	Username string `json:"username"`
	Passcode string `json:"passcode"`
}

// maxPasscode is longer than any passcode keydesk knows (a Yubico OTP is
// 44 characters) and short enough to bound the work on one.
const maxPasscode = 64

func (a *authRequest) Validate() error {
	if err := inventory.CheckUserName(a.Username); err != nil {
		return fmt.Errorf("username: %w", err)
	}
	return checkPasscode(a.Passcode)
}

// checkPasscode never quotes the passcode: a user may have typed a
// password into the wrong field.
func checkPasscode(p string) error {
	if p == "" {
		return errors.New("passcode: empty")
	}
	if len(p) > maxPasscode {
		return fmt.Errorf("passcode: longer than %d characters", maxPasscode)
	}
	for i := 0; i < len(p); i++ {
		if p[i] < 0x21 || p[i] > 0x7e {
			return fmt.Errorf("passcode: character %d is not printable ASCII", i+1)
		}
	}
	return nil
}

// authAnswer is the answer of POST /v1/auth.
type authAnswer struct {
	Result     string `json:"result"` // "allow" or "deny"
	Reason     string `json:"reason"`
	ReasonCode string `json:"reason_code"`
}

func answerOf(d verify.Decision) authAnswer {
	a := authAnswer{Result: "deny", Reason: d.Reason(), ReasonCode: d.ReasonCode()}
	if d.Allow {
		a.Result = "allow"
	}
	return a
}

// auth is POST /v1/auth: an application asks whether a user's passcode is
// right. Only applications may ask.
func (s *Server) auth(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	key, err := bearer(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	app, err := s.apps.get(r.Context(), s.deps.Directory, key)
	switch {
	case errors.Is(err, inventory.ErrNotFound):
		s.writeError(w, r, unauthenticated("the bearer token is not an application key"))
		return
	case err != nil:
		s.writeError(w, r, err)
		return
	case app.Disabled:
		s.writeError(w, r, unauthenticated("application %s is disabled", app.Name))
		return
	}
	req, err := decode[authRequest](w, r, maxAuthBody)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if ok, wait := s.users.allow(req.Username, s.now()); !ok {
		s.m.limited.WithLabelValues("http", "user").Inc()
		s.writeError(w, r, &apiError{Status: http.StatusTooManyRequests, Code: "rate_limited",
			Message: fmt.Sprintf("too many attempts for user %s; try again later", req.Username), RetryAfter: wait})
		return
	}
	d, err := s.deps.Decider.VerifyUser(r.Context(), req.Username, req.Passcode)
	if err != nil {
		// No decision is never an allow.
		s.log.Error("no decision", "app", app.Name, "user", req.Username, "err", err)
		s.writeError(w, r, errorf(http.StatusServiceUnavailable, "no_decision", "no decision could be made; try again"))
		return
	}
	s.m.decided("http", d, time.Since(start))
	s.log.Debug("decision", "transport", "http", "app", app.Name, "user", req.Username, "result", d.Allow, "reason", d.ReasonCode())
	writeJSON(w, http.StatusOK, answerOf(d))
}
