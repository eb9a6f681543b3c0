package desk_test

import (
	"bytes"
	"context"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keydesk/keydesk/desk"
	"github.com/keydesk/keydesk/hid"
	"github.com/keydesk/keydesk/hid/softkey"
	"github.com/keydesk/keydesk/inventory"
	"github.com/keydesk/keydesk/u2f"
	"github.com/keydesk/keydesk/verify"
)

// The relying party of these tests, as a university would name it.
const rpID = "example.edu"

var rules = desk.KeyRules{RPID: rpID}

func newSoftKey(t *testing.T, cfg softkey.Config) *softkey.Key {
	t.Helper()
	if cfg.TouchDelay == 0 {
		cfg.TouchDelay = time.Millisecond
	}
	k, err := softkey.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func stateFile(t *testing.T) string { return filepath.Join(t.TempDir(), "sk.state") }

// plugIn connects a soft key to a CTAPHID client over the in-memory pipe.
func plugIn(t *testing.T, k *softkey.Key) *hid.Client {
	t.Helper()
	host, dev := hid.PipeT(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { k.Serve(ctx, dev); close(done) }()
	c, err := hid.Open(ctx, host, hid.Options{PollInterval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(); cancel(); host.Close(); <-done })
	return c
}

// device is the desk's view of a client: the protocols its key announced,
// and the PIN to give when the key wants one.
func device(c *hid.Client, pin string) desk.Device {
	d := desk.Device{PIN: func() (string, error) { return pin, nil }}
	if c.Info().U2F() {
		d.U2F = c
	}
	if c.Info().CTAP2() {
		d.CTAP2 = c
	}
	return d
}

func (fx *fixture) users(t *testing.T, names ...string) {
	t.Helper()
	for _, name := range names {
		if _, err := fx.d.AddUser(t.Context(), inventory.User{Name: name, FullName: strings.ToUpper(name)}); err != nil {
			t.Fatal(err)
		}
	}
}

func (fx *fixture) register(t *testing.T, dev desk.Device, user string, r desk.KeyRules) desk.KeyRegistration {
	t.Helper()
	reg, err := fx.d.RegisterKey(t.Context(), dev, desk.KeyRequest{User: user}, r)
	if err != nil {
		t.Fatalf("registering a key to %s: %v", user, err)
	}
	return reg
}

func (fx *fixture) keyTest(t *testing.T, dev desk.Device, user string, r desk.KeyRules) verify.Decision {
	t.Helper()
	d, err := fx.d.TestKey(t.Context(), dev, user, r, verify.Origin{Transport: "test"})
	if err != nil {
		t.Fatalf("key test of %s: %v", user, err)
	}
	return d
}

func (fx *fixture) lastAudit(t *testing.T) inventory.AuditEntry {
	t.Helper()
	e := fx.audit(t)
	return e[len(e)-1]
}

func (fx *fixture) user(t *testing.T, name string) inventory.User {
	t.Helper()
	u, err := fx.s.User(t.Context(), name)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// A key that speaks CTAP2 becomes a WebAuthn credential of the relying
// party: packed attestation by the soft key's own certificate, a COSE
// key, the user's user handle; a second registration of the same key is
// refused by the key itself (excludeList), naming the holder.
func TestRegisterCTAP2(t *testing.T) {
	fx := newDesk(t)
	fx.users(t, "alice", "bob")
	sk := newSoftKey(t, softkey.Config{StatePath: stateFile(t)})
	dev := device(plugIn(t, sk), "")

	reg, err := fx.d.RegisterKey(t.Context(), dev, desk.KeyRequest{User: "alice", Name: "desk key"}, rules)
	if err != nil {
		t.Fatal(err)
	}
	k := reg.Key
	if k.Kind != inventory.KeyCTAP2 || k.RPID != rpID || k.AppID != "" || k.Name != "desk key" || k.Algorithm != int64(u2f.ES256) ||
		k.AAGUID != softkey.AAGUID.String() || k.AttestationFormat != "packed" || !bytes.Equal(k.Certificate, sk.PackedCertificate()) ||
		k.Resident || k.UserVerified || len(k.PublicKey) != 0 || k.Counter != sk.Counter() {
		t.Errorf("registered %+v", k)
	}
	if _, err := u2f.ParseCOSEKey(k.COSEKey); err != nil {
		t.Errorf("stored COSE key: %v", err)
	}
	if reg.Attestation.Result != "untrusted" {
		t.Errorf("attestation %+v", reg.Attestation)
	}
	alice := fx.user(t, "alice")
	if len(alice.WebAuthnID) != 64 {
		t.Errorf("alice's user handle: %x", alice.WebAuthnID)
	}
	if e := fx.lastAudit(t); e.Action != "key register" || e.Actor != "clerk" || !strings.Contains(e.Detail, "CTAP2 for example.edu") {
		t.Errorf("audit %+v", e)
	}

	// The key refuses to make a second credential for the site; the desk
	// names who holds the first.
	if _, err := fx.d.RegisterKey(t.Context(), dev, desk.KeyRequest{User: "bob"}, rules); !errors.Is(err, verify.ErrKeyRegistered) ||
		!strings.Contains(err.Error(), `registered to alice as "desk key"`) {
		t.Errorf("second registration: %v", err)
	}
	// A second key of alice's keeps her user handle.
	other := device(plugIn(t, newSoftKey(t, softkey.Config{})), "")
	second := fx.register(t, other, "alice", rules)
	if got := fx.user(t, "alice"); !bytes.Equal(got.WebAuthnID, alice.WebAuthnID) || second.Key.Name != second.Attestation.Model || second.Key.Name == "" {
		t.Errorf("after a second key: handle %x, key %+v", got.WebAuthnID, second.Key)
	}

	test := fx.keyTest(t, dev, "alice", rules)
	if !test.Allow || test.KeyID != k.ID || test.Counter <= k.Counter || test.Reason() != `touch accepted from key #1 "desk key"` {
		t.Errorf("test %+v (%s)", test, test.Reason())
	}
	if d := fx.keyTest(t, other, "alice", rules); !d.Allow || d.KeyID != second.Key.ID {
		t.Errorf("the second key: %+v", d)
	}
	if d := fx.keyTest(t, dev, "bob", rules); d.Allow || !errors.Is(d.Denial, verify.ErrNoKey) {
		t.Errorf("bob: %+v", d)
	}
	// A credential is tested under its own relying party, whichever the
	// rules name now.
	if d := fx.keyTest(t, dev, "alice", desk.KeyRules{RPID: "other.example"}); !d.Allow || d.KeyID != k.ID {
		t.Errorf("tested under rules of another relying party: %+v", d)
	}
}

// Requiring a trusted attestation refuses the soft key's own certificate,
// until a trust store holds it (as --attestation-roots adds a vendor's).
func TestRequireTrusted(t *testing.T) {
	fx := newDesk(t)
	fx.users(t, "alice")
	// The key makes its certificate on its own clock, which reads the
	// desk's day, so that the certificate is valid at the desk's clock.
	clock := &laterClock{}
	clock.later.Store(int64(time.Until(fx.now)))
	sk := newSoftKey(t, softkey.Config{Clock: clock})
	dev := device(plugIn(t, sk), "")
	strict := desk.KeyRules{RPID: rpID, Registration: verify.RegistrationPolicy{RequireTrusted: true}}
	if _, err := fx.d.RegisterKey(t.Context(), dev, desk.KeyRequest{User: "alice"}, strict); !errors.Is(err, verify.ErrUntrusted) {
		t.Errorf("an untrusted attestation: %v", err)
	}
	ts, err := verify.NewTrustStore(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: sk.PackedCertificate()}))
	if err != nil {
		t.Fatal(err)
	}
	strict.Registration.Trust = ts
	if reg := fx.register(t, dev, "alice", strict); reg.Attestation.Result != "trusted" {
		t.Errorf("with the key's root trusted: %+v", reg.Attestation)
	}
}

// Ctrl-C while the key waits for a touch: the context's end sends CANCEL
// (CTAP 2.1 §11.2.9.2.5), nothing is stored, and the key answers the
// next request.
func TestCancelWhileWaitingForTouch(t *testing.T) {
	fx := newDesk(t)
	fx.users(t, "alice")
	sk := newSoftKey(t, softkey.Config{TouchDelay: time.Hour})
	ctx, cancel := context.WithCancel(t.Context())
	host, end := hid.PipeT(t)
	served := make(chan struct{})
	go func() { sk.Serve(t.Context(), end); close(served) }()
	cl, err := hid.Open(t.Context(), host, hid.Options{OnTouch: cancel})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close(); host.Close(); <-served })
	before := sk.Counter()
	if _, err := fx.d.RegisterKey(ctx, device(cl, ""), desk.KeyRequest{User: "alice"}, rules); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled registration: %v", err)
	}
	if keys, _ := fx.d.Keys(t.Context(), "alice"); len(keys) != 0 || sk.Counter() != before {
		t.Errorf("after the cancel: keys %+v, counter %d (was %d)", keys, sk.Counter(), before)
	}
	if e := fx.audit(t); e[len(e)-1].Action != "user add" {
		t.Errorf("a cancelled registration was audited: %+v", e[len(e)-1])
	}
	if info, err := cl.GetInfo(t.Context()); err != nil || info.AAGUID != softkey.AAGUID {
		t.Errorf("the key after the cancel: %+v, %v", info, err)
	}
}

// The soft key takes an allowList or excludeList of 8: beyond that the
// desk asks silently, 8 at a time, which credential the key holds.
func TestManyCredentials(t *testing.T) {
	fx := newDesk(t)
	names := []string{"alice"}
	for i := range 9 {
		names = append(names, "u"+string(rune('a'+i)))
	}
	fx.users(t, names...)
	first := device(plugIn(t, newSoftKey(t, softkey.Config{})), "")
	fx.register(t, first, "alice", rules)
	for _, n := range names[1:] {
		fx.register(t, device(plugIn(t, newSoftKey(t, softkey.Config{})), ""), n, rules)
	}
	if _, err := fx.d.RegisterKey(t.Context(), first, desk.KeyRequest{User: "ua"}, rules); !errors.Is(err, verify.ErrKeyRegistered) ||
		!strings.Contains(err.Error(), "registered to alice") {
		t.Errorf("a known key among 10 credentials: %v", err)
	}
}

func TestRegisterWithPIN(t *testing.T) {
	fx := newDesk(t)
	fx.users(t, "alice")
	cl := plugIn(t, newSoftKey(t, softkey.Config{}))
	if err := cl.SetPIN(t.Context(), "4711"); err != nil {
		t.Fatal(err)
	}
	// A key with a PIN that is given none: refused before any touch.
	if _, err := fx.d.RegisterKey(t.Context(), device(cl, ""), desk.KeyRequest{User: "alice"}, rules); !errors.Is(err, desk.ErrPINRequired) {
		t.Errorf("no PIN: %v", err)
	}
	if _, err := fx.d.RegisterKey(t.Context(), desk.Device{U2F: cl, CTAP2: cl}, desk.KeyRequest{User: "alice"}, rules); !errors.Is(err, desk.ErrPINRequired) {
		t.Errorf("no way to give a PIN: %v", err)
	}
	if _, err := fx.d.RegisterKey(t.Context(), device(cl, "0000"), desk.KeyRequest{User: "alice"}, rules); !errors.Is(err, u2f.ErrPINInvalid) {
		t.Errorf("a wrong PIN: %v", err)
	}
	if n, _, err := cl.PINRetries(t.Context()); err != nil || n != 7 {
		t.Errorf("retries after a wrong PIN: %d, %v", n, err)
	}
	reg := fx.register(t, device(cl, "4711"), "alice", desk.KeyRules{RPID: rpID, RequirePIN: true})
	if !reg.Key.UserVerified || !strings.Contains(fx.lastAudit(t).Detail, "PIN verified") {
		t.Errorf("with the PIN: %+v", reg.Key)
	}
	// A test needs no PIN unless the rules require it; then it verifies.
	if d := fx.keyTest(t, device(cl, ""), "alice", rules); !d.Allow {
		t.Errorf("test without the PIN: %+v", d)
	}
	if _, err := fx.d.TestKey(t.Context(), device(cl, ""), "alice", desk.KeyRules{RPID: rpID, RequirePIN: true}, verify.Origin{}); !errors.Is(err, desk.ErrPINRequired) {
		t.Errorf("test under RequirePIN without the PIN: %v", err)
	}
	if d := fx.keyTest(t, device(cl, "4711"), "alice", desk.KeyRules{RPID: rpID, RequirePIN: true}); !d.Allow {
		t.Errorf("test with the PIN: %+v", d)
	}
}

// Rules that require a PIN refuse a key without one, and a U2F key,
// which cannot verify its user.
func TestRequirePIN(t *testing.T) {
	fx := newDesk(t)
	fx.users(t, "alice")
	strict := desk.KeyRules{RPID: rpID, RequirePIN: true}
	if _, err := fx.d.RegisterKey(t.Context(), device(plugIn(t, newSoftKey(t, softkey.Config{})), ""), desk.KeyRequest{User: "alice"}, strict); !errors.Is(err, desk.ErrNoPIN) {
		t.Errorf("a key without a PIN: %v", err)
	}
	u2fOnly := device(plugIn(t, newSoftKey(t, softkey.Config{Protocols: softkey.U2FOnly})), "")
	if _, err := fx.d.RegisterKey(t.Context(), u2fOnly, desk.KeyRequest{User: "alice"}, strict); !errors.Is(err, verify.ErrNoUserVerification) {
		t.Errorf("a U2F key: %v", err)
	}
	if keys, _ := fx.d.Keys(t.Context(), "alice"); len(keys) != 0 {
		t.Errorf("refused keys were stored: %+v", keys)
	}
}

// A U2F-only key is registered under the AppID https://<rp_id>; a key
// registered under the old AppID "keydesk" still tests, by its own row.
func TestRegisterU2FOnly(t *testing.T) {
	fx := newDesk(t)
	fx.users(t, "alice", "bob")
	sk := newSoftKey(t, softkey.Config{Protocols: softkey.U2FOnly})
	dev := device(plugIn(t, sk), "")
	if dev.CTAP2 != nil {
		t.Fatal("a U2F-only soft key announced CTAP2")
	}
	reg := fx.register(t, dev, "alice", rules)
	k := reg.Key
	if k.Kind != inventory.KeyU2F || k.AppID != "https://example.edu" || k.RPID != rpID || k.AttestationFormat != "fido-u2f" ||
		len(k.PublicKey) != 65 || !bytes.Equal(k.Certificate, sk.Certificate()) || k.AAGUID != "" {
		t.Errorf("registered %+v", k)
	}
	if _, err := u2f.ParseCOSEKey(k.COSEKey); err != nil {
		t.Errorf("stored COSE key: %v", err)
	}
	if !strings.Contains(fx.lastAudit(t).Detail, "U2F under AppID https://example.edu") {
		t.Errorf("audit %+v", fx.lastAudit(t))
	}
	if _, err := fx.d.RegisterKey(t.Context(), dev, desk.KeyRequest{User: "bob"}, rules); !errors.Is(err, verify.ErrKeyRegistered) {
		t.Errorf("second registration: %v", err)
	}
	if _, err := fx.d.RegisterKey(t.Context(), dev, desk.KeyRequest{User: "bob", Resident: true}, rules); err == nil {
		t.Error("a resident credential on a U2F key")
	}
	if d := fx.keyTest(t, dev, "alice", rules); !d.Allow || d.KeyID != k.ID {
		t.Errorf("test %+v", d)
	}

	old := device(plugIn(t, newSoftKey(t, softkey.Config{})), "")
	legacy := fx.register(t, old, "bob", desk.KeyRules{AppID: "keydesk"})
	if legacy.Key.Kind != inventory.KeyU2F || legacy.Key.AppID != "keydesk" || legacy.Key.RPID != "" {
		t.Errorf("registered under keydesk: %+v", legacy.Key)
	}
	if d := fx.keyTest(t, old, "bob", rules); !d.Allow || d.KeyID != legacy.Key.ID {
		t.Errorf("a key of AppID keydesk, tested for %s: %+v", rpID, d)
	}
	if _, err := fx.d.RegisterKey(t.Context(), old, desk.KeyRequest{User: "alice"}, desk.KeyRules{}); err == nil {
		t.Error("registered with neither rp id nor AppID")
	}
}

// A clone answers with a counter the inventory has seen: denied, audited
// and logged, for CTAP2 credentials as for U2F ones.
func TestCloneCTAP2(t *testing.T) {
	fx := newDesk(t)
	fx.users(t, "alice")
	state := stateFile(t)
	dev := device(plugIn(t, newSoftKey(t, softkey.Config{StatePath: state})), "")
	reg := fx.register(t, dev, "alice", rules)
	cloned := filepath.Join(t.TempDir(), "clone.state")
	copyFile(t, state, cloned)
	fx.keyTest(t, dev, "alice", rules)
	fx.keyTest(t, dev, "alice", rules)
	clone := device(plugIn(t, newSoftKey(t, softkey.Config{StatePath: cloned})), "")
	d := fx.keyTest(t, clone, "alice", rules)
	if d.Allow || !errors.Is(d.Denial, verify.ErrCounter) || d.ReasonCode() != "key_counter" || d.KeyID != reg.Key.ID {
		t.Fatalf("clone: %+v", d)
	}
	if e := fx.lastAudit(t); e.Action != "key clone suspected" || !strings.Contains(e.Detail, "last seen") {
		t.Errorf("audit %+v", e)
	}
	log, err := fx.s.AuthLog(t.Context(), inventory.AuthFilter{User: "alice"})
	if err != nil || len(log) != 3 || log[0].ReasonCode != "key_counter" {
		t.Errorf("auth log %+v, %v", log, err)
	}
	// The removed key no longer answers.
	if err := fx.d.RemoveKey(t.Context(), "alice", "1"); err != nil {
		t.Fatal(err)
	}
	if d := fx.keyTest(t, dev, "alice", rules); d.Allow || !errors.Is(d.Denial, verify.ErrNoKey) {
		t.Errorf("removed key: %+v", d)
	}
}

// A resident credential carries the user's handle and names, and is
// listed by credential management; deleting it from the key removes the
// registration.
func TestResidentCredential(t *testing.T) {
	fx := newDesk(t)
	fx.users(t, "alice")
	cl := plugIn(t, newSoftKey(t, softkey.Config{}))
	if err := cl.SetPIN(t.Context(), "4711"); err != nil {
		t.Fatal(err)
	}
	reg, err := fx.d.RegisterKey(t.Context(), device(cl, "4711"), desk.KeyRequest{User: "alice", Resident: true}, rules)
	if err != nil {
		t.Fatal(err)
	}
	if !reg.Key.Resident || !strings.Contains(fx.lastAudit(t).Detail, "resident") {
		t.Errorf("registered %+v", reg.Key)
	}
	tok, err := cl.PINTokenWithPermissions(t.Context(), "4711", u2f.PermCredentialManagement, "")
	if err != nil {
		t.Fatal(err)
	}
	rps, err := cl.ResidentRPs(t.Context(), tok)
	if err != nil || len(rps) != 1 || rps[0].RP.ID != rpID {
		t.Fatalf("resident sites: %+v, %v", rps, err)
	}
	creds, err := cl.ResidentCredentials(t.Context(), tok, rps[0].RPIDHash)
	if err != nil || len(creds) != 1 {
		t.Fatalf("resident credentials: %+v, %v", creds, err)
	}
	c := creds[0]
	if !bytes.Equal(c.ID.ID, reg.Key.KeyHandle) || !bytes.Equal(c.User.ID, fx.user(t, "alice").WebAuthnID) || c.User.Name != "alice" ||
		c.User.DisplayName != "ALICE" || c.CredProtect != u2f.CredProtectUVOptionalWithList {
		t.Errorf("resident credential %+v", c)
	}
	k, err := fx.d.DeleteResidentCredential(t.Context(), cl, tok, c.ID.ID)
	if err != nil || k.ID != reg.Key.ID {
		t.Fatalf("delete: %+v, %v", k, err)
	}
	if e := fx.lastAudit(t); e.Action != "key remove" || !strings.Contains(e.Detail, "deleted from the key") {
		t.Errorf("audit %+v", e)
	}
	if keys, _ := fx.d.Keys(t.Context(), "alice"); len(keys) != 0 {
		t.Errorf("after the delete: %+v", keys)
	}
	if left, err := cl.ResidentRPs(t.Context(), tok); err != nil || len(left) != 0 {
		t.Errorf("left on the key: %+v, %v", left, err)
	}
}

// A reset erases the key; the registrations it held (CTAP2 and U2F) are
// marked removed with one audit entry. Outside the key's reset window
// nothing changes.
func TestResetKey(t *testing.T) {
	fx := newDesk(t)
	fx.users(t, "alice", "bob")
	dev := device(plugIn(t, newSoftKey(t, softkey.Config{ResetWindow: time.Hour})), "")
	a := fx.register(t, dev, "alice", rules)
	b := fx.register(t, dev, "bob", desk.KeyRules{AppID: "keydesk"})
	other := fx.register(t, device(plugIn(t, newSoftKey(t, softkey.Config{})), ""), "bob", rules)

	clock := &laterClock{}
	late := device(plugIn(t, newSoftKey(t, softkey.Config{ResetWindow: time.Minute, Clock: clock})), "")
	fx.register(t, late, "alice", rules)
	before := len(fx.audit(t))
	clock.later.Store(int64(time.Hour))
	if _, err := fx.d.ResetKey(t.Context(), late); !errors.Is(err, u2f.ErrNotAllowed) {
		t.Errorf("reset outside the window: %v", err)
	}
	if n := len(fx.audit(t)); n != before {
		t.Errorf("a refused reset wrote %d audit entries", n-before)
	}

	res, err := fx.d.ResetKey(t.Context(), dev)
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for _, k := range res.Removed {
		ids = append(ids, k.ID)
	}
	if len(ids) != 2 || !containsID(ids, a.Key.ID) || !containsID(ids, b.Key.ID) || res.Unknown {
		t.Errorf("reset removed %v, want keys %d and %d", ids, a.Key.ID, b.Key.ID)
	}
	if e := fx.lastAudit(t); e.Action != "key reset" || !strings.Contains(e.Detail, `of alice`) || !strings.Contains(e.Detail, `of bob`) {
		t.Errorf("audit %+v", e)
	}
	if keys, _ := fx.d.Keys(t.Context(), "bob"); len(keys) != 1 || keys[0].ID != other.Key.ID {
		t.Errorf("bob's keys after the reset: %+v, want only key #%d", keys, other.Key.ID)
	}
	if d := fx.keyTest(t, dev, "alice", rules); d.Allow || !errors.Is(d.Denial, verify.ErrNoKey) {
		t.Errorf("the reset key tested: %+v", d)
	}
	// The erased key registers anew.
	fx.register(t, dev, "alice", rules)
}

// laterClock is the system clock, moved on by later.
type laterClock struct{ later atomic.Int64 }

func (c *laterClock) Now() time.Time                     { return time.Now().Add(time.Duration(c.later.Load())) }
func (c *laterClock) NewTimer(d time.Duration) hid.Timer { return hid.SystemClock.NewTimer(d) }

func containsID(ids []int64, id int64) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}
