package server

// The admin API's routes on users, fobs and bypass codes.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/keydesk/keydesk/desk"
	"github.com/keydesk/keydesk/fob"
	"github.com/keydesk/keydesk/inventory"
	"github.com/keydesk/keydesk/verify"
)

// Listing limits: a listing is a page, not a dump of 100,000 fobs.
const (
	defaultListLimit = 1000
	maxListLimit     = 10000
)

// queryLimit reads ?limit=, defaulting and bounding it.
func queryLimit(r *http.Request, def int) (int, error) {
	v := r.URL.Query().Get("limit")
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > maxListLimit {
		return 0, errorf(http.StatusBadRequest, "bad_query", "limit must be a number from 1 to %d, not %q", maxListLimit, v)
	}
	return n, nil
}

func (s *Server) listUsers(w http.ResponseWriter, r *http.Request, _ string) error {
	prefix := r.URL.Query().Get("prefix")
	if len(prefix) > 128 {
		return errorf(http.StatusBadRequest, "bad_query", "prefix longer than 128 characters")
	}
	limit, err := queryLimit(r, defaultListLimit)
	if err != nil {
		return err
	}
	after, err := queryCursor(r, "after")
	if err != nil {
		return err
	}
	users, err := s.deps.Desk.Users(r.Context(), inventory.UserFilter{Prefix: prefix, After: after, Limit: limit})
	if err != nil {
		return err
	}
	return ok(w, http.StatusOK, page("users", users, limit, func(u inventory.User) any { return u.Name }))
}

// addUserRequest is the body of POST /v1/admin/users.
type addUserRequest struct {
	Name     string `json:"name"`
	FullName string `json:"full_name"`
	Email    string `json:"email"`
}

func (a *addUserRequest) Validate() error {
	if err := inventory.CheckUserName(a.Name); err != nil {
		return fmt.Errorf("name: %w", err)
	}
	if len(a.FullName) > 256 || len(a.Email) > 256 {
		return fmt.Errorf("full_name and email are at most 256 characters")
	}
	return nil
}

func (s *Server) addUser(w http.ResponseWriter, r *http.Request, actor string) error {
	req, err := decode[addUserRequest](w, r, maxAdminBody)
	if err != nil {
		return err
	}
	u, err := s.desk(actor).AddUser(r.Context(), inventory.User{Name: req.Name, FullName: req.FullName, Email: req.Email})
	if err != nil {
		return err
	}
	return ok(w, http.StatusCreated, u)
}

func (s *Server) showUser(w http.ResponseWriter, r *http.Request, _ string) error {
	name, err := pathName(r, "user")
	if err != nil {
		return err
	}
	v, err := s.deps.Desk.UserDetail(r.Context(), name)
	if err != nil {
		return err
	}
	return ok(w, http.StatusOK, v)
}

func (s *Server) disableUser(disabled bool) func(w http.ResponseWriter, r *http.Request, actor string) error {
	return func(w http.ResponseWriter, r *http.Request, actor string) error {
		name, err := pathName(r, "user")
		if err != nil {
			return err
		}
		reason, err := decodeReason(w, r)
		if err != nil {
			return err
		}
		if err := s.desk(actor).Because(reason).SetUserDisabled(r.Context(), name, disabled); err != nil {
			return err
		}
		return ok(w, http.StatusOK, map[string]any{"user": name, "disabled": disabled})
	}
}

// reasonRequest is the body, which may be left out, of the actions that
// keep why they were taken: a fob reported lost or revoked, a user
// disabled (and enabled, for the audit log).
type reasonRequest struct {
	Reason string `json:"reason"`
}

func (q *reasonRequest) Validate() error {
	if err := desk.CheckReason(q.Reason); err != nil {
		return fmt.Errorf("reason: %w", err)
	}
	return nil
}

// decodeReason reads a reasonRequest; an empty body gives no reason.
func decodeReason(w http.ResponseWriter, r *http.Request) (string, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxAdminBody))
	if err != nil {
		return "", errorf(http.StatusRequestEntityTooLarge, "too_large", "the body is larger than %d bytes", maxAdminBody)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return "", nil
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	req, err := decode[reasonRequest](w, r, maxAdminBody)
	return req.Reason, err
}

// retireFob is a fob reported lost or revoked, with the reason the body
// gives, if any.
func (s *Server) retireFob(change func(d *desk.Desk, ctx context.Context, serial string) error) func(w http.ResponseWriter, r *http.Request, actor string) error {
	return func(w http.ResponseWriter, r *http.Request, actor string) error {
		reason, err := decodeReason(w, r)
		if err != nil {
			return err
		}
		return s.fobAction(func(d *desk.Desk, ctx context.Context, serial string) error {
			return change(d.Because(reason), ctx, serial)
		})(w, r, actor)
	}
}

func (s *Server) unlockUser(w http.ResponseWriter, r *http.Request, actor string) error {
	name, err := pathName(r, "user")
	if err != nil {
		return err
	}
	if err := s.desk(actor).UnlockUser(r.Context(), name); err != nil {
		return err
	}
	return ok(w, http.StatusOK, map[string]any{"user": name, "unlocked": true})
}

func (s *Server) listFobs(w http.ResponseWriter, r *http.Request, _ string) error {
	q := r.URL.Query()
	limit, err := queryLimit(r, defaultListLimit)
	if err != nil {
		return err
	}
	after, err := queryCursor(r, "after")
	if err != nil {
		return err
	}
	filter := inventory.FobFilter{User: q.Get("user"), Batch: q.Get("batch"), After: after, Limit: limit}
	if len(filter.User) > 128 || len(filter.Batch) > 256 {
		return errorf(http.StatusBadRequest, "bad_query", "user or batch name too long")
	}
	if v := q.Get("state"); v != "" {
		if filter.State, err = inventory.ParseState(v); err != nil {
			return errorf(http.StatusBadRequest, "bad_query", "%v", err)
		}
	}
	fobs, err := s.deps.Desk.Fobs(r.Context(), filter)
	if err != nil {
		return err
	}
	return ok(w, http.StatusOK, page("fobs", fobs, limit, func(f desk.FobView) any { return f.Serial }))
}

// pathSerial is the {serial} path parameter, checked for shape.
func pathSerial(r *http.Request) (string, error) {
	v := r.PathValue("serial")
	if v == "" || len(v) > 128 {
		return "", errorf(http.StatusBadRequest, "bad_path", "a serial is 1 to 128 characters")
	}
	return v, nil
}

func (s *Server) showFob(w http.ResponseWriter, r *http.Request, _ string) error {
	serial, err := pathSerial(r)
	if err != nil {
		return err
	}
	f, err := s.deps.Desk.Fob(r.Context(), serial)
	if err != nil {
		return err
	}
	return ok(w, http.StatusOK, f)
}

// assignRequest is the body of POST /v1/admin/fobs/{serial}/assign.
type assignRequest struct {
	User string `json:"user"`
}

func (a *assignRequest) Validate() error {
	if err := inventory.CheckUserName(a.User); err != nil {
		return fmt.Errorf("user: %w", err)
	}
	return nil
}

// fobAction is a change of a fob's state, answered with the fob as it is
// after it.
func (s *Server) fobAction(change func(d *desk.Desk, ctx context.Context, serial string) error) func(w http.ResponseWriter, r *http.Request, actor string) error {
	return func(w http.ResponseWriter, r *http.Request, actor string) error {
		serial, err := pathSerial(r)
		if err != nil {
			return err
		}
		if err := change(s.desk(actor), r.Context(), serial); err != nil {
			return err
		}
		f, err := s.deps.Desk.Fob(r.Context(), serial)
		if err != nil {
			return err
		}
		return ok(w, http.StatusOK, f)
	}
}

// assignFob is POST /v1/admin/fobs/{serial}/assign, the one fob change
// with a body: who gets the fob.
func (s *Server) assignFob(w http.ResponseWriter, r *http.Request, actor string) error {
	req, err := decode[assignRequest](w, r, maxAdminBody)
	if err != nil {
		return err
	}
	return s.fobAction(func(d *desk.Desk, ctx context.Context, serial string) error {
		return d.AssignFob(ctx, serial, req.User)
	})(w, r, actor)
}

// resyncRequest is the body of POST /v1/admin/fobs/{serial}/resync: two
// codes the fob showed one after the other.
type resyncRequest struct {
	Code1 string `json:"code1"`
	Code2 string `json:"code2"`
}

func (a *resyncRequest) Validate() error {
	for i, c := range []string{a.Code1, a.Code2} {
		if !fob.IsDigits(c, len(c)) || len(c) < 6 || len(c) > 8 {
			return fmt.Errorf("code%d: want 6 to 8 digits", i+1)
		}
	}
	return nil
}

func (s *Server) resync(w http.ResponseWriter, r *http.Request, actor string) error {
	serial, err := pathSerial(r)
	if err != nil {
		return err
	}
	req, err := decode[resyncRequest](w, r, maxAdminBody)
	if err != nil {
		return err
	}
	res, err := s.desk(actor).Resync(r.Context(), serial, req.Code1, req.Code2)
	if err != nil {
		return err
	}
	return ok(w, http.StatusOK, res)
}

func (s *Server) listBypass(w http.ResponseWriter, r *http.Request, _ string) error {
	name, err := pathName(r, "user")
	if err != nil {
		return err
	}
	codes, err := s.deps.Desk.BypassCodes(r.Context(), name)
	if err != nil {
		return err
	}
	return ok(w, http.StatusOK, map[string]any{"user": name, "bypass_codes": codes})
}

// bypassRequest is the body of POST /v1/admin/users/{user}/bypass; zero
// fields take the policy's defaults.
type bypassRequest struct {
	Uses  int      `json:"uses"`
	TTL   Duration `json:"ttl"`
	Count int      `json:"count"`
}

// maxBypassTTL bounds a bypass code's life: it stands in for a device
// for a while, not for good.
const maxBypassTTL = 30 * 24 * time.Hour

func (b *bypassRequest) Validate() error {
	switch {
	case b.Uses < 0 || b.Uses > 1000:
		return fmt.Errorf("uses must be 1 to 1000 (or left out for the default)")
	case b.Count < 0 || b.Count > verify.DefaultPolicy.BypassMaxLive:
		return fmt.Errorf("count must be 1 to %d (or left out for 1)", verify.DefaultPolicy.BypassMaxLive)
	case b.TTL < 0 || time.Duration(b.TTL) > maxBypassTTL:
		return fmt.Errorf("ttl must be positive and at most %s", maxBypassTTL)
	}
	return nil
}

func (s *Server) issueBypass(w http.ResponseWriter, r *http.Request, actor string) error {
	name, err := pathName(r, "user")
	if err != nil {
		return err
	}
	req, err := decode[bypassRequest](w, r, maxAdminBody)
	if err != nil {
		return err
	}
	out, err := s.desk(actor).IssueBypass(r.Context(), verify.BypassRequest{
		User: name, Uses: req.Uses, TTL: time.Duration(req.TTL), Count: req.Count})
	if err != nil {
		return err
	}
	// The codes are shown this once; the answer is marked no-store.
	return ok(w, http.StatusCreated, out)
}

func (s *Server) revokeBypass(w http.ResponseWriter, r *http.Request, actor string) error {
	name, err := pathName(r, "user")
	if err != nil {
		return err
	}
	n, err := s.desk(actor).RevokeBypass(r.Context(), name)
	if err != nil {
		return err
	}
	return ok(w, http.StatusOK, map[string]any{"user": name, "revoked": n})
}
