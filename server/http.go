package server

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/keydesk/keydesk/inventory"
	"github.com/keydesk/keydesk/verify"
)

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	handle := func(pattern string, h http.Handler) {
		mux.Handle(pattern, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if sw, ok := w.(*statusWriter); ok {
				sw.route = pattern
			}
			h.ServeHTTP(w, r)
		}))
	}
	s.register(handle)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w, s: s, r: r}
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				s.recovered("http", fmt.Sprintf("%s %s: %v", r.Method, r.URL.Path, p))
				if sw.status == 0 {
					s.writeError(sw, r, errorf(http.StatusInternalServerError, "internal", "internal error; the server log has the details"))
				}
			}
			s.m.requests.WithLabelValues(or(sw.route, "unmatched"), strconv.Itoa(sw.status)).Inc()
		}()
		// The mux answers a path that is not in its clean form ("//",
		// "/../", "/./") with a redirect in HTML; an API answers in its one
		// error shape, and does not guess what was meant.
		if p := r.URL.Path; p != cleanPath(p) {
			s.writeError(sw, r, errorf(http.StatusBadRequest, "bad_path", "the path %q is not in its clean form (%q)", p, cleanPath(p)))
			return
		}
		if ok, wait := s.clients.allow(clientKey(r.RemoteAddr), s.now()); !ok {
			s.m.limited.WithLabelValues("http", "client").Inc()
			s.writeError(sw, r, &apiError{Status: http.StatusTooManyRequests, Code: "rate_limited",
				Message: "too many requests from this address; slow down", RetryAfter: wait})
			return
		}
		mux.ServeHTTP(sw, r)
	})
}

// register hands every route of the server to handle: the one list of
// them, which the mux is built from and server/openapi.json describes.
func (s *Server) register(handle func(pattern string, h http.Handler)) {
	handle("GET /healthz", http.HandlerFunc(s.healthz))
	handle("GET /metrics", promhttp.HandlerFor(s.m.reg, promhttp.HandlerOpts{}))
	handle("GET /v1/openapi.json", http.HandlerFunc(serveOpenAPI))
	handle("POST /v1/auth", http.HandlerFunc(s.auth))
	s.browserRoutes(handle)
	for _, rt := range s.adminRoutes() {
		handle(rt.pattern, s.admin(rt))
	}
}

// statusWriter remembers the status written and the route that took the
// request, for the metrics. A 404 or 405 written before any route took
// the request is the mux's own, in plain text: it is answered in the one
// error shape instead.
type statusWriter struct {
	http.ResponseWriter
	s        *Server
	r        *http.Request
	status   int
	route    string
	replaced bool
}

func (w *statusWriter) WriteHeader(code int) {
	switch {
	case w.replaced:
		return
	case w.route == "" && w.status == 0 && (code == http.StatusNotFound || code == http.StatusMethodNotAllowed):
		w.replaced = true
		w.status = code
		w.s.writeError(w.ResponseWriter, w.r, unmatched(w.r, code, w.Header().Get("Allow")))
		return
	}
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.replaced {
		return len(b), nil
	}
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func unmatched(r *http.Request, code int, allow string) *apiError {
	if code == http.StatusMethodNotAllowed {
		return errorf(code, "method_not_allowed", "%s is not allowed on %s (allowed: %s)", r.Method, r.URL.Path, allow)
	}
	return errorf(code, "no_route", "no route %s %s", r.Method, r.URL.Path)
}

// cleanPath is p as the mux would route it: path.Clean, keeping a
// trailing slash.
func cleanPath(p string) string {
	if p == "" {
		return "/"
	}
	c := path.Clean(p)
	if strings.HasSuffix(p, "/") && c != "/" {
		c += "/"
	}
	return c
}

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
	if _, err := s.deps.Callers.ApplicationByKey(r.Context(), inventory.AppKeyPrefix+"healthz"); err != nil && !errors.Is(err, inventory.ErrNotFound) {
		s.log.Error("health check failed", "err", err)
		s.writeError(w, r, errorf(http.StatusServiceUnavailable, "unavailable", "the inventory cannot be read"))
		return
	}
	out := map[string]string{"status": "ok"}
	if s.deps.Store != "" {
		out["store"] = s.deps.Store
	}
	writeJSON(w, http.StatusOK, out)
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
// password into the wrong field. Spaces and dashes are how people read
// codes off a fob ("592 264", "333-503-004"): the verifier drops them.
func checkPasscode(p string) error {
	if p == "" {
		return errors.New("passcode: empty")
	}
	if len(p) > maxPasscode {
		return fmt.Errorf("passcode: longer than %d characters", maxPasscode)
	}
	for i := 0; i < len(p); i++ {
		if (p[i] < 0x21 || p[i] > 0x7e) && p[i] != ' ' {
			return fmt.Errorf("passcode: character %d is neither printable ASCII nor a space", i+1)
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

// answerOf is what an application hears of a decision: the reason in the
// help desk's words when the application may hear details, and otherwise
// only that the passcode was or was not accepted. Who exists, which fob
// answered, the server's time and a fob's drift help an attacker more
// than an application.
func answerOf(d verify.Decision, detailed bool) authAnswer {
	if detailed {
		v := d.View()
		return authAnswer{Result: v.Result, Reason: v.Reason, ReasonCode: v.ReasonCode}
	}
	if d.Allow {
		return authAnswer{Result: "allow", Reason: "passcode accepted", ReasonCode: "ok"}
	}
	return authAnswer{Result: "deny", Reason: "passcode not accepted", ReasonCode: "denied"}
}

// auth is POST /v1/auth: an application asks whether a user's passcode is
// right. Only applications may ask.
func (s *Server) auth(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	app, err := s.application(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	req, err := decode[authRequest](w, r, maxAuthBody)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.limitUser(req.Username); err != nil {
		s.writeError(w, r, err)
		return
	}
	from := verify.Origin{Transport: "http", App: app.Name, Source: clientKey(r.RemoteAddr)}
	d, err := s.deps.Decider.VerifyUser(r.Context(), req.Username, req.Passcode, from)
	if err != nil {
		// No decision is never an allow.
		s.log.Error("no decision", "app", app.Name, "user", req.Username, "err", err)
		s.writeError(w, r, errorf(http.StatusServiceUnavailable, "no_decision", "no decision could be made; try again"))
		return
	}
	s.decided(from, req.Username, d, time.Since(start))
	writeJSON(w, http.StatusOK, answerOf(d, app.DetailedReasons))
}
