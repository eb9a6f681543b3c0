package server

// The self-service portal's machinery: its routes, pages, sessions in
// cookies, CSRF tokens and security headers. The pages' handlers are in
// portal_pages.go and portal_keys.go.

import (
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"strings"

	"github.com/keydesk/keydesk/desk"
	"github.com/keydesk/keydesk/inventory"
	"github.com/keydesk/keydesk/verify"
)

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static
var staticFiles embed.FS

// portalPolicy is the portal's Content-Security-Policy: nothing inline,
// nothing from elsewhere, no framing; images may be data: URIs.
const portalPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// cookieName is the portal's session cookie.
const cookieName = "keydesk_session"

// web is what the browser side of the server holds: the portal's pages
// and the policy keys registered through a browser are held to.
type web struct {
	pages        map[string]*template.Template
	registration verify.RegistrationPolicy
	base         string // the portal's path, from portal_url: "/portal/"
	secure       bool   // cookies are Secure: the portal is on https
}

// newWeb reads the templates and the registration policy's files.
func (s *Server) newWeb() (*web, error) {
	w := &web{base: "/portal/"}
	var err error
	if w.registration, err = s.cfg.registrationPolicy(); err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	if u, err := url.Parse(s.cfg.PortalURL); err == nil && s.cfg.PortalURL != "" {
		w.base, w.secure = u.Path, u.Scheme == "https"
	}
	if w.pages, err = parsePages(); err != nil {
		return nil, err
	}
	return w, nil
}

func parsePages() (map[string]*template.Template, error) {
	names, err := fs.Glob(templateFiles, "templates/*.html")
	if err != nil {
		return nil, err
	}
	pages := map[string]*template.Template{}
	for _, n := range names {
		name := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if name == "layout" {
			continue
		}
		t, err := template.New("layout.html").Funcs(pageFuncs).ParseFS(templateFiles, "templates/layout.html", n)
		if err != nil {
			return nil, fmt.Errorf("server: template %s: %w", n, err)
		}
		pages[name] = t
	}
	return pages, nil
}

// browserRoutes are the routes of keys in the browser (for
// applications) and, when it is on, the portal's.
func (s *Server) browserRoutes(handle func(string, http.Handler)) {
	handle("POST /v1/preauth", http.HandlerFunc(s.preauth))
	handle("POST /v1/auth/webauthn/begin", http.HandlerFunc(s.webauthnBegin))
	handle("POST /v1/auth/webauthn/finish", http.HandlerFunc(s.webauthnFinish))
	if !s.cfg.Portal {
		return
	}
	static, _ := fs.Sub(staticFiles, "static")
	files := http.StripPrefix("/portal/static/", http.FileServerFS(static))
	handle("GET /portal/static/", s.portal(files.ServeHTTP, anyone))
	for _, p := range s.portalPages() {
		handle(p.pattern, s.portal(p.handle, p.may))
	}
}

// portalRoute is one route of the portal, with the sessions that may use it.
type portalRoute struct {
	pattern string
	may     func(inventory.Session) bool
	handle  func(w http.ResponseWriter, r *http.Request)
}

// Who may use a page: anyone (a visitor session is made for forms),
// a signed-in user, or one who may add a device (signed in, or holding a
// live enrolment or activation link).
func anyone(inventory.Session) bool { return true }

func signedIn(s inventory.Session) bool { return s.Kind == inventory.SignedIn }

func mayAddDevice(s inventory.Session) bool {
	return s.Kind == inventory.SignedIn || s.Kind == inventory.Enrolling || s.Kind == inventory.Activating
}

func mayAddKey(s inventory.Session) bool {
	return s.Kind == inventory.SignedIn || s.Kind == inventory.Enrolling
}

// portal wraps a page: security headers, the session the cookie names
// (or a new visitor session), a check of who may use the page, and of
// the CSRF token on every POST.
func (s *Server) portal(h http.HandlerFunc, may func(inventory.Session) bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", portalPolicy)
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("X-Content-Type-Options", "nosniff")
		// Links carry their token in the path: no page tells another site
		// where it was.
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("Cache-Control", "no-store")
		if strings.HasPrefix(r.URL.Path, "/portal/static/") {
			hd.Set("Cache-Control", "public, max-age=3600")
			h(w, r)
			return
		}
		sess, err := s.portalSession(w, r)
		if err != nil {
			s.pageError(w, r, err)
			return
		}
		r = r.WithContext(withSession(r.Context(), sess))
		if r.Method == http.MethodPost && !desk.CheckCSRF(sess, csrfOf(r)) {
			s.m.refused.Inc()
			s.pageError(w, r, errCSRF)
			return
		}
		if !may(sess) {
			s.pageError(w, r, errSignIn)
			return
		}
		h(w, r)
	})
}

// Errors pages answer with their own status and words.
var (
	errCSRF   = &apiError{Status: http.StatusForbidden, Code: "csrf", Message: "This form is out of date or did not come from this site. Go back, reload the page and try again."}
	errSignIn = &apiError{Status: http.StatusForbidden, Code: "sign_in", Message: "Sign in first: adding or changing a device needs a device you already have, or a bypass code."}
)

// csrfOf is the CSRF token a request carries: the form's field, or the
// header the portal's script sends.
func csrfOf(r *http.Request) []byte {
	v := r.Header.Get("X-CSRF-Token")
	if v == "" && strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		r.Body = http.MaxBytesReader(nil, r.Body, 16<<10)
		v = r.PostFormValue("csrf")
	}
	b, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil {
		return nil
	}
	return b
}

// portalSession is the live session the cookie names, or a new visitor
// session with its cookie set.
func (s *Server) portalSession(w http.ResponseWriter, r *http.Request) (inventory.Session, error) {
	if c, err := r.Cookie(cookieName); err == nil {
		sess, err := s.deps.Desk.Session(r.Context(), s.cfg.sessions(), c.Value)
		if err == nil {
			return sess, nil
		}
		if !errors.Is(err, desk.ErrNoSession) {
			return inventory.Session{}, err
		}
	}
	ns, err := s.deps.Desk.StartVisit(r.Context(), s.cfg.sessions())
	if err != nil {
		return inventory.Session{}, err
	}
	s.setCookie(w, ns)
	return ns.Session, nil
}

// setCookie hands the browser a session: HttpOnly, SameSite=Strict,
// Secure unless the portal is on http://localhost, for the portal's path
// only, and no longer than the session can last.
func (s *Server) setCookie(w http.ResponseWriter, ns desk.NewSession) {
	http.SetCookie(w, &http.Cookie{
		Name: cookieName, Value: ns.ID, Path: s.web.base, MaxAge: int(ns.Session.EndsAt.Sub(s.now()).Seconds()),
		HttpOnly: true, Secure: s.web.secure, SameSite: http.SameSiteStrictMode,
	})
}

func (s *Server) clearCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: s.web.base, MaxAge: -1,
		HttpOnly: true, Secure: s.web.secure, SameSite: http.SameSiteStrictMode})
}

// pageData is what every page's template gets.
type pageData struct {
	Title   string
	Base    string // the portal's path
	CSRF    string
	Session inventory.Session
	Site    string // the institution's name
	Flash   string
	Error   string
	Page    any // the page's own data
}

// render answers a page.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name, title string, data any) {
	sess := sessionOf(r)
	d := pageData{Title: title, Base: s.web.base, CSRF: base64.RawURLEncoding.EncodeToString(sess.CSRF), Session: sess,
		Site: s.cfg.RPName, Page: data}
	if f, ok := data.(interface{ flash() (string, string) }); ok {
		d.Flash, d.Error = f.flash()
	}
	t := s.web.pages[name]
	if t == nil {
		panic("server: no portal page " + name)
	}
	var b strings.Builder
	if err := t.Execute(&b, d); err != nil {
		s.log.Error("portal page failed", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write([]byte(b.String()))
}

// message is a page that says one thing and links on.
type message struct {
	Heading, Text  string
	Link, LinkText string
	Kind           string // "ok", "warn" or "error", for the page's colour
}

// pageError answers an error as a page: the error shape's words, for a
// person.
func (s *Server) pageError(w http.ResponseWriter, r *http.Request, err error) {
	e := classify(err)
	if e.Status >= 500 {
		s.log.Error("portal request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	heading := map[int]string{http.StatusForbidden: "Not allowed", http.StatusNotFound: "Not found",
		http.StatusTooManyRequests: "Too many attempts", http.StatusConflict: "That did not work"}[e.Status]
	if heading == "" {
		heading = "Something went wrong"
	}
	msg := message{Heading: heading, Text: e.Message, Link: s.web.base, LinkText: "Back to the start", Kind: "error"}
	if r.Header.Get("Accept") == "application/json" || r.Header.Get("Content-Type") == "application/json" {
		s.writeError(w, r, err)
		return
	}
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", fmt.Sprint(int(e.RetryAfter.Seconds())+1))
	}
	s.render(w, r, e.Status, "message", heading, msg)
}
