package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keydesk/keydesk/desk"
	"github.com/keydesk/keydesk/directory"
	"github.com/keydesk/keydesk/fob"
	"github.com/keydesk/keydesk/internal/browsertest"
	"github.com/keydesk/keydesk/internal/loadtest"
	"github.com/keydesk/keydesk/internal/testbin"
	"github.com/keydesk/keydesk/internal/testclock"
	"github.com/keydesk/keydesk/internal/teststore"
	"github.com/keydesk/keydesk/inventory"
	"github.com/keydesk/keydesk/verify"
)

// clock is the fake clock of the inventory, the verifier and the server.
type clock = testclock.Clock

func newClock() *clock { return testclock.At(time.Date(2025, 3, 14, 9, 26, 40, 0, time.UTC)) }

const radiusSecret = "radius secret shared with the vpn"

// fixture is an inventory with a server in front of it: an application
// "vpn" (API key, and RADIUS from loopback), and one administrator of
// each role.
type fixture struct {
	t      testing.TB // the test that made it
	clock  *clock
	store  *inventory.Store
	path   string // of the inventory: a file or a PostgreSQL URL
	ver    *verify.Verifier
	desk   *desk.Desk // acting as "test"
	srv    *Server
	appKey string
	tokens map[verify.Role]string
}

func newFixture(t testing.TB, cfg Config) *fixture {
	t.Helper()
	return newFixtureAt(t, cfg, teststore.Path(t, t.TempDir(), "keydesk.db"))
}

// newFixtureAt is newFixture with its inventory at path, a new file or
// an empty PostgreSQL database.
func newFixtureAt(t testing.TB, cfg Config, path string) *fixture {
	t.Helper()
	fx := &fixture{t: t, clock: newClock(), tokens: map[verify.Role]string{}, path: path}
	st, err := inventory.Open(context.Background(), fx.path,
		bytes.Repeat([]byte{7}, inventory.MasterKeySize), inventory.Options{Create: true, Now: fx.clock.Now, Sync: "NORMAL"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	fx.store = st
	fx.ver = verify.New(st, verify.DefaultPolicy)
	if cfg.Now == nil {
		cfg.Now = fx.clock.Now
	}
	if cfg.Log == nil {
		cfg.Log = quietLog(t)
	}
	deps := NewDeps(st, fx.ver)
	if cfg.Directory != nil {
		dc := *cfg.Directory
		dc.Default()
		dir, err := directory.New(dc)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { dir.Close() })
		deps.Directory = dir
	}
	if fx.srv, err = New(cfg, deps); err != nil {
		t.Fatal(err)
	}
	fx.desk = fx.srv.deps.Desk.As("test")
	_, fx.appKey, err = fx.desk.AddApplication(context.Background(), inventory.NewApplication{
		Name: "vpn", RADIUSSecret: []byte(radiusSecret), DetailedReasons: true,
		RADIUSSources: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range verify.Roles {
		if _, fx.tokens[r], err = fx.desk.AddAdmin(context.Background(), "adm-"+string(r), r); err != nil {
			t.Fatal(err)
		}
	}
	return fx
}

// quietLog keeps the server's errors in the test's log.
func quietLog(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelError}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// addUser adds a user holding a TOTP fob (the load test's, derived from
// the name), and returns the fob.
func (fx *fixture) addUser(t testing.TB, name string) fob.Token {
	t.Helper()
	tok := loadtest.Token(name)
	err := fx.store.Update(context.Background(), func(tx *inventory.Tx) error {
		u, err := tx.AddUser(inventory.User{Name: name})
		if err != nil {
			return err
		}
		return tx.AddFob(tok, 0, u.ID)
	})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// code is what a user's fob shows now, on the fake clock.
func (fx *fixture) code(name string) string {
	t := loadtest.Token(name)
	return t.Code(uint64(t.Step(fx.clock.Now())))
}

// do sends a request through the handler, without a network.
func (fx *fixture) do(t testing.TB, method, path, token string, body any) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req := httptest.NewRequest(method, path, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := httptest.NewRecorder()
	fx.srv.Handler().ServeHTTP(rec, req)
	return rec.Code, decodeAnswer(t, rec.Body.Bytes())
}

func decodeAnswer(t testing.TB, raw []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("answer is not a JSON object: %v: %q", err, raw)
	}
	return m
}

func (fx *fixture) auth(t testing.TB, user, code string) (int, map[string]any) {
	t.Helper()
	return fx.do(t, "POST", "/v1/auth", fx.appKey, map[string]string{"username": user, "passcode": code})
}

// errorCode is the code of an error answer, "" if it is not one.
func errorCode(m map[string]any) string {
	e, _ := m["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

// live is a server on loopback sockets, stopped when the test ends.
type live struct {
	url    string
	radius *net.UDPAddr
	stop   func() error
}

func (fx *fixture) serve(t testing.TB, withRADIUS bool) *live {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var pc net.PacketConn
	lv := &live{url: "http://" + ln.Addr().String()}
	if withRADIUS {
		if pc, err = net.ListenPacket("udp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		lv.radius = pc.LocalAddr().(*net.UDPAddr)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- fx.srv.Serve(ctx, ln, pc) }()
	var once sync.Once
	var serveErr error
	lv.stop = func() error {
		once.Do(func() {
			cancel()
			serveErr = <-done
			ln.Close()
			if pc != nil {
				pc.Close()
			}
		})
		return serveErr
	}
	t.Cleanup(func() { lv.stop() })
	return lv
}

// post sends a JSON request to a live server.
func post(t testing.TB, client *http.Client, url, token string, body any) (int, map[string]any, error) {
	raw, _ := json.Marshal(body)
	req, err := http.NewRequest("POST", url, bytes.NewReader(raw))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return resp.StatusCode, nil, err
	}
	return resp.StatusCode, m, nil
}

// auditCount counts the audit entries with action.
func (fx *fixture) auditCount(t testing.TB, action string) int {
	t.Helper()
	n := 0
	err := fx.store.AuditLog(context.Background(), inventory.AuditFilter{}, func(e inventory.AuditEntry) error {
		if e.Action == action {
			n++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// runFunc runs a test binary's tests, for the wrappers of TestMain.
type runFunc func() int

func (f runFunc) Run() int { return f() }

// TestMain closes the shared browser and removes the PostgreSQL cluster
// after the tests.
func TestMain(m *testing.M) {
	os.Exit(teststore.Run(runFunc(func() int { return browsertest.Run(testbin.Wrap(m)) })))
}

// authEntries counts the decisions in the authentication log.
func (fx *fixture) authEntries(t testing.TB) int {
	t.Helper()
	entries, err := fx.store.AuthLog(context.Background(), inventory.AuthFilter{Limit: inventory.MaxAuthLimit})
	if err != nil {
		t.Fatal(err)
	}
	return len(entries)
}
