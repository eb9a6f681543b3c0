package desk_test

import (
	"encoding/base32"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/keydesk/keydesk/fob"
	"github.com/keydesk/keydesk/inventory"
	"github.com/keydesk/keydesk/verify"
)

// phoneCode is what the phone app of seed shows at now.
func phoneCode(t *testing.T, seed string, now time.Time) string {
	t.Helper()
	secret, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(seed)
	if err != nil {
		t.Fatal(err)
	}
	tok := fob.Token{Kind: fob.TOTP, Secret: secret}
	tok.Normalize()
	return tok.Code(uint64(tok.Step(now)))
}

func TestPhoneAppPairsWithItsFirstCode(t *testing.T) {
	fx := newDesk(t)
	if _, err := fx.d.AddUser(t.Context(), inventory.User{Name: "alice"}); err != nil {
		t.Fatal(err)
	}
	seed, err := fx.d.AddPhoneApp(t.Context(), "alice", "Example University")
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(seed.URI)
	if err != nil || u.Scheme != "otpauth" || u.Host != "totp" || u.Path != "/Example University:alice" {
		t.Fatalf("URI %q", seed.URI)
	}
	q := u.Query()
	if q.Get("secret") != seed.Secret || len(seed.Secret) != 32 || q.Get("issuer") != "Example University" ||
		q.Get("algorithm") != "SHA1" || q.Get("digits") != "6" || q.Get("period") != "30" {
		t.Errorf("URI parameters %v", q)
	}
	if got := seed.GroupedSecret(); len(got) != 39 || strings.ReplaceAll(got, " ", "") != seed.Secret {
		t.Errorf("grouped %q", got)
	}
	from := verify.Origin{Transport: "test"}
	ver := verify.New(fx.s, verify.DefaultPolicy)
	// Pending, it answers nothing.
	if d, err := ver.VerifyUser(t.Context(), "alice", phoneCode(t, seed.Secret, fx.now), from); err != nil || d.Allow {
		t.Fatalf("a pending phone app answered: %+v %v", d, err)
	}
	// A wrong first code says so, and counts toward no lockout.
	for i := 0; i < 12; i++ {
		if _, err := fx.d.ActivatePhoneApp(t.Context(), "alice", seed.PhoneApp.ID, "000000"); !errors.Is(err, verify.ErrPairingCode) {
			t.Fatalf("a wrong first code: %v", err)
		}
	}
	if u, _ := fx.s.User(t.Context(), "alice"); u.FailCount != 0 || u.Locked() {
		t.Errorf("the user after wrong pairing codes: %d failures, locked %v", u.FailCount, u.Locked())
	}
	code := phoneCode(t, seed.Secret, fx.now)
	p, err := fx.d.ActivatePhoneApp(t.Context(), "alice", seed.PhoneApp.ID, code)
	if err != nil || p.State != inventory.PhoneActive || p.FobSerial != "phone-1" {
		t.Fatalf("pairing: %+v %v", p, err)
	}
	// The pairing code is spent; the next one signs in.
	if d, _ := ver.VerifyUser(t.Context(), "alice", code, from); d.Allow {
		t.Error("the pairing code signed in")
	}
	fx.now = fx.now.Add(30 * time.Second)
	if d, err := ver.VerifyUser(t.Context(), "alice", phoneCode(t, seed.Secret, fx.now), from); err != nil || !d.Allow || d.Serial != "phone-1" {
		t.Errorf("the phone app's next code: %+v %v", d, err)
	}
	if _, err := fx.d.ActivatePhoneApp(t.Context(), "alice", seed.PhoneApp.ID, code); !errors.Is(err, verify.ErrRefused) {
		t.Errorf("pairing twice: %v", err)
	}
	// Removed, its fob is revoked and stays on record.
	if err := fx.d.RemovePhoneApp(t.Context(), "alice", seed.PhoneApp.ID); err != nil {
		t.Fatal(err)
	}
	if f := fx.fob(t, "phone-1"); f.State != inventory.Revoked || f.User != "alice" {
		t.Errorf("the removed phone app's fob: %s %s", f.State, f.User)
	}
}

func TestPhoneAppPairingExpires(t *testing.T) {
	fx := newDesk(t)
	if _, err := fx.d.AddUser(t.Context(), inventory.User{Name: "alice"}); err != nil {
		t.Fatal(err)
	}
	seed, err := fx.d.AddPhoneApp(t.Context(), "alice", "Example")
	if err != nil {
		t.Fatal(err)
	}
	fx.now = fx.now.Add(verify.DefaultLinkPolicy.Pairing)
	if _, err := fx.d.ActivatePhoneApp(t.Context(), "alice", seed.PhoneApp.ID, phoneCode(t, seed.Secret, fx.now)); !errors.Is(err, verify.ErrPairingExpired) {
		t.Errorf("pairing after a day: %v", err)
	}
	if _, err := fx.d.AddPhoneApp(t.Context(), "alice", "Ex:ample"); err == nil {
		t.Error("an issuer with a colon, which the URI's label cannot hold")
	}
	if err := fx.d.SetUserDisabled(t.Context(), "alice", true); err != nil {
		t.Fatal(err)
	}
	if _, err := fx.d.AddPhoneApp(t.Context(), "alice", "Example"); !errors.Is(err, verify.ErrRefused) {
		t.Errorf("a phone app for a disabled user: %v", err)
	}
}
