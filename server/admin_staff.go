package server

// The admin API's routes on applications, administrators and the audit log.

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"

	"github.com/keydesk/keydesk/inventory"
	"github.com/keydesk/keydesk/verify"
)

func (s *Server) listApps(w http.ResponseWriter, r *http.Request, _ string) error {
	apps, err := s.deps.Desk.Applications(r.Context())
	if err != nil {
		return err
	}
	return ok(w, http.StatusOK, map[string]any{"applications": apps})
}

// addAppRequest is the body of POST /v1/admin/applications. The RADIUS
// secret travels in the body once, to be sealed; use TLS.
type addAppRequest struct {
	Name          string   `json:"name"`
	RADIUSSecret  string   `json:"radius_secret"`
	RADIUSSources []string `json:"radius_sources"`
	// RADIUSMode is otp (the default), password+otp or challenge, as
	// keydesk app add --radius-mode.
	RADIUSMode string `json:"radius_mode"`
	// DetailedReasons lets the application hear why a login was denied.
	DetailedReasons bool `json:"detailed_reasons"`

	app inventory.NewApplication
}

func (a *addAppRequest) Validate() error {
	a.app = inventory.NewApplication{Name: a.Name, DetailedReasons: a.DetailedReasons}
	if a.RADIUSMode != "" {
		mode, err := inventory.ParseRADIUSMode(a.RADIUSMode)
		if err != nil {
			return fmt.Errorf("radius_mode: %w", err)
		}
		if a.RADIUSSecret == "" {
			return fmt.Errorf("radius_mode is for RADIUS clients: give radius_secret too")
		}
		a.app.RADIUSMode = mode
	}
	if a.RADIUSSecret != "" {
		a.app.RADIUSSecret = []byte(a.RADIUSSecret)
	}
	for i, src := range a.RADIUSSources {
		p, err := ParseSource(src)
		if err != nil {
			return fmt.Errorf("radius_sources[%d]: %w", i, err)
		}
		a.app.RADIUSSources = append(a.app.RADIUSSources, p)
	}
	return a.app.Check()
}

// ParseSource reads a RADIUS source: an address ("192.0.2.7") or a prefix
// ("192.0.2.0/24").
func ParseSource(s string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is neither an address nor a prefix such as 192.0.2.0/24", s)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// appAdded is the answer to adding an application: the key is shown once.
type appAdded struct {
	Application inventory.Application `json:"application"`
	Key         string                `json:"key"`
}

func (s *Server) addApp(w http.ResponseWriter, r *http.Request, actor string) error {
	req, err := decode[addAppRequest](w, r, maxAdminBody)
	if err != nil {
		return err
	}
	a, key, err := s.desk(actor).AddApplication(r.Context(), req.app)
	if err != nil {
		return err
	}
	s.radius.clear()
	return ok(w, http.StatusCreated, appAdded{a, key})
}

func (s *Server) removeApp(w http.ResponseWriter, r *http.Request, actor string) error {
	name, err := pathName(r, "app")
	if err != nil {
		return err
	}
	if err := s.desk(actor).RemoveApplication(r.Context(), name); err != nil {
		return err
	}
	// Its key and secret stop working now, not when the caches expire.
	s.apps.clear()
	s.radius.clear()
	return ok(w, http.StatusOK, map[string]any{"application": name, "removed": true})
}

func (s *Server) listAdmins(w http.ResponseWriter, r *http.Request, _ string) error {
	admins, err := s.deps.Desk.Admins(r.Context())
	if err != nil {
		return err
	}
	return ok(w, http.StatusOK, map[string]any{"admins": admins})
}

// addAdminRequest is the body of POST /v1/admin/admins.
type addAdminRequest struct {
	Name string `json:"name"`
	Role string `json:"role"`

	role verify.Role
}

func (a *addAdminRequest) Validate() error {
	if err := inventory.CheckName("admin", a.Name); err != nil {
		return fmt.Errorf("name: %w", err)
	}
	var err error
	if a.role, err = verify.ParseRole(a.Role); err != nil {
		return fmt.Errorf("role: %w", err)
	}
	return nil
}

// adminAdded is the answer to adding an administrator: the token is
// shown once.
type adminAdded struct {
	Admin inventory.Admin `json:"admin"`
	Token string          `json:"token"`
}

func (s *Server) addAdmin(w http.ResponseWriter, r *http.Request, actor string) error {
	req, err := decode[addAdminRequest](w, r, maxAdminBody)
	if err != nil {
		return err
	}
	a, token, err := s.desk(actor).AddAdmin(r.Context(), req.Name, req.role)
	if err != nil {
		return err
	}
	return ok(w, http.StatusCreated, adminAdded{a, token})
}

func (s *Server) disableAdmin(w http.ResponseWriter, r *http.Request, actor string) error {
	name, err := pathName(r, "admin")
	if err != nil {
		return err
	}
	if err := s.desk(actor).DisableAdmin(r.Context(), name); err != nil {
		return err
	}
	return ok(w, http.StatusOK, map[string]any{"admin": name, "disabled": true})
}

func (s *Server) auditLog(w http.ResponseWriter, r *http.Request, _ string) error {
	limit, err := queryLimit(r, 100)
	if err != nil {
		return err
	}
	before, err := queryID(r, "before")
	if err != nil {
		return err
	}
	since, err := s.querySince(r)
	if err != nil {
		return err
	}
	f := inventory.AuditFilter{Before: before, Since: since, Limit: limit}
	q := r.URL.Query()
	for param, kind := range map[string]string{"user": "user ", "fob": "fob "} {
		if v := q.Get(param); v != "" {
			if len(v) > 128 {
				return errorf(http.StatusBadRequest, "bad_query", "%s longer than 128 characters", param)
			}
			f.Subjects = append(f.Subjects, kind+v)
		}
	}
	entries, err := s.deps.Desk.AuditLog(r.Context(), f)
	if err != nil {
		return err
	}
	// Oldest first within the page; the next page holds older entries.
	out := map[string]any{"entries": entries}
	if len(entries) == limit {
		out["next"] = entries[0].ID
	}
	return ok(w, http.StatusOK, out)
}

// authLog is GET /v1/admin/log: the authentication log, newest first,
// filtered as keydesk log is.
func (s *Server) authLog(w http.ResponseWriter, r *http.Request, _ string) error {
	limit, err := queryLimit(r, inventory.DefaultAuthLimit)
	if err != nil {
		return err
	}
	before, err := queryID(r, "before")
	if err != nil {
		return err
	}
	since, err := s.querySince(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	f := inventory.AuthFilter{User: q.Get("user"), App: q.Get("app"), Result: q.Get("result"), Since: since, Before: before, Limit: limit}
	if len(f.User) > 128 || len(f.App) > 128 {
		return errorf(http.StatusBadRequest, "bad_query", "user or app longer than 128 characters")
	}
	if f.Result != "" && f.Result != "allow" && f.Result != "deny" {
		return errorf(http.StatusBadRequest, "bad_query", "result must be allow or deny, not %q", f.Result)
	}
	entries, err := s.deps.Desk.AuthLog(r.Context(), f)
	if err != nil {
		return err
	}
	return ok(w, http.StatusOK, page("entries", entries, limit, func(e inventory.AuthEntry) any { return e.ID }))
}

// auditVerdict is the answer of GET /v1/admin/audit/verify: a broken
// chain is a finding, not a failure of the request.
type auditVerdict struct {
	Verified bool   `json:"verified"`
	Entries  int64  `json:"entries,omitempty"`
	HeadMAC  string `json:"head_mac,omitempty"`
	BadEntry int64  `json:"bad_entry,omitempty"`
	Problem  string `json:"problem,omitempty"`
	// HeadFile is where the head is kept outside the database, and
	// Warning what a clerk should know about it.
	HeadFile string `json:"head_file,omitempty"`
	Warning  string `json:"warning,omitempty"`
}

func (s *Server) verifyAudit(w http.ResponseWriter, r *http.Request, _ string) error {
	sum, err := s.deps.Desk.VerifyAudit(r.Context())
	var bad *inventory.AuditError
	if errors.As(err, &bad) {
		return ok(w, http.StatusOK, auditVerdict{BadEntry: bad.ID, Problem: bad.Error()})
	}
	if err != nil {
		return err
	}
	return ok(w, http.StatusOK, auditVerdict{Verified: true, Entries: sum.Entries, HeadMAC: sum.HeadMAC, HeadFile: sum.HeadFile, Warning: sum.Warning})
}
