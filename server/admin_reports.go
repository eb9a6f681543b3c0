package server

// The admin API's reports: the same documents as keydesk report --json,
// a page at a time.

import (
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/keydesk/keydesk/desk"
)

// report is GET /v1/admin/reports/{name}: ?days= for the unused and
// expiring reports, and for the long ones (no-factor, unused, expiring,
// bypass) a page of ?limit= rows (1000 unless told) after ?after=, the
// "next" of the page before. The stock and locked reports come whole.
func (s *Server) report(w http.ResponseWriter, r *http.Request, _ string) error {
	name := r.PathValue("name")
	if !slices.Contains(desk.Reports, name) {
		return errorf(http.StatusNotFound, "not_found", "no report %q; the reports are %s", name, strings.Join(desk.Reports, ", "))
	}
	var q desk.ReportQuery
	if v := r.URL.Query().Get("days"); v != "" {
		_, takes := desk.DefaultDays[name]
		n, err := strconv.Atoi(v)
		switch {
		case !takes:
			return errorf(http.StatusBadRequest, "bad_query", "the %s report takes no days", name)
		case err != nil || n < 1 || n > desk.MaxDays:
			return errorf(http.StatusBadRequest, "bad_query", "days must be a number from 1 to %d, not %q", desk.MaxDays, v)
		}
		q.Days = n
	}
	var err error
	if q.Limit, err = queryLimit(r, defaultListLimit); err != nil {
		return err
	}
	if q.After, err = queryCursor(r, "after"); err != nil {
		return err
	}
	rep, err := s.deps.Desk.Report(r.Context(), name, q)
	if errors.Is(err, desk.ErrCursor) {
		return errorf(http.StatusBadRequest, "bad_query", "after: %v", err)
	}
	if err != nil {
		return err
	}
	return ok(w, http.StatusOK, rep)
}
