package server

import (
	"context"
	"errors"
	"net/http"

	"github.com/keydesk/keydesk/desk"
	"github.com/keydesk/keydesk/inventory"
	"github.com/keydesk/keydesk/verify"
)

// route is one admin API route and the one permission of the role table
// it needs.
type route struct {
	pattern string
	perm    verify.Permission
	handle  func(w http.ResponseWriter, r *http.Request, actor string) error
}

// adminRoutes is the admin API. Reading the inventory or the log needs
// "view logs", which every role but billing has (Duo's read-only role
// sees everything, billing sees only billing). There are no routes for
// settings or billing yet.
func (s *Server) adminRoutes() []route {
	return []route{
		{"GET /v1/admin/users", verify.ViewLogs, s.listUsers},
		{"POST /v1/admin/users", verify.ModifyUsers, s.addUser},
		{"GET /v1/admin/users/{user}", verify.ViewLogs, s.showUser},
		{"POST /v1/admin/users/{user}/disable", verify.ModifyUsers, s.disableUser(true)},
		{"POST /v1/admin/users/{user}/enable", verify.ModifyUsers, s.disableUser(false)},
		// A lockout counts failed passcodes of the user's factors, and
		// clearing it is the help desk's daily work: Duo's help desk may
		// "view and update users" but not create or delete them.
		{"POST /v1/admin/users/{user}/unlock", verify.ModifyFobs, s.unlockUser},

		{"GET /v1/admin/fobs", verify.ViewLogs, s.listFobs},
		{"GET /v1/admin/fobs/{serial}", verify.ViewLogs, s.showFob},
		{"POST /v1/admin/fobs/{serial}/assign", verify.ModifyFobs, s.assignFob},
		{"POST /v1/admin/fobs/{serial}/unassign", verify.ModifyFobs, s.fobAction((*desk.Desk).UnassignFob)},
		{"POST /v1/admin/fobs/{serial}/lost", verify.ModifyFobs, s.retireFob((*desk.Desk).ReportLost)},
		{"POST /v1/admin/fobs/{serial}/revoke", verify.ModifyFobs, s.retireFob((*desk.Desk).Revoke)},
		{"POST /v1/admin/fobs/{serial}/unlock", verify.ModifyFobs, s.fobAction((*desk.Desk).UnlockFob)},
		{"POST /v1/admin/fobs/{serial}/resync", verify.ModifyFobs, s.resync},

		{"GET /v1/admin/users/{user}/bypass", verify.ViewLogs, s.listBypass},
		{"POST /v1/admin/users/{user}/bypass", verify.ModifyFobs, s.issueBypass},
		{"DELETE /v1/admin/users/{user}/bypass", verify.ModifyFobs, s.revokeBypass},

		{"GET /v1/admin/users/{user}/keys", verify.ViewLogs, s.listKeys},
		{"DELETE /v1/admin/users/{user}/keys/{key}", verify.ModifyFobs, s.removeKey},
		// A help desk console registers a key for a user in its browser.
		{"POST /v1/admin/users/{user}/keys/webauthn/begin", verify.ModifyFobs, s.keyRegistrationBegin},
		{"POST /v1/admin/users/{user}/keys/webauthn/finish", verify.ModifyFobs, s.keyRegistrationFinish},
		// A link to the portal creates no user: it lets the user add a
		// device there, as a bypass code lets them in without one.
		{"POST /v1/admin/users/{user}/invite", verify.ModifyFobs, s.invite},
		{"POST /v1/admin/users/{user}/phones/activation", verify.ModifyFobs, s.activationLink},
		// An import adds fobs to the inventory.
		{"POST /v1/admin/imports", verify.ModifyFobs, s.importSeedFile},

		{"GET /v1/admin/applications", verify.ViewLogs, s.listApps},
		{"POST /v1/admin/applications", verify.ModifyApplications, s.addApp},
		{"DELETE /v1/admin/applications/{app}", verify.ModifyApplications, s.removeApp},

		{"GET /v1/admin/admins", verify.ManageAdmins, s.listAdmins},
		{"POST /v1/admin/admins", verify.ManageAdmins, s.addAdmin},
		{"POST /v1/admin/admins/{admin}/disable", verify.ManageAdmins, s.disableAdmin},

		{"GET /v1/admin/audit", verify.ViewLogs, s.auditLog},
		{"GET /v1/admin/log", verify.ViewLogs, s.authLog},
		{"GET /v1/admin/audit/verify", verify.ViewLogs, s.verifyAudit},
		{"GET /v1/admin/reports/{name}", verify.ViewLogs, s.report},
	}
}

// admin wraps a route: the administrator is found by token, the role
// table decides, and a refusal is answered 403 and written in the audit
// log before the route's handler runs at all.
func (s *Server) admin(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, err := bearer(r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		a, err := s.deps.Callers.AdminByToken(r.Context(), token)
		switch {
		case errors.Is(err, inventory.ErrNotFound):
			s.writeError(w, r, unauthenticated("the bearer token is not an admin token"))
			return
		case err != nil:
			s.writeError(w, r, err)
			return
		case a.Disabled:
			s.writeError(w, r, unauthenticated("admin %s is disabled", a.Name))
			return
		}
		actor := "api:" + a.Name
		if err := verify.Authorize(verify.Role(a.Role), rt.perm); err != nil {
			s.refuse(w, r, actor, rt.pattern, err)
			return
		}
		r = r.WithContext(context.WithValue(r.Context(), roleKey{}, verify.Role(a.Role)))
		if err := rt.handle(w, r, actor); err != nil {
			if errors.Is(err, verify.ErrForbidden) {
				// The action reached past the route's permission (an import
				// that would add users, say): refused, audited, as above.
				s.refuse(w, r, actor, rt.pattern, err)
				return
			}
			s.writeError(w, r, err)
			return
		}
		s.log.Info("admin", "actor", actor, "route", rt.pattern, "path", r.URL.Path)
	})
}

// pathName is a path parameter checked as a name (user, admin, application).
func pathName(r *http.Request, param string) (string, error) {
	v := r.PathValue(param)
	if err := inventory.CheckName(param, v); err != nil {
		return "", errorf(http.StatusBadRequest, "bad_path", "%v", err)
	}
	return v, nil
}

// ok answers a change that has nothing more to say than that it was done.
func ok(w http.ResponseWriter, status int, v any) error {
	writeJSON(w, status, v)
	return nil
}

// roleKey carries the calling administrator's role to a route's handler,
// for the routes whose action may need a permission beyond the route's.
type roleKey struct{}

// mayAct reports whether the administrator calling r may also take an
// action that needs p.
func mayAct(r *http.Request, p verify.Permission) bool {
	role, _ := r.Context().Value(roleKey{}).(verify.Role)
	return verify.Authorize(role, p) == nil
}

// refuse answers a request the role table refuses: 403, counted, logged,
// and in the audit log (coalesced: see refusals).
func (s *Server) refuse(w http.ResponseWriter, r *http.Request, actor, route string, err error) {
	s.m.refused.Inc()
	s.refusals.note(r.Context(), actor, route, err.Error())
	s.log.Warn("refused", "actor", actor, "route", route, "why", err.Error())
	s.writeError(w, r, err)
}
