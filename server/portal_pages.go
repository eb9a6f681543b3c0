package server

// The portal's pages that work without JavaScript: sign-in with a
// passcode, enrolment and activation links, phone apps, renaming a key,
// reporting a device lost, signing out.

import (
	"context"
	"errors"
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/keydesk/keydesk/desk"
	"github.com/keydesk/keydesk/inventory"
	"github.com/keydesk/keydesk/verify"
)

func (s *Server) portalPages() []portalRoute {
	return []portalRoute{
		{"GET /portal/{$}", anyone, s.portalHome},
		{"GET /portal/", anyone, s.portalNotFound},
		{"POST /portal/signin", anyone, s.portalSignIn},
		{"POST /portal/signout", anyone, s.portalSignOut},
		{"GET /portal/enrol/{token}", anyone, s.portalOpenLink(inventory.EnrolLink)},
		{"GET /portal/activate/{token}", anyone, s.portalOpenLink(inventory.ActivateLink)},
		{"POST /portal/phone", mayAddDevice, s.portalAddPhone},
		{"POST /portal/phone/{id}/activate", mayAddDevice, s.portalActivatePhone},
		{"POST /portal/keys/{id}/rename", signedIn, s.portalRenameKey},
		{"GET /portal/lost/{kind}/{id}", signedIn, s.portalLostConfirm},
		{"POST /portal/lost/{kind}/{id}", signedIn, s.portalLost},
		{"POST /portal/keys/register/begin", mayAddKey, s.portalKeyRegisterBegin},
		{"POST /portal/keys/register/finish", mayAddKey, s.portalKeyRegisterFinish},
		{"POST /portal/keys/signin/begin", anyone, s.portalKeySignInBegin},
		{"POST /portal/keys/signin/finish", anyone, s.portalKeySignInFinish},
		{"POST /portal/keys/{id}/test", signedIn, s.portalKeyTestBegin},
		{"POST /portal/keys/test/finish", signedIn, s.portalKeyTestFinish},
	}
}

type sessionCtx struct{}

func withSession(ctx context.Context, s inventory.Session) context.Context {
	return context.WithValue(ctx, sessionCtx{}, s)
}

func sessionOf(r *http.Request) inventory.Session {
	s, _ := r.Context().Value(sessionCtx{}).(inventory.Session)
	return s
}

// userDesk is the desk acting for the signed-in user, as the audit log
// names them.
func (s *Server) userDesk(sess inventory.Session) *desk.Desk { return s.desk("portal:" + sess.User) }

// portalOrigin is where the portal's decisions come from, for the
// authentication log.
func portalOrigin(r *http.Request) verify.Origin {
	return verify.Origin{Transport: "web", App: "portal", Source: clientKey(r.RemoteAddr)}
}

// redirect sends the browser on to a page of the portal (303: the next
// request is a GET).
func (s *Server) redirect(w http.ResponseWriter, r *http.Request, path string) {
	http.Redirect(w, r, s.web.base+path, http.StatusSeeOther)
}

// done are the notes a page may show after a change: a fixed list, so
// that nothing from the address is ever echoed.
var done = map[string]string{
	"enrolled":  "Your first device is set up, and you are signed in.",
	"phone":     "Your phone app is paired. Use its codes to sign in from now on.",
	"key":       "Your security key is added.",
	"renamed":   "The key's name is changed.",
	"lost":      "The device is disabled. It cannot be used to sign in any more; the help desk keeps it on record.",
	"signedout": "You are signed out.",
}

func (s *Server) portalHome(w http.ResponseWriter, r *http.Request) {
	sess := sessionOf(r)
	flash := done[r.URL.Query().Get("done")]
	switch sess.Kind {
	case inventory.SignedIn:
		s.renderDevices(w, r, flash, "")
	case inventory.Enrolling:
		s.render(w, r, http.StatusOK, "enrol", "Set up your first device", linkPage{User: sess.User, Keys: s.cfg.RPID != ""})
	case inventory.Activating:
		s.render(w, r, http.StatusOK, "activate", "Pair your phone app", linkPage{User: sess.User})
	default:
		s.render(w, r, http.StatusOK, "signin", "Sign in", signInPage{Flash: flash, Keys: s.cfg.RPID != ""})
	}
}

func (s *Server) portalNotFound(w http.ResponseWriter, r *http.Request) {
	s.pageError(w, r, errorf(http.StatusNotFound, "not_found", "There is no such page in the portal."))
}

// signInPage is the sign-in form.
type signInPage struct {
	Username string
	Flash    string
	Error    string
	Keys     bool // security keys can sign in
}

func (p signInPage) flash() (string, string) { return p.Flash, p.Error }

// maxFormField bounds a form's text fields.
const maxFormField = 256

func formValue(r *http.Request, name string) string {
	v := strings.TrimSpace(r.PostFormValue(name))
	if len(v) > maxFormField {
		return v[:maxFormField]
	}
	return v
}

// portalSignIn is the sign-in with a passcode: a code from a fob or
// phone app, or a bypass code, decided by verify as /v1/auth is, with
// the same rate limit and lockout.
func (s *Server) portalSignIn(w http.ResponseWriter, r *http.Request) {
	sess := sessionOf(r)
	user, code := formValue(r, "username"), formValue(r, "passcode")
	again := func(msg string) {
		s.render(w, r, http.StatusOK, "signin", "Sign in", signInPage{Username: user, Error: msg, Keys: s.cfg.RPID != ""})
	}
	if inventory.CheckUserName(user) != nil || checkPasscode(code) != nil {
		again("Type your user name, and the code your device shows (or a bypass code).")
		return
	}
	if err := s.limitUser(user); err != nil {
		again("Too many attempts for this user name. Wait a minute and try again.")
		return
	}
	from := portalOrigin(r)
	d, err := s.deps.Decider.VerifyUser(r.Context(), user, code, from)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	s.decided(from, user, d, 0)
	if !d.Allow {
		// A person learns no more than an application without detailed
		// reasons would: the help desk sees the reason in the log.
		again("That user name and code were not accepted. Check the code and try again; after several wrong codes the account is locked for a while.")
		return
	}
	s.signIn(w, r, sess, user, d.Factor())
	s.redirect(w, r, "")
}

// signIn starts a signed-in session in place of sess.
func (s *Server) signIn(w http.ResponseWriter, r *http.Request, sess inventory.Session, user, factor string) bool {
	ns, err := s.deps.Desk.SignIn(r.Context(), s.cfg.sessions(), sess.ID, user, factor)
	if err != nil {
		s.pageError(w, r, err)
		return false
	}
	s.setCookie(w, ns)
	return true
}

func (s *Server) portalSignOut(w http.ResponseWriter, r *http.Request) {
	if err := s.deps.Desk.EndSession(r.Context(), sessionOf(r).ID); err != nil {
		s.pageError(w, r, err)
		return
	}
	s.clearCookie(w)
	s.redirect(w, r, "?done=signedout")
}

// linkPage is the first page of an enrolment or activation link.
type linkPage struct {
	User string
	Keys bool
}

// linkWords say to a person why a link does not open.
func linkWords(err error) string {
	switch {
	case errors.Is(err, verify.ErrLinkExpired):
		return "This link has expired. Links last a limited time; ask the help desk for a new one."
	case errors.Is(err, verify.ErrLinkUsed):
		return "This link was used already, and works only once. Sign in with the device you set up, or ask the help desk for a new link."
	case errors.Is(err, verify.ErrLinkRevoked):
		return "This link was replaced by a newer one. Use the newest link the help desk sent you."
	}
	return "This link is not one the help desk sent. Check that you copied all of it."
}

// portalOpenLink opens an enrolment or activation link: a session for
// it, or a page that says why the link does not open (410 Gone).
func (s *Server) portalOpenLink(kind inventory.LinkKind) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		l, err := s.deps.Desk.OpenLink(r.Context(), kind, r.PathValue("token"))
		if errors.Is(err, desk.ErrLink) {
			s.render(w, r, http.StatusGone, "message", "Link not valid", message{Heading: "This link does not work",
				Text: linkWords(err), Link: s.web.base, LinkText: "Go to the sign-in page", Kind: "warn"})
			return
		}
		if err != nil {
			s.pageError(w, r, err)
			return
		}
		ns, err := s.deps.Desk.OpenLinkSession(r.Context(), s.cfg.sessions(), sessionOf(r).ID, l)
		if err != nil {
			s.pageError(w, r, err)
			return
		}
		s.setCookie(w, ns)
		s.portalHome(w, r.WithContext(withSession(r.Context(), ns.Session)))
	}
}

// phonePage shows a new phone app's seed, once, and asks for its first
// code; after a wrong code it asks again without the seed.
type phonePage struct {
	ID      int64
	QR      template.HTML
	Seed    desk.PhoneAppSeed
	Shown   bool // the seed is on this page
	Expires time.Time
	Error   string
}

func (p phonePage) flash() (string, string) { return "", p.Error }

func (s *Server) portalAddPhone(w http.ResponseWriter, r *http.Request) {
	sess := sessionOf(r)
	d := s.userDesk(sess)
	var seed desk.PhoneAppSeed
	var err error
	if sess.Kind == inventory.SignedIn {
		seed, err = d.AddPhoneApp(r.Context(), sess.User, s.cfg.Issuer)
	} else {
		seed, err = d.AddPhoneAppFromLink(r.Context(), sess.LinkID, s.cfg.Issuer)
	}
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	qr, err := qrSVG(seed.URI)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "phone", "Pair a phone app", phonePage{ID: seed.PhoneApp.ID, QR: qr, Seed: seed, Shown: true, Expires: seed.PhoneApp.ExpiresAt})
}

func pathID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, errorf(http.StatusNotFound, "not_found", "There is no such device.")
	}
	return id, nil
}

func (s *Server) portalActivatePhone(w http.ResponseWriter, r *http.Request) {
	sess := sessionOf(r)
	id, err := pathID(r)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	if err := s.limitUser(sess.User); err != nil {
		s.render(w, r, http.StatusOK, "phone", "Pair a phone app", phonePage{ID: id, Error: "Too many tries. Wait a minute, then type the code the app shows."})
		return
	}
	p, err := s.userDesk(sess).ActivatePhoneApp(r.Context(), sess.User, id, formValue(r, "code"))
	switch {
	case errors.Is(err, verify.ErrPairingCode):
		s.render(w, r, http.StatusOK, "phone", "Pair a phone app", phonePage{ID: id,
			Error: "That is not the code the app shows now. Check that the phone sets its clock automatically, and type the code shown now."})
		return
	case err != nil:
		s.pageError(w, r, err)
		return
	}
	switch sess.Kind {
	case inventory.Enrolling:
		if s.signIn(w, r, sess, sess.User, "phone app #"+strconv.FormatInt(p.ID, 10)) {
			s.redirect(w, r, "?done=enrolled")
		}
	case inventory.Activating:
		if err := s.deps.Desk.EndSession(r.Context(), sess.ID); err != nil {
			s.pageError(w, r, err)
			return
		}
		s.clearCookie(w)
		s.render(w, r, http.StatusOK, "message", "Phone app paired", message{Heading: "Your phone app is paired",
			Text: "From now on, sign in with the code the app shows.", Link: s.web.base, LinkText: "Sign in to see your devices", Kind: "ok"})
	default:
		s.redirect(w, r, "?done=phone")
	}
}

// devicesPage is what the user holds.
type devicesPage struct {
	User   inventory.User
	Fobs   []desk.FobView
	Keys   []inventory.Key
	Phones []inventory.PhoneApp
	Keyed  bool // keys can be added and tested here
	Flash  string
	Error  string
}

func (p devicesPage) flash() (string, string) { return p.Flash, p.Error }

func (s *Server) renderDevices(w http.ResponseWriter, r *http.Request, flash, problem string) {
	sess := sessionOf(r)
	v, err := s.deps.Desk.UserDetail(r.Context(), sess.User)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	p := devicesPage{User: v.User, Keyed: s.cfg.RPID != "", Flash: flash, Error: problem}
	phones, err := s.deps.Desk.PhoneApps(r.Context(), sess.User)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	isPhone := map[string]bool{}
	for _, ph := range phones {
		isPhone[ph.FobSerial] = ph.FobSerial != ""
		if ph.State == inventory.PhoneActive || ph.State == inventory.PhoneLost {
			p.Phones = append(p.Phones, ph)
		}
	}
	for _, f := range v.Fobs {
		if !isPhone[f.Serial] && (f.State == string(inventory.Assigned) || f.State == string(inventory.Lost)) {
			p.Fobs = append(p.Fobs, f)
		}
	}
	if p.Keys, err = s.deps.Desk.Keys(r.Context(), sess.User); err != nil {
		s.pageError(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "devices", "My devices", p)
}

func (s *Server) portalRenameKey(w http.ResponseWriter, r *http.Request) {
	sess := sessionOf(r)
	id, err := pathID(r)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	if err := s.userDesk(sess).RenameKey(r.Context(), sess.User, id, formValue(r, "name")); err != nil {
		if errors.Is(err, verify.ErrRefused) {
			s.renderDevices(w, r, "", "The key was not renamed: "+err.Error()+".")
			return
		}
		s.pageError(w, r, err)
		return
	}
	s.redirect(w, r, "?done=renamed")
}

// lostPage asks before a device is disabled.
type lostPage struct {
	Kind, ID, Name string
}

// device names the device a lost report is about, if it is the user's.
func (s *Server) device(r *http.Request, sess inventory.Session) (lostPage, error) {
	kind, ref := r.PathValue("kind"), r.PathValue("id")
	notFound := errorf(http.StatusNotFound, "not_found", "You have no such device.")
	switch kind {
	case "fob":
		v, err := s.deps.Desk.UserDetail(r.Context(), sess.User)
		if err != nil {
			return lostPage{}, err
		}
		for _, f := range v.Fobs {
			if f.Serial == ref && f.State == string(inventory.Assigned) {
				return lostPage{Kind: kind, ID: ref, Name: "fob " + f.Serial}, nil
			}
		}
	case "key":
		keys, err := s.deps.Desk.Keys(r.Context(), sess.User)
		if err != nil {
			return lostPage{}, err
		}
		for _, k := range keys {
			if strconv.FormatInt(k.ID, 10) == ref && k.State == inventory.KeyActive {
				return lostPage{Kind: kind, ID: ref, Name: "security key “" + k.Name + "”"}, nil
			}
		}
	case "phone":
		phones, err := s.deps.Desk.PhoneApps(r.Context(), sess.User)
		if err != nil {
			return lostPage{}, err
		}
		for _, p := range phones {
			if strconv.FormatInt(p.ID, 10) == ref && p.State == inventory.PhoneActive {
				return lostPage{Kind: kind, ID: ref, Name: "phone app #" + ref}, nil
			}
		}
	}
	return lostPage{}, notFound
}

func (s *Server) portalLostConfirm(w http.ResponseWriter, r *http.Request) {
	p, err := s.device(r, sessionOf(r))
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "lost", "Report a device lost", p)
}

func (s *Server) portalLost(w http.ResponseWriter, r *http.Request) {
	sess := sessionOf(r)
	p, err := s.device(r, sess)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	d := s.userDesk(sess)
	switch p.Kind {
	case "fob":
		err = d.ReportHeldFobLost(r.Context(), sess.User, p.ID)
	case "key":
		id, _ := strconv.ParseInt(p.ID, 10, 64)
		err = d.ReportKeyLost(r.Context(), sess.User, id)
	case "phone":
		id, _ := strconv.ParseInt(p.ID, 10, 64)
		err = d.ReportPhoneLost(r.Context(), sess.User, id)
	}
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	s.redirect(w, r, "?done=lost")
}
