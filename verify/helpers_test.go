package verify_test

import (
	"crypto/sha256"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/keydesk/keydesk/desk"
	"github.com/keydesk/keydesk/fob"
	"github.com/keydesk/keydesk/internal/testclock"
	"github.com/keydesk/keydesk/internal/testfob"
	"github.com/keydesk/keydesk/internal/teststore"
	"github.com/keydesk/keydesk/inventory"
	"github.com/keydesk/keydesk/verify"
	_ "github.com/mattn/go-sqlite3"
)

// clock is the fake clock passed through inventory.Options.Now; tests move
// it instead of sleeping.
type clock = testclock.Clock

// start is the fake clock's first reading: 5 s into a 30 s step.
var start = time.Date(2025, 3, 14, 9, 26, 35, 0, time.UTC)

func masterKey() []byte {
	k := sha256.Sum256([]byte("keydesk verify tests"))
	return k[:]
}

// env is an inventory with a verifier and a desk on it.
type env struct {
	s     *inventory.Store
	v     *verify.Verifier
	desk  *desk.Desk
	clock *clock
	path  string
}

func newEnv(t testing.TB) *env { return newEnvPolicy(t, verify.DefaultPolicy) }

func newEnvPolicy(t testing.TB, p verify.Policy) *env {
	t.Helper()
	e := &env{clock: testclock.At(start), path: teststore.Path(t, t.TempDir(), "keydesk.db")}
	s, err := inventory.Open(t.Context(), e.path, masterKey(), inventory.Options{Create: true, Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	e.s, e.v, e.desk = s, verify.New(s, p), desk.New(s, verify.New(s, p)).As("clerk")
	return e
}

// otp is the Yubico OTP tok types at (use, session).
func otp(t testing.TB, tok fob.Token, use uint16, session uint8) string {
	t.Helper()
	s, err := fob.SealYubicoOTP(tok.Secret, tok.PublicID, fob.YubicoFields{
		PrivateID: [6]byte(tok.PrivateID), UseCounter: use, SessionUse: session, Timestamp: 0x123456, Random: 0xbeef})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// add stores fobs in stock, or assigned to user when user is not empty
// (the user is created if needed).
func (e *env) add(t testing.TB, user string, toks ...fob.Token) {
	t.Helper()
	err := e.s.Update(t.Context(), func(tx *inventory.Tx) error {
		var uid int64
		if user != "" {
			u, err := tx.User(user)
			if errors.Is(err, inventory.ErrNotFound) {
				u, err = tx.AddUser(inventory.User{Name: user})
			}
			if err != nil {
				return err
			}
			uid = u.ID
		}
		for _, tok := range toks {
			if err := tx.AddFob(tok, 0, uid); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func (e *env) addUser(t testing.TB, name string) {
	t.Helper()
	if _, err := e.desk.AddUser(t.Context(), inventory.User{Name: name}); err != nil {
		t.Fatal(err)
	}
}

func (e *env) fob(t testing.TB, serial string) inventory.Fob {
	t.Helper()
	f, err := e.s.Fob(t.Context(), serial)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func (e *env) user(t testing.TB, name string) inventory.User {
	t.Helper()
	u, err := e.s.User(t.Context(), name)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// raw is a second connection to the database, for changes no API makes.
func (e *env) raw(t testing.TB) *teststore.DB { return teststore.Raw(t, e.path) }

func (e *env) serial(t testing.TB, serial, code string) verify.Decision {
	t.Helper()
	d, err := e.v.VerifySerial(t.Context(), serial, code, verify.Origin{Transport: "test"})
	if err != nil {
		t.Fatalf("VerifySerial(%s, %q): %v", serial, code, err)
	}
	return d
}

func (e *env) passcode(t testing.TB, user, code string) verify.Decision {
	t.Helper()
	d, err := e.v.VerifyUser(t.Context(), user, code, verify.Origin{Transport: "test"})
	if err != nil {
		t.Fatalf("VerifyUser(%s, %q): %v", user, code, err)
	}
	return d
}

// auditActions lists the log's entries as "action subject".
func (e *env) auditActions(t testing.TB) []string {
	t.Helper()
	var out []string
	err := e.s.AuditLog(t.Context(), inventory.AuditFilter{}, func(a inventory.AuditEntry) error {
		out = append(out, a.Action+" "+a.Subject)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func wantAllow(t testing.TB, what string, d verify.Decision) {
	t.Helper()
	if !d.Allow || d.Denial != nil || d.ReasonCode() != "ok" {
		t.Errorf("%s: denied: %v", what, d.Denial)
	}
}

// wantDeny checks a denial wraps sentinel and its reason holds each word.
func wantDeny(t testing.TB, what string, d verify.Decision, sentinel error, words ...string) {
	t.Helper()
	if d.Allow {
		t.Errorf("%s: allowed, want %v", what, sentinel)
		return
	}
	if !errors.Is(d.Denial, sentinel) {
		t.Errorf("%s: denied with %q, want %v", what, d.Denial, sentinel)
	}
	for _, w := range words {
		if !strings.Contains(d.Reason(), w) {
			t.Errorf("%s: reason %q does not say %q", what, d.Reason(), w)
		}
	}
}

// The fobs of these tests, each with its own seed.
var (
	seed = testfob.Seed
	hotp = testfob.HOTP
	totp = testfob.TOTP
)

func yubico(serial string) fob.Token { return testfob.Yubico(serial, "") }
