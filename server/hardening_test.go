package server

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keydesk/keydesk/verify"
	"layeh.com/radius"
)

// proxyStates fills an Access-Request to the 4096 octets a packet may
// hold with Proxy-State attributes, which the answer must copy back
// (RFC 2865 §5.33).
func proxyStates(t testing.TB, r accessRequest) accessRequest {
	base := len(r.encode(t))
	for room := 4096 - base; room > 2; {
		n := min(room-2, 253)
		r.extra = append(r.extra, &radius.AVP{Type: attrProxyState, Attribute: make([]byte, n)})
		room -= 2 + n
	}
	if n := len(r.encode(t)); n < 4090 || n > 4096 {
		t.Fatalf("request of %d octets", n)
	}
	return r
}

// One authentic packet whose answer would pass 4096 octets used to panic a
// worker and take the whole process down. Now the answer keeps every
// Proxy-State, sheds the Reply-Message that does not fit, and the server
// goes on answering RADIUS and HTTP.
func TestRADIUSOversizedAnswer(t *testing.T) {
	fx := newFixture(t, Config{})
	fx.addUser(t, "alice")
	lv := fx.serve(t, true)
	conn, err := net.DialUDP("udp", nil, lv.radius)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	big := proxyStates(t, accessRequest{id: 1, user: "alice", password: "000000"})
	raw := big.encode(t)
	answer, err := exchange(conn, raw)
	if err != nil {
		t.Fatal(err)
	}
	if len(answer) > 4096 {
		t.Fatalf("answer of %d octets", len(answer))
	}
	p := checkAnswer(t, answer, raw, radiusSecret)
	if p.Code != radius.CodeAccessReject || len(attrValuesOf(p, attrProxyState)) != len(big.extra) {
		t.Fatalf("answer %v with %d Proxy-States, want a reject with %d", p.Code, len(attrValuesOf(p, attrProxyState)), len(big.extra))
	}

	resp, err := http.Get(lv.url + "/healthz")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("healthz after the oversized packet: %v %v", resp, err)
	}
	resp.Body.Close()
	ordinary := accessRequest{id: 2, user: "alice", password: fx.code("alice")}.encode(t)
	answer, err = exchange(conn, ordinary)
	if err != nil {
		t.Fatalf("an ordinary request after the oversized one: %v", err)
	}
	if p := checkAnswer(t, answer, ordinary, radiusSecret); p.Code != radius.CodeAccessAccept {
		t.Fatalf("ordinary request answered %v", p.Code)
	}
}

func attrValuesOf(p *radius.Packet, typ radius.Type) []radius.Attribute {
	var out []radius.Attribute
	for _, a := range p.Attributes {
		if a.Type == typ {
			out = append(out, a.Attribute)
		}
	}
	return out
}

// panicky is a Decider with a bug.
type panicky struct{ Decider }

func (panicky) VerifyUser(context.Context, string, string, verify.Origin) (verify.Decision, error) {
	panic("a bug in the verifier")
}

// A panic while deciding a RADIUS request or an HTTP request is
// recovered, logged and counted; the server answers the next one.
func TestPanicsAreRecovered(t *testing.T) {
	fx := newFixture(t, Config{})
	fx.addUser(t, "alice")
	deps := NewDeps(fx.store, fx.ver)
	deps.Decider = panicky{fx.ver}
	srv, err := New(Config{Now: fx.clock.Now, Log: slog.New(slog.DiscardHandler), UserRate: -1, ClientRate: -1, RADIUSWorkers: 2}, deps)
	if err != nil {
		t.Fatal(err)
	}
	fx.srv = srv
	lv := fx.serve(t, true)
	conn, err := net.DialUDP("udp", nil, lv.radius)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.Write(accessRequest{id: 1, user: "alice", password: "000000"}.encode(t))
	waitUntil(t, "the RADIUS panic is counted", func() bool {
		return testCounter(t, fx, `keydesk_panics_total{where="radius"}`) == "1"
	})
	if status, m := fx.auth(t, "alice", "000000"); status != http.StatusInternalServerError || errorCode(m) != "internal" {
		t.Errorf("HTTP request that panicked: %d %v", status, m)
	}
	if n := testCounter(t, fx, `keydesk_panics_total{where="http"}`); n != "1" {
		t.Errorf("http panics counted: %q", n)
	}
	resp, err := http.Get(lv.url + "/healthz")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("healthz after two panics: %v %v", resp, err)
	}
	resp.Body.Close()
	// Both RADIUS workers are still there after many more panics than
	// there are workers.
	for i := 2; i <= 6; i++ {
		conn.Write(accessRequest{id: byte(10 + i), user: "alice", password: "000000"}.encode(t))
		waitUntil(t, "the next packet's panic is counted", func() bool {
			return testCounter(t, fx, `keydesk_panics_total{where="radius"}`) == strconv.Itoa(i)
		})
	}
}

// Forged packets from a NAS's address cost that NAS nothing: they are
// dropped before the per-source rate limit is charged, so the NAS's own
// requests still pass.
func TestForgedPacketsDoNotSpendANASBudget(t *testing.T) {
	fx := newFixture(t, Config{ClientRate: 1, ClientBurst: 2})
	fx.addUser(t, "alice")
	lv := fx.serve(t, true)
	conn, err := net.DialUDP("udp", nil, lv.radius)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for i := range 50 {
		conn.Write(accessRequest{id: byte(i), user: "alice", password: "000000", badMA: true}.encode(t))
		conn.Write(accessRequest{id: byte(i), user: "alice", password: "000000", secret: "a guess at the secret"}.encode(t))
	}
	waitUntil(t, "the forgeries are counted apart", func() bool {
		return testCounter(t, fx, `keydesk_radius_dropped_total{reason="bad_authenticator"}`) == "100"
	})
	for i := range 2 {
		raw := accessRequest{id: byte(100 + i), user: "alice", password: "000000"}.encode(t)
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := conn.Write(raw); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 4096)
		if _, err := conn.Read(buf); err != nil {
			t.Fatalf("authentic request %d after 100 forgeries: %v", i+1, err)
		}
	}
	if n := testCounter(t, fx, `keydesk_radius_dropped_total{reason="rate_limited"}`); n != "" {
		t.Errorf("rate-limited drops: %s", n)
	}
}

// Paths that are not in their clean form are answered in the API's error
// shape, not with the mux's HTML redirect; asked over a real connection,
// as a client that does not clean its paths sends them.
func TestUncleanPaths(t *testing.T) {
	fx := newFixture(t, Config{})
	lv := fx.serve(t, false)
	host := strings.TrimPrefix(lv.url, "http://")
	for _, p := range []string{"//v1/admin/users", "/v1/admin/../admin/users", "/v1/./auth", "/v1/admin/users//alice"} {
		conn, err := net.Dial("tcp", host)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nConnection: close\r\n\r\n", p, host, fx.tokens[verify.Owner])
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		conn.Close()
		if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Content-Type") != "application/json" || !strings.Contains(string(body), `"bad_path"`) {
			t.Errorf("GET %s: %d %s %s", p, resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
	}
}

// syncBuffer is a log destination several goroutines write.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// A dropped packet is logged with where it came from and why, but a flood
// of them is not a flood of log lines.
func TestDroppedPacketsLoggedWithinBounds(t *testing.T) {
	var log syncBuffer
	fx := newFixture(t, Config{Log: slog.New(slog.NewTextHandler(&log, nil))})
	lv := fx.serve(t, true)
	conn, err := net.DialUDP("udp", nil, lv.radius)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for i := range 40 {
		conn.Write(accessRequest{id: byte(i), user: "alice", password: "000000", secret: "a guess at the secret"}.encode(t))
	}
	waitUntil(t, "the forgeries are counted", func() bool {
		return testCounter(t, fx, `keydesk_radius_dropped_total{reason="bad_authenticator"}`) == "40"
	})
	lines := strings.Count(log.String(), `msg="radius packet dropped"`)
	if lines < 1 || lines > 2*dropLogBurst { // the flood may straddle a second
		t.Errorf("%d log lines for 40 dropped packets, want 1 to %d:\n%s", lines, 2*dropLogBurst, log.String())
	}
	if !strings.Contains(log.String(), "why=bad_authenticator") || !strings.Contains(log.String(), "from=127.0.0.1:") {
		t.Errorf("the log does not say where from and why:\n%s", log.String())
	}
	if strings.Contains(log.String(), "000000") {
		t.Error("the log quotes a password")
	}
}
