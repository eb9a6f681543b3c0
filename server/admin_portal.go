package server

// The admin API's routes for keys registered through a browser (a help
// desk console registers a key on behalf of a user) and for the portal's
// links.

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/keydesk/keydesk/desk"
	"github.com/keydesk/keydesk/inventory"
	"github.com/keydesk/keydesk/verify"
)

// keyRegistrationBegin is POST /v1/admin/users/{user}/keys/webauthn/begin:
// PublicKeyCredentialCreationOptions for the console's page, the user's
// keys excluded, and the transaction to finish with, bound to the
// administrator who began it.
func (s *Server) keyRegistrationBegin(w http.ResponseWriter, r *http.Request, actor string) error {
	if s.cfg.RPID == "" {
		return keysOff()
	}
	name, err := pathName(r, "user")
	if err != nil {
		return err
	}
	site := s.cfg.site()
	c, err := s.desk(actor).BeginKeyRegistration(r.Context(), site, name, adminCeremony(actor, name))
	if err != nil {
		return err
	}
	return ok(w, http.StatusOK, beginAnswer{Transaction: c.Transaction, PublicKey: creationOptions(site, c)})
}

// keyRegistrationFinish is POST /v1/admin/users/{user}/keys/webauthn/finish:
// the browser's attestation, judged under the desk's policy, and the key
// registered.
func (s *Server) keyRegistrationFinish(w http.ResponseWriter, r *http.Request, actor string) error {
	if s.cfg.RPID == "" {
		return keysOff()
	}
	name, err := pathName(r, "user")
	if err != nil {
		return err
	}
	req, err := decode[registerFinishRequest](w, r, maxKeyBody)
	if err != nil {
		return err
	}
	k, err := s.desk(actor).FinishKeyRegistration(r.Context(), s.cfg.site(), adminCeremony(actor, name), req.Transaction,
		req.attestation, req.Name, s.web.registration, 0)
	if err != nil {
		return keyRefusal(err)
	}
	return ok(w, http.StatusCreated, k)
}

// adminCeremony binds a registration to the administrator who began it
// and the user it is for: finished by anyone else, or for another user,
// it is no registration at all. (User names hold no white space.)
func adminCeremony(actor, user string) string { return "admin:" + actor + " user:" + user }

// keyRefusal answers a key the checks refused with what was wrong with
// it: a 422 the console can show, not a failure of the server.
func keyRefusal(err error) error {
	if errors.Is(err, desk.ErrNoCeremony) {
		return errorf(http.StatusNotFound, "no_transaction", "%v", err)
	}
	for _, e := range []error{verify.ErrMalformedAnswer, verify.ErrClientData, verify.ErrWrongRelyingParty, verify.ErrNoPresence,
		verify.ErrNoUserVerification, verify.ErrAlgorithm, verify.ErrBadSignature, verify.ErrBadAttestation,
		verify.ErrBadMDS, verify.ErrMDSStale, verify.ErrMDSUntrusted} {
		if errors.Is(err, e) {
			return errorf(http.StatusUnprocessableEntity, "key_refused", "%v", err)
		}
	}
	return err
}

// linkAnswer is a link just made: shown once.
type linkAnswer struct {
	User      string    `json:"user"`
	Kind      string    `json:"kind"`
	URL       string    `json:"url"`
	ExpiresAt time.Time `json:"expires_at"`
}

// LinkURL is the address of a link's page in the portal at portalURL
// (the config's portal_url, such as https://keydesk.example.edu/portal/),
// for the CLI and the admin API alike.
func LinkURL(portalURL string, l desk.IssuedLink) (string, error) {
	if err := CheckPortalURL(portalURL); err != nil {
		return "", err
	}
	return portalURL + map[inventory.LinkKind]string{inventory.EnrolLink: "enrol/", inventory.ActivateLink: "activate/"}[l.Link.Kind] + l.Token, nil
}

func portalOff() *apiError {
	return errorf(http.StatusConflict, "portal_off", "the self-service portal is off: the server's config needs portal and portal_url")
}

// invite is POST /v1/admin/users/{user}/invite: an enrolment link, 30
// days, for the user to add a first device in the portal. It needs
// "modify fobs, keys, phone apps, bypass codes": it creates no user, it
// lets the user add a device, as a bypass code lets them in without one.
func (s *Server) invite(w http.ResponseWriter, r *http.Request, actor string) error {
	return s.issueLink(w, r, actor, (*desk.Desk).Invite)
}

// activationLink is POST /v1/admin/users/{user}/phones/activation: a
// link, 24 hours, to pair a phone app away from the desk; refused while
// one is live.
func (s *Server) activationLink(w http.ResponseWriter, r *http.Request, actor string) error {
	return s.issueLink(w, r, actor, (*desk.Desk).IssueActivationLink)
}

func (s *Server) issueLink(w http.ResponseWriter, r *http.Request, actor string, issue func(*desk.Desk, context.Context, string) (desk.IssuedLink, error)) error {
	if !s.cfg.Portal {
		return portalOff()
	}
	name, err := pathName(r, "user")
	if err != nil {
		return err
	}
	l, err := issue(s.desk(actor), r.Context(), name)
	if err != nil {
		return err
	}
	u, err := LinkURL(s.cfg.PortalURL, l)
	if err != nil {
		return err
	}
	// The link is the user's way in: shown this once, marked no-store.
	return ok(w, http.StatusCreated, linkAnswer{User: l.Link.User, Kind: string(l.Link.Kind), URL: u, ExpiresAt: l.Link.ExpiresAt})
}
