package verify_test

import (
	"bytes"
	"errors"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/keydesk/keydesk/desk"
	"github.com/keydesk/keydesk/fob"
	"github.com/keydesk/keydesk/internal/teststore"
	"github.com/keydesk/keydesk/verify"
)

func issue(t *testing.T, e *env, r verify.BypassRequest) desk.IssuedBypass {
	t.Helper()
	out, err := e.desk.IssueBypass(t.Context(), r)
	if err != nil {
		t.Fatalf("issue %+v: %v", r, err)
	}
	return out
}

func TestBypassDefaults(t *testing.T) {
	e := newEnv(t)
	e.addUser(t, "ada")
	got := issue(t, e, verify.BypassRequest{User: "ada"})
	if len(got.Codes) != 1 || got.Uses != 1 || !got.ExpiresAt.Equal(start.Add(time.Hour)) {
		t.Fatalf("issued %+v, want one code, one use, for an hour", got)
	}
	code := got.Codes[0]
	if !fob.IsDigits(code, 9) {
		t.Errorf("code %q is not 9 digits", code)
	}
	d := e.passcode(t, "ada", code)
	wantAllow(t, "bypass code", d)
	if d.Method != "bypass" || d.UsesLeft != 0 || d.Reason() != "bypass code accepted (0 uses left)" {
		t.Errorf("decision %+v, reason %q", d, d.Reason())
	}
	wantDeny(t, "bypass code used twice", e.passcode(t, "ada", code), verify.ErrBypassUsedUp, "bypass code", "ada", "used up")
	log := e.auditActions(t)
	for _, want := range []string{"bypass issue user ada", "bypass code used user ada"} {
		if !slices.Contains(log, want) {
			t.Errorf("audit log %q lacks %q", log, want)
		}
	}
}

func TestBypassUsesAndExpiry(t *testing.T) {
	e := newEnv(t)
	e.addUser(t, "bob")
	three := issue(t, e, verify.BypassRequest{User: "bob", Uses: 3, TTL: 24 * time.Hour}).Codes[0]
	for left := 2; left >= 0; left-- {
		d := e.passcode(t, "bob", three)
		wantAllow(t, "use", d)
		if d.UsesLeft != left {
			t.Errorf("uses left %d, want %d", d.UsesLeft, left)
		}
	}
	wantDeny(t, "fourth use of a 3-use code", e.passcode(t, "bob", three), verify.ErrBypassUsedUp)

	short := issue(t, e, verify.BypassRequest{User: "bob", Uses: 5, TTL: 10 * time.Minute}).Codes[0]
	e.clock.Advance(10*time.Minute - time.Second)
	wantAllow(t, "a second before expiry", e.passcode(t, "bob", short))
	e.clock.Advance(time.Second)
	wantDeny(t, "at expiry", e.passcode(t, "bob", short), verify.ErrBypassExpired, "expired at")

	for _, bad := range []verify.BypassRequest{
		{User: "bob", Uses: -1},
		{User: "bob", TTL: 30 * time.Second},
		{User: "bob", Count: 101},
		{User: "nobody"},
	} {
		if _, err := e.desk.IssueBypass(t.Context(), bad); err == nil {
			t.Errorf("issued %+v", bad)
		}
	}
}

func TestBypassLimitAndRevoke(t *testing.T) {
	e := newEnv(t)
	e.addUser(t, "cy")
	batch := issue(t, e, verify.BypassRequest{User: "cy", Count: 100, Uses: 2})
	if len(batch.Codes) != 100 {
		t.Fatalf("%d codes issued", len(batch.Codes))
	}
	seen := map[string]bool{}
	for _, c := range batch.Codes {
		if seen[c] || !fob.IsDigits(c, 9) {
			t.Errorf("code %q repeated or not 9 digits", c)
		}
		seen[c] = true
	}
	_, err := e.desk.IssueBypass(t.Context(), verify.BypassRequest{User: "cy"})
	if !errors.Is(err, verify.ErrTooManyBypass) {
		t.Fatalf("101st live code: %v, want ErrTooManyBypass", err)
	}
	// Spent codes are not live: spending one (both uses) makes room.
	e.passcode(t, "cy", batch.Codes[0])
	e.passcode(t, "cy", batch.Codes[0])
	issue(t, e, verify.BypassRequest{User: "cy"})

	n, err := e.desk.RevokeBypass(t.Context(), "cy")
	if err != nil || n != 100 {
		t.Fatalf("revoked %d, %v; want 100", n, err)
	}
	wantDeny(t, "revoked code", e.passcode(t, "cy", batch.Codes[1]), verify.ErrBypassRevoked, "revoked at")
	wantDeny(t, "a code never issued", e.passcode(t, "cy", "123456789"), verify.ErrWrongCode, "not a bypass code of user cy")
	issue(t, e, verify.BypassRequest{User: "cy", Count: 100})
}

// TestBypassStoredHashed looks for issued codes in the raw database file
// and its WAL.
func TestBypassStoredHashed(t *testing.T) {
	e := newEnv(t)
	e.addUser(t, "dee")
	teststore.SQLiteOnly(t) // inventory's own tests look in PostgreSQL's rows
	codes := issue(t, e, verify.BypassRequest{User: "dee", Count: 20}).Codes
	look := func(when string) {
		for _, p := range []string{e.path, e.path + "-wal"} {
			b, err := os.ReadFile(p)
			if err != nil && !os.IsNotExist(err) {
				t.Fatal(err)
			}
			for _, c := range codes {
				if bytes.Contains(b, []byte(c)) {
					t.Errorf("%s: code %s is in %s in clear", when, c, p)
				}
			}
		}
	}
	look("open")
	e.s.Close()
	look("closed")
}

func TestBypassDisabledUser(t *testing.T) {
	e := newEnv(t)
	e.addUser(t, "eve")
	code := issue(t, e, verify.BypassRequest{User: "eve"}).Codes[0]
	if err := e.desk.SetUserDisabled(t.Context(), "eve", true); err != nil {
		t.Fatal(err)
	}
	wantDeny(t, "bypass code of a disabled user", e.passcode(t, "eve", code), verify.ErrUserDisabled)
	if _, err := e.desk.IssueBypass(t.Context(), verify.BypassRequest{User: "eve"}); err == nil {
		t.Error("issued a code to a disabled user")
	}
}

// TestBypassDrawsFromRand: codes come from the reader given, with
// leading zeros kept.
func TestBypassDrawsFromRand(t *testing.T) {
	e := newEnv(t)
	e.addUser(t, "fin")
	zeros := bytes.NewReader(make([]byte, 64))
	got, err := e.desk.WithRand(zeros).IssueBypass(t.Context(), verify.BypassRequest{User: "fin"})
	if err != nil {
		t.Fatal(err)
	}
	if got.Codes[0] != "000000000" {
		t.Errorf("code from zero randomness %q", got.Codes[0])
	}
	wantAllow(t, "000000000", e.passcode(t, "fin", "000000000"))
	if _, err := e.desk.WithRand(bytes.NewReader(nil)).IssueBypass(t.Context(), verify.BypassRequest{User: "fin"}); err == nil {
		t.Error("issued a code without randomness")
	}
}
