package server

import (
	"net/http"
	"strconv"
	"time"
)

// Paging: every listing answers one page, and names where the next one
// starts ("next") when there may be more. A client asks for the next page
// with ?after= (names and serials) or ?before= (log entries, newest
// first), and for a size with ?limit=.

// queryCursor reads ?param= as a name or serial cursor.
func queryCursor(r *http.Request, param string) (string, error) {
	v := r.URL.Query().Get(param)
	if len(v) > 256 {
		return "", errorf(http.StatusBadRequest, "bad_query", "%s longer than 256 characters", param)
	}
	return v, nil
}

// queryID reads ?param= as an entry number cursor.
func queryID(r *http.Request, param string) (int64, error) {
	v := r.URL.Query().Get(param)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 1 {
		return 0, errorf(http.StatusBadRequest, "bad_query", "%s must be an entry number, not %q", param, v)
	}
	return n, nil
}

// querySince reads ?since= as an RFC 3339 time or a duration back from
// now ("24h", "7d").
func (s *Server) querySince(r *http.Request) (time.Time, error) {
	v := r.URL.Query().Get("since")
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	if d, err := parseDays(v); err == nil {
		return s.now().Add(-d), nil
	}
	return time.Time{}, errorf(http.StatusBadRequest, "bad_query", "since must be an RFC 3339 time or a duration such as 24h or 7d, not %q", v)
}

// parseDays is a duration with days: "7d", "36h", "1d12h".
func parseDays(v string) (time.Duration, error) {
	var days time.Duration
	for i := 0; i < len(v); i++ {
		if v[i] == 'd' {
			n, err := strconv.ParseUint(v[:i], 10, 16)
			if err != nil {
				return 0, err
			}
			days, v = time.Duration(n)*24*time.Hour, v[i+1:]
			break
		}
	}
	if v == "" {
		return days, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, errorf(http.StatusBadRequest, "bad_query", "bad duration")
	}
	return days + d, nil
}

// page is one page of a listing under name, with the cursor of the next
// page when the page is full.
func page[T any](name string, items []T, limit int, cursor func(T) any) map[string]any {
	out := map[string]any{name: items}
	if limit > 0 && len(items) == limit {
		out["next"] = cursor(items[len(items)-1])
	}
	return out
}
