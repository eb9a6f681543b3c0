package server

// The portal's security-key routes, called by its script
// (static/portal.js) with the session's CSRF token in a header: add a
// key, sign in with one, test one. Each ceremony is bound to the session
// that began it.

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/keydesk/keydesk/desk"
	"github.com/keydesk/keydesk/inventory"
	"github.com/keydesk/keydesk/verify"
)

func sessionCeremony(sess inventory.Session) string {
	return "session:" + strconv.FormatInt(sess.ID, 10)
}

// portalAnswer is what the portal's routes tell its script.
type portalAnswer struct {
	Result  string `json:"result"` // "allow", "deny" or "ok"
	Message string `json:"message,omitempty"`
	Next    string `json:"next,omitempty"` // the page to go to
}

func (s *Server) portalKeyRegisterBegin(w http.ResponseWriter, r *http.Request) {
	sess := sessionOf(r)
	if s.cfg.RPID == "" {
		s.writeError(w, r, keysOff())
		return
	}
	site := s.cfg.site()
	c, err := s.userDesk(sess).BeginKeyRegistration(r.Context(), site, sess.User, sessionCeremony(sess))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, beginAnswer{Transaction: c.Transaction, PublicKey: creationOptions(site, c)})
}

func (s *Server) portalKeyRegisterFinish(w http.ResponseWriter, r *http.Request) {
	sess := sessionOf(r)
	if s.cfg.RPID == "" {
		s.writeError(w, r, keysOff())
		return
	}
	req, err := decode[registerFinishRequest](w, r, maxKeyBody)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var link int64
	if sess.Kind == inventory.Enrolling {
		link = sess.LinkID
	}
	k, err := s.userDesk(sess).FinishKeyRegistration(r.Context(), s.cfg.site(), sessionCeremony(sess), req.Transaction,
		req.attestation, req.Name, s.web.registration, link)
	if err != nil {
		if e := keyRefusal(err); errors.Is(err, verify.ErrRefused) || e != err {
			writeJSON(w, http.StatusOK, portalAnswer{Result: "deny", Message: "The key was not added: " + classify(e).Message})
			return
		}
		s.writeError(w, r, err)
		return
	}
	next := "?done=key"
	if sess.Kind == inventory.Enrolling {
		if !s.signIn(w, r, sess, sess.User, fmt.Sprintf("key #%d", k.Key.ID)) {
			return
		}
		next = "?done=enrolled"
	}
	writeJSON(w, http.StatusOK, portalAnswer{Result: "ok", Message: fmt.Sprintf("Added %s.", k.Key.Name), Next: s.web.base + next})
}

// portalKeySignInBegin begins a sign-in with a key for the user name
// typed. A user who cannot sign in by key hears only that: whether the
// name exists is not told.
func (s *Server) portalKeySignInBegin(w http.ResponseWriter, r *http.Request) {
	req, err := decode[usernameRequest](w, r, maxAuthBody)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.keyLoginBegin(w, r, req.Username, 0)
}

func (s *Server) keyLoginBegin(w http.ResponseWriter, r *http.Request, user string, only int64) {
	if s.cfg.RPID == "" {
		s.writeError(w, r, keysOff())
		return
	}
	if err := s.limitUser(user); err != nil {
		s.writeError(w, r, err)
		return
	}
	sess, from, site := sessionOf(r), portalOrigin(r), s.cfg.site()
	c, dec, err := s.deps.Desk.BeginKeyLogin(r.Context(), site, user, sessionCeremony(sess), only, from)
	switch {
	case err != nil:
		s.noDecision(w, r, "portal", user, err)
	case dec.Denial != nil:
		s.decided(from, user, dec, 0)
		msg := "No security key can sign in for this user name. Sign in with a code instead."
		if only != 0 {
			msg = "This key cannot be tested: " + dec.Reason() + "."
		}
		writeJSON(w, http.StatusOK, portalAnswer{Result: "deny", Message: msg})
	default:
		writeJSON(w, http.StatusOK, beginAnswer{Transaction: c.Transaction, PublicKey: requestOptions(site, c)})
	}
}

func (s *Server) keyLoginFinish(w http.ResponseWriter, r *http.Request) (desk.KeyDecision, bool) {
	if s.cfg.RPID == "" {
		s.writeError(w, r, keysOff())
		return desk.KeyDecision{}, false
	}
	req, err := decode[loginFinishRequest](w, r, maxKeyBody)
	if err != nil {
		s.writeError(w, r, err)
		return desk.KeyDecision{}, false
	}
	sess, from := sessionOf(r), portalOrigin(r)
	d, err := s.deps.Desk.FinishKeyLogin(r.Context(), s.cfg.site(), sessionCeremony(sess), req.Transaction, req.answer, from)
	switch {
	case errors.Is(err, desk.ErrNoCeremony):
		s.writeError(w, r, errorf(http.StatusNotFound, "no_transaction", "%v", err))
		return desk.KeyDecision{}, false
	case err != nil:
		s.noDecision(w, r, "portal", "", err)
		return desk.KeyDecision{}, false
	}
	s.decided(from, d.User, d.Decision, 0)
	return d, true
}

func (s *Server) portalKeySignInFinish(w http.ResponseWriter, r *http.Request) {
	d, ok := s.keyLoginFinish(w, r)
	if !ok {
		return
	}
	if !d.Allow {
		writeJSON(w, http.StatusOK, portalAnswer{Result: "deny", Message: "That security key was not accepted. Sign in with a code instead, or ask the help desk."})
		return
	}
	if s.signIn(w, r, sessionOf(r), d.User, d.Factor()) {
		writeJSON(w, http.StatusOK, portalAnswer{Result: "allow", Next: s.web.base})
	}
}

// portalKeyTestBegin begins the test of one of the signed-in user's
// keys: a login that offers that key only.
func (s *Server) portalKeyTestBegin(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.keyLoginBegin(w, r, sessionOf(r).User, id)
}

// portalKeyTestFinish says whether the key works, with its model and
// counter; a key that does not says why, to its own user.
func (s *Server) portalKeyTestFinish(w http.ResponseWriter, r *http.Request) {
	d, ok := s.keyLoginFinish(w, r)
	if !ok {
		return
	}
	if !d.Allow {
		writeJSON(w, http.StatusOK, portalAnswer{Result: "deny", Message: "The key did not work: " + d.Reason() + "."})
		return
	}
	model := d.KeyModel
	if model == "" {
		model = "model unknown"
	}
	writeJSON(w, http.StatusOK, portalAnswer{Result: "allow",
		Message: fmt.Sprintf("Your key works: “%s”, %s, counter %d.", d.KeyName, model, d.Counter)})
}
