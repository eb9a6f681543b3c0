package server

// WebAuthn for applications: an application's backend begins a login by
// security key for a user, its page runs navigator.credentials.get, and
// the backend sends the key's answer back for a decision, answered
// exactly as /v1/auth answers a passcode.

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/keydesk/keydesk/desk"
	"github.com/keydesk/keydesk/inventory"
	"github.com/keydesk/keydesk/verify"
)

// application is the application calling, by its key; only applications
// may ask for decisions.
func (s *Server) application(r *http.Request) (inventory.Application, error) {
	key, err := bearer(r)
	if err != nil {
		return inventory.Application{}, err
	}
	app, err := s.apps.get(r.Context(), s.deps.Callers, key)
	switch {
	case errors.Is(err, inventory.ErrNotFound):
		return app, unauthenticated("the bearer token is not an application key")
	case err != nil:
		return app, err
	case app.Disabled:
		return app, unauthenticated("application %s is disabled", app.Name)
	}
	return app, nil
}

// keysOff answers a WebAuthn route on a server without a relying party.
func keysOff() *apiError {
	return errorf(http.StatusNotFound, "webauthn_off", "security keys in the browser are off: the server's config has no rp_id")
}

// limitUser takes one attempt of user's from the per-user rate limit.
func (s *Server) limitUser(user string) error {
	if ok, wait := s.users.allow(user, s.now()); !ok {
		s.m.limited.WithLabelValues("http", "user").Inc()
		return &apiError{Status: http.StatusTooManyRequests, Code: "rate_limited",
			Message: fmt.Sprintf("too many attempts for user %s; try again later", user), RetryAfter: wait}
	}
	return nil
}

// keyAnswerOf is what an application hears of a decision on a key, in
// the shape and under the rules of answerOf: details only to an
// application added with detailed reasons.
func keyAnswerOf(d verify.Decision, detailed bool) authAnswer {
	if detailed {
		return answerOf(d, true)
	}
	if d.Allow {
		return authAnswer{Result: "allow", Reason: "security key accepted", ReasonCode: "ok"}
	}
	return authAnswer{Result: "deny", Reason: "security key not accepted", ReasonCode: "denied"}
}

// preauthAnswer says which factors a user can use now.
type preauthAnswer struct {
	Result  string   `json:"result"` // "auth": ask for one of Factors; "deny": none will do
	Factors []string `json:"factors"`
	Reason  string   `json:"reason,omitempty"`
}

// preauth is POST /v1/preauth: which factors the user can use
// ("passcode": a fob, phone app or bypass code; "webauthn": a security
// key in the browser), so that an application knows what to ask for.
// An application without detailed reasons hears no reason for a "deny":
// whether the user exists is not its business.
func (s *Server) preauth(w http.ResponseWriter, r *http.Request) {
	app, err := s.application(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	req, err := decode[usernameRequest](w, r, maxAuthBody)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	f, err := s.deps.Desk.Factors(r.Context(), s.cfg.site(), req.Username)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := preauthAnswer{Result: "auth", Factors: f.Names()}
	if len(out.Factors) == 0 {
		out.Result = "deny"
		if app.DetailedReasons {
			out.Reason = f.Why
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// beginAnswer is the answer of a ceremony's begin: the transaction to
// finish it with, and the options for navigator.credentials.
type beginAnswer struct {
	Transaction string `json:"transaction"`
	PublicKey   any    `json:"publicKey"`
}

// webauthnBegin is POST /v1/auth/webauthn/begin: a login by key for the
// user, bound to the calling application. A user who cannot sign in by
// key gets the denial /v1/auth would give, recorded as a decision.
func (s *Server) webauthnBegin(w http.ResponseWriter, r *http.Request) {
	// The key first: only an application learns whether keys in the
	// browser are on.
	app, err := s.application(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if s.cfg.RPID == "" {
		s.writeError(w, r, keysOff())
		return
	}
	req, err := decode[usernameRequest](w, r, maxAuthBody)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.limitUser(req.Username); err != nil {
		s.writeError(w, r, err)
		return
	}
	from := verify.Origin{Transport: "http", App: app.Name, Source: clientKey(r.RemoteAddr)}
	site := s.cfg.site()
	c, dec, err := s.deps.Desk.BeginKeyLogin(r.Context(), site, req.Username, "app:"+app.Name, 0, from)
	switch {
	case err != nil:
		s.noDecision(w, r, app.Name, req.Username, err)
	case dec.Denial != nil:
		s.decided(from, req.Username, dec, 0)
		writeJSON(w, http.StatusOK, keyAnswerOf(dec, app.DetailedReasons))
	default:
		writeJSON(w, http.StatusOK, beginAnswer{Transaction: c.Transaction, PublicKey: requestOptions(site, c)})
	}
}

// webauthnFinish is POST /v1/auth/webauthn/finish: the key's answer to a
// login the application began, decided once.
func (s *Server) webauthnFinish(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	app, err := s.application(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if s.cfg.RPID == "" {
		s.writeError(w, r, keysOff())
		return
	}
	req, err := decode[loginFinishRequest](w, r, maxKeyBody)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	from := verify.Origin{Transport: "http", App: app.Name, Source: clientKey(r.RemoteAddr)}
	d, err := s.deps.Desk.FinishKeyLogin(r.Context(), s.cfg.site(), "app:"+app.Name, req.Transaction, req.answer, from)
	switch {
	case errors.Is(err, desk.ErrNoCeremony):
		s.writeError(w, r, errorf(http.StatusNotFound, "no_transaction", "%v", err))
		return
	case err != nil:
		s.noDecision(w, r, app.Name, "", err)
		return
	}
	s.decided(from, d.User, d.Decision, time.Since(start))
	writeJSON(w, http.StatusOK, keyAnswerOf(d.Decision, app.DetailedReasons))
}

// noDecision answers a request no decision could be made on: never an
// allow.
func (s *Server) noDecision(w http.ResponseWriter, r *http.Request, app, user string, err error) {
	s.log.Error("no decision", "app", app, "user", user, "err", err)
	s.writeError(w, r, errorf(http.StatusServiceUnavailable, "no_decision", "no decision could be made; try again"))
}
