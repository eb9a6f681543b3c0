package server

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/keydesk/keydesk/verify"
)

// metrics are what /metrics shows. Each server has its own registry, so
// that tests can start several and read each one's counts.
type metrics struct {
	reg       *prometheus.Registry
	decisions *prometheus.CounterVec
	latency   *prometheus.HistogramVec
	lockouts  prometheus.Counter
	limited   *prometheus.CounterVec
	dropped   *prometheus.CounterVec
	requests  *prometheus.CounterVec
	refused   prometheus.Counter
	panics    *prometheus.CounterVec
	directory *prometheus.HistogramVec

	imports      *prometheus.CounterVec
	importedFobs prometheus.Counter
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keydesk_decisions_total",
			Help: "Passcode decisions, by transport (http, radius), result (allow, deny) and reason code.",
		}, []string{"transport", "result", "reason"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "keydesk_decision_duration_seconds",
			Help:    "Time from a request's arrival to its decision being committed, by transport.",
			Buckets: prometheus.ExponentialBuckets(0.00025, 2, 14), // 0.25 ms to 2 s
		}, []string{"transport"}),
		lockouts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "keydesk_lockouts_total",
			Help: "Users locked by a decision of this server after too many failed passcodes.",
		}),
		limited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keydesk_rate_limited_total",
			Help: "Requests refused by a rate limit, by transport and scope (user, client).",
		}, []string{"transport", "scope"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keydesk_radius_dropped_total",
			Help: "RADIUS packets dropped without an answer, by reason.",
		}, []string{"reason"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keydesk_http_requests_total",
			Help: "HTTP requests, by route and status code.",
		}, []string{"route", "code"}),
		refused: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "keydesk_admin_refused_total",
			Help: "Admin API requests refused because the administrator's role may not act.",
		}),
		panics: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keydesk_panics_total",
			Help: "Panics recovered, by where (http, radius, background): each one is a bug, logged with its stack; the server went on.",
		}, []string{"where"}),
		directory: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "keydesk_directory_duration_seconds",
			Help:    "Time the directory took to check a password (RADIUS password+otp and challenge), by result (ok, refused, unavailable).",
			Buckets: prometheus.ExponentialBuckets(0.00025, 2, 16), // 0.25 ms to 8 s
		}, []string{"result"}),
		imports: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keydesk_imports_total",
			Help: "Seed files uploaded to the admin API, by result (imported, dry_run, refused, busy: another import was running).",
		}, []string{"result"}),
		importedFobs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "keydesk_imported_fobs_total",
			Help: "Fobs stored by seed files uploaded to the admin API.",
		}),
	}
	m.reg.MustRegister(m.decisions, m.latency, m.lockouts, m.limited, m.dropped, m.requests, m.refused, m.panics, m.directory, m.imports, m.importedFobs,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// decided counts one decision and logs it: one line at info with the
// user, the application, the transport and the reason, never what was
// typed. The authentication log in the inventory has it too.
func (s *Server) decided(from verify.Origin, user string, d verify.Decision, took time.Duration) {
	s.m.decided(from.Transport, d, took)
	result := "deny"
	if d.Allow {
		result = "allow"
	}
	s.log.Info("decision", "user", user, "app", from.App, "transport", from.Transport, "source", from.Source,
		"result", result, "reason_code", d.ReasonCode(), "factor", d.Factor(), "took", took.Round(time.Microsecond))
	s.log.Debug("decision reason", "user", user, "reason", d.Reason())
}

// decided counts one decision and how long it took.
func (m *metrics) decided(transport string, d verify.Decision, took time.Duration) {
	result := "deny"
	if d.Allow {
		result = "allow"
	}
	m.decisions.WithLabelValues(transport, result, d.ReasonCode()).Inc()
	m.latency.WithLabelValues(transport).Observe(took.Seconds())
	if d.LockedNow {
		m.lockouts.Inc()
	}
}
