package server

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"layeh.com/radius"

	"github.com/keydesk/keydesk/verify"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// The same passcode sent by 64 clients at once, each on its own
// connection to a real server, is allowed exactly once.
func TestSamePasscodeConcurrentHTTP(t *testing.T) {
	fx := newFixture(t, Config{UserRate: -1})
	fx.addUser(t, "alice")
	lv := fx.serve(t, false)
	code := fx.code("alice")
	const clients = 64
	results := make(chan map[string]any, clients)
	errs := make(chan error, clients)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Transport: &http.Transport{}}
			defer client.CloseIdleConnections()
			<-start
			status, m, err := post(t, client, lv.url+"/v1/auth", fx.appKey, map[string]string{"username": "alice", "passcode": code})
			if err == nil && status != 200 {
				err = &apiError{Status: status, Message: "unexpected status"}
			}
			if err != nil {
				errs <- err
				return
			}
			results <- m
		}()
	}
	close(start)
	wg.Wait()
	close(results)
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// The copies of a code accepted moments ago prove the user holds the
	// fob: they are denied as replays, and none counts toward the
	// lockout, so the user is not locked out by their own double submit.
	allowed, replays := 0, 0
	for m := range results {
		switch {
		case m["result"] == "allow":
			allowed++
		case m["reason_code"] == "replay":
			replays++
		default:
			t.Errorf("answer %v", m)
		}
	}
	if allowed != 1 || replays != clients-1 {
		t.Errorf("%d allowed, %d replays; want 1 and %d", allowed, replays, clients-1)
	}
	if u, err := fx.store.User(context.Background(), "alice"); err != nil || u.FailCount != 0 || !u.LockedAt.IsZero() {
		t.Errorf("after the copies: %+v, %v; want no failure counted", u, err)
	}
	if status, m := fx.auth(t, "alice", fx.code("alice")); status != 200 || m["result"] != "deny" || m["reason_code"] != "replay" {
		t.Errorf("one more copy: %d %v", status, m)
	}
}

// The same over RADIUS: 64 clients, each its own socket and request.
func TestSamePasscodeConcurrentRADIUS(t *testing.T) {
	fx := newFixture(t, Config{UserRate: -1})
	fx.addUser(t, "alice")
	lv := fx.serve(t, true)
	code := fx.code("alice")
	const clients = 64
	codes := make(chan radius.Code, clients)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			raw := accessRequest{id: byte(i), authFirst: byte(i), user: "alice", password: code}.encode(t)
			conn, err := net.DialUDP("udp", nil, lv.radius)
			if err != nil {
				t.Error(err)
				return
			}
			defer conn.Close()
			<-start
			answer, err := exchange(conn, raw)
			if err != nil {
				t.Error(err)
				return
			}
			codes <- checkAnswer(t, answer, raw, radiusSecret).Code
		}()
	}
	close(start)
	wg.Wait()
	close(codes)
	accepts, rejects := 0, 0
	for c := range codes {
		if c == radius.CodeAccessAccept {
			accepts++
		} else {
			rejects++
		}
	}
	if accepts != 1 || rejects != clients-1 {
		t.Errorf("%d accepts, %d rejects; want 1 and %d", accepts, rejects, clients-1)
	}
	if u, err := fx.store.User(context.Background(), "alice"); err != nil || u.FailCount != 0 || !u.LockedAt.IsZero() {
		t.Errorf("after the copies: %+v, %v; want no failure counted", u, err)
	}
}

// exchange sends raw and waits for one answer, retransmitting as a RADIUS
// client does when a datagram is lost.
func exchange(conn *net.UDPConn, raw []byte) ([]byte, error) {
	buf := make([]byte, 4096)
	var err error
	for range 5 {
		if _, err = conn.Write(raw); err != nil {
			return nil, err
		}
		conn.SetReadDeadline(time.Now().Add(2 * time.Second))
		var n int
		if n, err = conn.Read(buf); err == nil {
			return buf[:n], nil
		}
	}
	return nil, err
}

// gate is a Decider that holds every decision until released, to have
// requests in flight when the server is told to stop.
type gate struct {
	Decider
	inner   Decider
	entered chan struct{}
	release chan struct{}
}

func (g *gate) VerifyUser(ctx context.Context, user, code string, from verify.Origin) (verify.Decision, error) {
	g.entered <- struct{}{}
	<-g.release
	return g.inner.VerifyUser(ctx, user, code, from)
}

func gatedFixture(t *testing.T) (*fixture, *gate) {
	fx := newFixture(t, Config{})
	g := &gate{Decider: fx.ver, inner: fx.ver, entered: make(chan struct{}, 8), release: make(chan struct{})}
	deps := NewDeps(fx.store, fx.ver)
	deps.Decider = g
	var err error
	if fx.srv, err = New(Config{Now: fx.clock.Now, Log: quietLog(t)}, deps); err != nil {
		t.Fatal(err)
	}
	return fx, g
}

// TestGracefulShutdownHTTP: once told to stop, the server takes no new
// connection, and the request in flight still gets its answer.
func TestGracefulShutdownHTTP(t *testing.T) {
	fx, g := gatedFixture(t)
	fx.addUser(t, "alice")
	lv := fx.serve(t, false)
	answered := make(chan map[string]any, 1)
	go func() {
		_, m, err := post(t, http.DefaultClient, lv.url+"/v1/auth", fx.appKey, map[string]string{"username": "alice", "passcode": fx.code("alice")})
		if err != nil {
			t.Error(err)
		}
		answered <- m
	}()
	<-g.entered
	stopped := make(chan error, 1)
	go func() { stopped <- lv.stop() }()
	waitUntil(t, "the listener closes", func() bool {
		c, err := net.DialTimeout("tcp", strings.TrimPrefix(lv.url, "http://"), time.Second)
		if err == nil {
			c.Close()
		}
		return err != nil
	})
	select {
	case err := <-stopped:
		t.Fatalf("Serve returned (%v) with a request in flight", err)
	default:
	}
	close(g.release)
	if m := <-answered; m["result"] != "allow" {
		t.Errorf("the request in flight got %v", m)
	}
	if err := <-stopped; err != nil {
		t.Errorf("Serve: %v", err)
	}
}

func TestGracefulShutdownRADIUS(t *testing.T) {
	fx, g := gatedFixture(t)
	fx.addUser(t, "alice")
	lv := fx.serve(t, true)
	conn, err := net.DialUDP("udp", nil, lv.radius)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	raw := accessRequest{user: "alice", password: fx.code("alice")}.encode(t)
	if _, err := conn.Write(raw); err != nil {
		t.Fatal(err)
	}
	<-g.entered
	stopped := make(chan error, 1)
	go func() { stopped <- lv.stop() }()
	close(g.release)
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 4096)
	n, err := conn.Read(buf)
	if err != nil {
		t.Fatalf("the request in flight got no answer: %v", err)
	}
	if p := checkAnswer(t, buf[:n], raw, radiusSecret); p.Code != radius.CodeAccessAccept {
		t.Errorf("answer %v", p.Code)
	}
	if err := <-stopped; err != nil {
		t.Errorf("Serve: %v", err)
	}
}

// waitUntil polls cond: it waits for the server to do something, never
// for time to pass.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestTLS(t *testing.T) {
	dir := t.TempDir()
	pool := selfSigned(t, dir)
	fx := newFixture(t, Config{TLSCert: filepath.Join(dir, "cert.pem"), TLSKey: filepath.Join(dir, "key.pem")})
	lv := fx.serve(t, false)
	addr := strings.TrimPrefix(lv.url, "http://")
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := client.Get("https://" + addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.TLS == nil {
		t.Errorf("%d, TLS %v", resp.StatusCode, resp.TLS != nil)
	}
	// Plain HTTP is not answered as the API.
	resp, err = http.Get("http://" + addr + "/healthz")
	if err == nil {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Errorf("plain HTTP to the TLS port: %d %s", resp.StatusCode, body)
		}
	}
	if _, err := New(Config{TLSCert: filepath.Join(dir, "cert.pem"), TLSKey: filepath.Join(dir, "missing.pem")}, NewDeps(fx.store, fx.ver)); err == nil {
		t.Error("a missing key file was accepted")
	}
}

func selfSigned(t *testing.T, dir string) *x509.CertPool {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "keydesk test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "cert.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(filepath.Join(dir, "key.pem"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return pool
}

func TestMetrics(t *testing.T) {
	fx := newFixture(t, Config{UserRate: -1})
	fx.addUser(t, "alice")
	fx.auth(t, "alice", fx.code("alice"))
	for range 10 {
		fx.auth(t, "alice", "000000")
	}
	rs := fx.radius(t)
	rs.handle(context.Background(), accessRequest{user: "alice", password: "000000"}.encode(t), loopback)
	req, _ := http.NewRequest("GET", "/metrics", nil)
	rec := httptest.NewRecorder()
	fx.srv.Handler().ServeHTTP(rec, req)
	body := rec.Body.String()
	for _, want := range []string{
		`keydesk_decisions_total{reason="ok",result="allow",transport="http"} 1`,
		`keydesk_decisions_total{reason="wrong_code",result="deny",transport="http"} 10`,
		`keydesk_decisions_total{reason="user_locked",result="deny",transport="radius"} 1`,
		`keydesk_decision_duration_seconds_count{transport="http"} 11`,
		`keydesk_http_requests_total{code="200",route="POST /v1/auth"} 11`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// The lockout metric counts the decision that locked the user, which the
// verifier tells only in its words; this fails if they change.
func TestLockoutMetric(t *testing.T) {
	fx := newFixture(t, Config{UserRate: -1})
	fx.addUser(t, "alice")
	for range 12 {
		fx.auth(t, "alice", "000000")
	}
	if n := testCounter(t, fx, "keydesk_lockouts_total"); n != "1" {
		t.Errorf("keydesk_lockouts_total = %s, want 1", n)
	}
}

// testCounter reads a metric from the server's registry, past the HTTP
// rate limits a test may have set low.
func testCounter(t *testing.T, fx *fixture, name string) string {
	req, _ := http.NewRequest("GET", "/metrics", nil)
	rec := httptest.NewRecorder()
	promhttp.HandlerFor(fx.srv.m.reg, promhttp.HandlerOpts{}).ServeHTTP(rec, req)
	for _, line := range strings.Split(rec.Body.String(), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			return v
		}
	}
	return ""
}

// Packets from a source over its rate are dropped by the socket loop.
func TestRADIUSClientRateLimit(t *testing.T) {
	fx := newFixture(t, Config{ClientRate: 1, ClientBurst: 2})
	fx.addUser(t, "alice")
	lv := fx.serve(t, true)
	conn, err := net.DialUDP("udp", nil, lv.radius)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for i := range 3 {
		if _, err := conn.Write(accessRequest{id: byte(i), user: "alice", password: "000000"}.encode(t)); err != nil {
			t.Fatal(err)
		}
	}
	waitUntil(t, "a packet is dropped for the client's rate", func() bool {
		return testCounter(t, fx, `keydesk_radius_dropped_total{reason="rate_limited"}`) == "1"
	})
	answered := 0
	buf := make([]byte, 4096)
	for answered < 2 {
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := conn.Read(buf); err != nil {
			t.Fatalf("after %d answers: %v", answered, err)
		}
		answered++
	}
}
