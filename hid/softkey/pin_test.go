package softkey

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/keydesk/keydesk/hid"
	"github.com/keydesk/keydesk/u2f"
)

func retries(t *testing.T, c *hid.Client) (int, bool) {
	t.Helper()
	n, pc, err := c.PINRetries(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n, pc
}

// TestPINLifecycle: set a PIN, register with it, then wrong PINs count
// the retries down: three in a row want a power cycle (a restart of the
// soft key), eight block the PIN for good.
func TestPINLifecycle(t *testing.T) {
	state := filepath.Join(t.TempDir(), "sk.state")
	r := newRig(t, Config{StatePath: state})
	c := r.open()
	ctx := context.Background()
	if err := c.SetPIN(ctx, "12"); !errors.Is(err, u2f.ErrPINRules) {
		t.Errorf("a 2-digit PIN: %v", err)
	}
	if _, err := c.PINToken(ctx, "1234"); !errors.Is(err, u2f.ErrPINNotSet) {
		t.Errorf("token before a PIN is set: %v", err)
	}
	if err := c.SetPIN(ctx, "1234"); err != nil {
		t.Fatal(err)
	}
	if err := c.SetPIN(ctx, "5678"); !errors.Is(err, hid.ErrPINAlreadySet) {
		t.Errorf("second setPIN: %v", err)
	}
	if n, _ := retries(t, c); n != 8 {
		t.Errorf("%d retries after setPIN, want 8", n)
	}

	// With a PIN, a discoverable credential needs it; a plain one does not.
	_, err := makeCred(t, r, c, mcRequest("alice", true), nil)
	wantStatus(t, "rk without the PIN", err, u2f.ErrPUATRequired)
	must[*u2f.Attestation](t)(makeCred(t, r, c, mcRequest("alice", false), nil))
	tok := must[*u2f.PINToken](t)(c.PINTokenWithPermissions(ctx, "1234", u2f.PermMakeCredential, rpID))
	att := must[*u2f.Attestation](t)(makeCred(t, r, c, mcRequest("alice", true), tok))
	if !att.AuthData.Flags.Has(u2f.FlagUserVerified) {
		t.Error("made with the PIN, yet no UV flag")
	}
	// A token serves one request.
	_, err = makeCred(t, r, c, mcRequest("bob", true), tok)
	wantStatus(t, "token used twice", err, u2f.ErrPINAuthInvalid)
	// A token for another site, or without the permission, is refused.
	tok = must[*u2f.PINToken](t)(c.PINTokenWithPermissions(ctx, "1234", u2f.PermMakeCredential, "elsewhere.example"))
	_, err = makeCred(t, r, c, mcRequest("bob", true), tok)
	wantStatus(t, "token for another RP", err, u2f.ErrPINAuthInvalid)
	tok = must[*u2f.PINToken](t)(c.PINTokenWithPermissions(ctx, "1234", u2f.PermGetAssertion, ""))
	_, err = makeCred(t, r, c, mcRequest("bob", true), tok)
	wantStatus(t, "token without mc", err, u2f.ErrPINAuthInvalid)
	if _, err := c.PINTokenWithPermissions(ctx, "1234", u2f.PermLargeBlobWrite, ""); !errors.Is(err, u2f.ErrUnauthorizedPermission) {
		t.Errorf("large blob permission: %v", err)
	}
	// The assertion with the PIN: UV, and names of the user.
	tok = must[*u2f.PINToken](t)(c.PINTokenWithPermissions(ctx, "1234", u2f.PermGetAssertion, rpID))
	a := must[*u2f.Assertion](t)(assert(t, r, c, gaRequest(), tok))
	if !a.AuthData.Flags.Has(u2f.FlagUserVerified) || a.User.Name != "alice" {
		t.Errorf("flags %02x user %+v", a.AuthData.Flags, a.User)
	}

	for i, want := range []u2f.CTAP2Error{u2f.ErrPINInvalid, u2f.ErrPINInvalid, u2f.ErrPINAuthBlocked, u2f.ErrPINAuthBlocked} {
		_, err := c.PINToken(ctx, "0000")
		wantStatus(t, "wrong PIN", err, want)
		if n, pc := retries(t, c); n != 8-min(i+1, 3) || pc != (i >= 2) {
			t.Errorf("after wrong PIN %d: %d retries, power cycle %v", i+1, n, pc)
		}
	}
	// Even the right PIN waits for the power cycle.
	_, err = c.PINToken(ctx, "1234")
	wantStatus(t, "right PIN before the power cycle", err, u2f.ErrPINAuthBlocked)

	r = newRig(t, Config{StatePath: state}) // unplug, plug in
	c = r.open()
	if n, pc := retries(t, c); n != 5 || pc {
		t.Errorf("after the power cycle: %d retries, power cycle %v; want 5, false", n, pc)
	}
	must[*u2f.PINToken](t)(c.PINToken(ctx, "1234")) // right: back to 8
	if n, _ := retries(t, c); n != 8 {
		t.Errorf("%d retries after the right PIN, want 8", n)
	}
	for i := 1; i <= 8; i++ {
		if i%3 == 1 && i > 1 {
			r = newRig(t, Config{StatePath: state})
			c = r.open()
		}
		_, err := c.PINToken(ctx, "0000")
		want := u2f.ErrPINInvalid
		switch {
		case i == 8:
			want = u2f.ErrPINBlocked
		case i%3 == 0:
			want = u2f.ErrPINAuthBlocked
		}
		wantStatus(t, "wrong PIN", err, want)
	}
	r = newRig(t, Config{StatePath: state})
	c = r.open()
	_, err = c.PINToken(ctx, "1234")
	wantStatus(t, "right PIN once blocked", err, u2f.ErrPINBlocked)
	if n, _ := retries(t, c); n != 0 {
		t.Errorf("%d retries once blocked", n)
	}
}

func TestChangePINAndConfig(t *testing.T) {
	r := newRig(t, Config{})
	c := r.open()
	ctx := context.Background()
	// Without a PIN, config needs no token.
	if err := c.ToggleAlwaysUV(ctx, nil); err != nil {
		t.Fatal(err)
	}
	info := must[*u2f.AuthenticatorInfo](t)(c.GetInfo(ctx))
	if !info.Options["alwaysUv"] || info.Options["makeCredUvNotRqd"] {
		t.Errorf("options after toggleAlwaysUv: %v", info.Options)
	}
	_, err := makeCred(t, r, c, mcRequest("alice", false), nil)
	wantStatus(t, "alwaysUv without a PIN", err, u2f.ErrPINNotSet)
	must[any](t)(nil, c.SetPIN(ctx, "1234"))
	_, err = makeCred(t, r, c, mcRequest("alice", false), nil)
	wantStatus(t, "alwaysUv, no token", err, u2f.ErrPUATRequired)
	if err := c.ToggleAlwaysUV(ctx, nil); !errors.Is(err, u2f.ErrPUATRequired) {
		t.Errorf("config without a token once a PIN is set: %v", err)
	}
	tok := must[*u2f.PINToken](t)(c.PINTokenWithPermissions(ctx, "1234", u2f.PermAuthenticatorConfig, ""))
	if err := c.ToggleAlwaysUV(ctx, tok); err != nil {
		t.Fatal(err)
	}
	if err := c.SetMinPINLength(ctx, tok, 6, nil, false); err != nil {
		t.Fatal(err)
	}
	if err := c.SetMinPINLength(ctx, tok, 5, nil, false); !errors.Is(err, u2f.ErrPINPolicyViolation) {
		t.Errorf("lowering the minimum: %v", err)
	}
	info = must[*u2f.AuthenticatorInfo](t)(c.GetInfo(ctx))
	if info.Options["alwaysUv"] || info.MinPINLength != 6 || !info.ForcePINChange {
		t.Errorf("after config: alwaysUv %v minPINLength %d forcePINChange %v", info.Options["alwaysUv"], info.MinPINLength, info.ForcePINChange)
	}
	// The 4-digit PIN must change before it gives a token.
	if _, err := c.PINTokenWithPermissions(ctx, "1234", u2f.PermGetAssertion, ""); !errors.Is(err, u2f.ErrPINPolicyViolation) {
		t.Errorf("token while a PIN change is forced: %v", err)
	}
	if err := c.ChangePIN(ctx, "1234", "12345"); !errors.Is(err, u2f.ErrPINRules) {
		t.Errorf("new PIN under the minimum: %v", err)
	}
	if err := c.ChangePIN(ctx, "9999", "123456"); !errors.Is(err, u2f.ErrPINInvalid) {
		t.Errorf("change with a wrong PIN: %v", err)
	}
	if err := c.ChangePIN(ctx, "1234", "123456"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PINToken(ctx, "1234"); !errors.Is(err, u2f.ErrPINInvalid) {
		t.Errorf("old PIN after the change: %v", err)
	}
	must[*u2f.PINToken](t)(c.PINToken(ctx, "123456"))
	if info = must[*u2f.AuthenticatorInfo](t)(c.GetInfo(ctx)); info.ForcePINChange {
		t.Error("forcePINChange still set after the change")
	}
}

func TestResetWindow(t *testing.T) {
	r := newRig(t, Config{})
	c := r.open()
	ctx := context.Background()
	att := must[*u2f.Attestation](t)(makeCred(t, r, c, mcRequest("alice", true), nil))
	reg := register(t, r, c)
	must[any](t)(nil, c.SetPIN(ctx, "1234"))
	var err error
	r.touching(func() { err = c.Reset(ctx) })
	if err != nil {
		t.Fatal(err)
	}
	info := must[*u2f.AuthenticatorInfo](t)(c.GetInfo(ctx))
	if info.Options["clientPin"] || r.key.ResidentCredentials() != 0 {
		t.Errorf("after reset: clientPin %v, %d resident credentials", info.Options["clientPin"], r.key.ResidentCredentials())
	}
	_, err = assert(t, r, c, gaRequest(att.AuthData.Credential.ID), nil)
	wantStatus(t, "credential after reset", err, u2f.ErrNoCredentials)
	if ok, err := c.CheckKeyHandle(ctx, app, reg.KeyHandle); ok || err != nil {
		t.Errorf("U2F key handle after reset: %v, %v", ok, err)
	}

	r.clk.Advance(11 * time.Second) // the window (10 s) has passed
	r.touching(func() { err = c.Reset(ctx) })
	wantStatus(t, "reset after the window", err, u2f.ErrNotAllowed)
	if r.touches > 3 {
		t.Errorf("%d touch prompts: the late reset asked for a touch", r.touches)
	}
}

func TestCredentialManagement(t *testing.T) {
	r := newRig(t, Config{})
	c := r.open()
	ctx := context.Background()
	must[any](t)(nil, c.SetPIN(ctx, "1234"))
	mc := func(user, rp string) *u2f.Attestation {
		t.Helper()
		tok := must[*u2f.PINToken](t)(c.PINTokenWithPermissions(ctx, "1234", u2f.PermMakeCredential, rp))
		req := mcRequest(user, true)
		req.RP.ID = rp
		return must[*u2f.Attestation](t)(makeCred(t, r, c, req, tok))
	}
	alice := mc("alice", rpID)
	mc("bob", rpID)
	mc("carol", "other.example")
	if _, _, err := c.CredsMetadata(ctx, nil); !errors.Is(err, u2f.ErrPUATRequired) {
		t.Errorf("metadata without a token: %v", err)
	}
	tok := must[*u2f.PINToken](t)(c.PINTokenWithPermissions(ctx, "1234", u2f.PermCredentialManagement, ""))
	if n, left, err := c.CredsMetadata(ctx, tok); err != nil || n != 3 || left != maxResident-3 {
		t.Errorf("metadata: %d, %d, %v", n, left, err)
	}
	rps := must[[]u2f.ResidentRP](t)(c.ResidentRPs(ctx, tok))
	if len(rps) != 2 || rps[0].RP.ID != rpID || rps[0].RP.Name != "Keydesk" || string(rps[0].RPIDHash) != string(rpIDHash[:]) || rps[1].RP.ID != "other.example" {
		t.Errorf("RPs %+v", rps)
	}
	creds := must[[]u2f.ResidentCredential](t)(c.ResidentCredentials(ctx, tok, rpIDHash[:]))
	if len(creds) != 2 || creds[0].User.Name != "alice" || creds[1].User.DisplayName != "User bob" ||
		string(creds[0].ID.ID) != string(alice.AuthData.Credential.ID) || creds[0].PublicKey.Algorithm != u2f.ES256 {
		t.Errorf("credentials %+v", creds)
	}
	if err := c.DeleteCredential(ctx, tok, alice.AuthData.Credential.ID); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteCredential(ctx, tok, alice.AuthData.Credential.ID); !errors.Is(err, u2f.ErrNoCredentials) {
		t.Errorf("deleting twice: %v", err)
	}
	creds = must[[]u2f.ResidentCredential](t)(c.ResidentCredentials(ctx, tok, rpIDHash[:]))
	if len(creds) != 1 || creds[0].User.Name != "bob" {
		t.Errorf("after delete: %+v", creds)
	}
	// The deleted credential no longer signs, even when named.
	_, err := assert(t, r, c, gaRequest(alice.AuthData.Credential.ID), nil)
	wantStatus(t, "deleted credential", err, u2f.ErrNoCredentials)
	none := sha256Sum("nobody.example")
	if creds, err := c.ResidentCredentials(ctx, tok, none[:]); err != nil || len(creds) != 0 {
		t.Errorf("an RP without credentials: %v, %v", creds, err)
	}
	// A token bound to one RP lists that RP's credentials only.
	bound := must[*u2f.PINToken](t)(c.PINTokenWithPermissions(ctx, "1234", u2f.PermCredentialManagement, "other.example"))
	if _, err := c.ResidentCredentials(ctx, bound, rpIDHash[:]); !errors.Is(err, u2f.ErrPINAuthInvalid) {
		t.Errorf("bound token for another RP: %v", err)
	}
}

// TestPINProtocolOne gets a token over protocol 1, which the client uses
// only when a key lists it first, by building the requests itself.
func TestPINProtocolOne(t *testing.T) {
	r := newRig(t, Config{})
	c := r.open()
	ctx := context.Background()
	must[any](t)(nil, c.SetPIN(ctx, "1234"))
	p := u2f.PINProtocolOne
	cbor := func(cmd byte, req interface{ Marshal() ([]byte, error) }) []byte {
		t.Helper()
		b := must[[]byte](t)(req.Marshal())
		resp := must[[]byte](t)(c.Transact(ctx, hid.CmdCBOR, append([]byte{cmd}, b...)))
		if resp[0] != 0 {
			t.Fatalf("status %v", u2f.CTAP2Error(resp[0]))
		}
		return resp[1:]
	}
	ka := must[*u2f.ClientPINResponse](t)(u2f.ParseClientPINResponse(cbor(u2f.CmdClientPIN, &u2f.ClientPINRequest{Protocol: p, Subcommand: u2f.PINGetKeyAgreement})))
	pub, secret, err := p.Encapsulate(r.key.cfg.Rand, ka.KeyAgreement)
	if err != nil {
		t.Fatal(err)
	}
	hashEnc := must[[]byte](t)(secret.Encrypt(nil, u2f.PINHash([]byte("1234"))))
	resp := must[*u2f.ClientPINResponse](t)(u2f.ParseClientPINResponse(cbor(u2f.CmdClientPIN, &u2f.ClientPINRequest{Protocol: p,
		Subcommand: u2f.PINGetTokenUsingPINWithPerms, KeyAgreement: pub, PINHashEnc: hashEnc, Permissions: u2f.PermMakeCredential})))
	tok := must[*u2f.PINToken](t)(secret.DecryptPINToken(resp.PINUVAuthToken))
	if len(tok.Param(cdh[:])) != 16 {
		t.Errorf("protocol 1 pinUvAuthParam of %d bytes, want 16", len(tok.Param(cdh[:])))
	}
	att := must[*u2f.Attestation](t)(makeCred(t, r, c, mcRequest("alice", true), tok))
	if !att.AuthData.Flags.Has(u2f.FlagUserVerified) {
		t.Error("protocol 1 token: no UV")
	}
}
