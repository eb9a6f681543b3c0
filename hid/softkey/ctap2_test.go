package softkey

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/keydesk/keydesk/hid"
	"github.com/keydesk/keydesk/u2f"
)

const rpID = "keydesk.example"

var (
	cdh      = sha256.Sum256([]byte("client data"))
	rpIDHash = sha256.Sum256([]byte(rpID))
)

func mcRequest(user string, rk bool) *u2f.MakeCredentialRequest {
	r := &u2f.MakeCredentialRequest{ClientDataHash: cdh[:], RP: u2f.RelyingParty{ID: rpID, Name: "Keydesk"},
		User: u2f.User{ID: []byte("id-" + user), Name: user, DisplayName: "User " + user}}
	if rk {
		r.Options = map[string]bool{"rk": true}
	}
	return r
}

func gaRequest(ids ...[]byte) *u2f.GetAssertionRequest {
	r := &u2f.GetAssertionRequest{RPID: rpID, ClientDataHash: cdh[:]}
	for _, id := range ids {
		r.AllowList = append(r.AllowList, u2f.CredentialDescriptor{Type: u2f.CredentialType, ID: id})
	}
	return r
}

func makeCred(t *testing.T, r *rig, c *hid.Client, req *u2f.MakeCredentialRequest, tok *u2f.PINToken) (*u2f.Attestation, error) {
	t.Helper()
	var att *u2f.Attestation
	var err error
	r.touching(func() { att, err = c.MakeCredential(context.Background(), req, tok) })
	return att, err
}

func assert(t *testing.T, r *rig, c *hid.Client, req *u2f.GetAssertionRequest, tok *u2f.PINToken) (*u2f.Assertion, error) {
	t.Helper()
	var a *u2f.Assertion
	var err error
	r.touching(func() { a, err = c.GetAssertion(context.Background(), req, tok) })
	return a, err
}

func must[T any](t *testing.T) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func wantStatus(t *testing.T, what string, err error, want u2f.CTAP2Error) {
	t.Helper()
	var got u2f.CTAP2Error
	if !errors.As(err, &got) || got != want {
		t.Errorf("%s: got %v, want %v", what, err, want)
	}
}

func TestGetInfo(t *testing.T) {
	r := newRig(t, Config{})
	c := r.open()
	info := must[*u2f.AuthenticatorInfo](t)(c.GetInfo(context.Background()))
	if !slices.Equal(info.Versions, []string{"U2F_V2", "FIDO_2_0", "FIDO_2_1"}) || info.AAGUID != AAGUID ||
		info.AAGUID.String() != "2a38d610-c3ca-4864-8900-ae3475146b6f" {
		t.Errorf("versions %v aaguid %v", info.Versions, info.AAGUID)
	}
	for opt, want := range map[string]bool{"rk": true, "up": true, "clientPin": false, "credMgmt": true, "authnrCfg": true,
		"alwaysUv": false, "setMinPINLength": true, "pinUvAuthToken": true} {
		if got, ok := info.Option(opt); !ok || got != want {
			t.Errorf("option %s: %v (present %v), want %v", opt, got, ok, want)
		}
	}
	if _, ok := info.Option("uv"); ok {
		t.Error("the soft key has no built-in user verification, yet lists uv")
	}
	if !slices.Equal(info.PinUVAuthProtocols, []uint64{2, 1}) || info.PINProtocol() != u2f.PINProtocolTwo ||
		!info.HasAlgorithm(u2f.ES256) || !info.HasAlgorithm(u2f.EdDSA) || info.HasAlgorithm(u2f.RS256) ||
		info.PINMinLength() != 4 || *info.RemainingDiscoverableCredentials != maxResident ||
		!info.HasExtension("credProtect") || info.CredentialManagementCommand() != u2f.CmdCredentialManagement {
		t.Errorf("info %+v", info)
	}
}

func TestMakeCredentialAndAssert(t *testing.T) {
	for _, alg := range []u2f.COSEAlgorithm{u2f.ES256, u2f.EdDSA} {
		t.Run(alg.String(), func(t *testing.T) {
			r := newRig(t, Config{})
			c := r.open()
			req := mcRequest("alice", false)
			req.PubKeyCredParams = []u2f.CredentialParameter{{Type: "public-key", Alg: -257}, {Type: u2f.CredentialType, Alg: alg}}
			att := must[*u2f.Attestation](t)(makeCred(t, r, c, req, nil))
			if r.touches != 1 {
				t.Errorf("%d touch prompts, want 1", r.touches)
			}
			checkAttestation(t, r.key, att, alg)
			ad := att.AuthData
			if !ad.Flags.Has(u2f.FlagUserPresent) || ad.Flags.Has(u2f.FlagUserVerified) || ad.RPIDHash != rpIDHash || ad.SignCount != 1 {
				t.Errorf("flags %02x rpIdHash %x count %d", ad.Flags, ad.RPIDHash, ad.SignCount)
			}
			for want := uint32(2); want <= 3; want++ {
				a := must[*u2f.Assertion](t)(assert(t, r, c, gaRequest(ad.Credential.ID), nil))
				if err := ad.Credential.PublicKey.Verify(a.SignedData(cdh[:]), a.Signature); err != nil {
					t.Errorf("assertion signature: %v", err)
				}
				if a.AuthData.SignCount != want || !a.AuthData.Flags.Has(u2f.FlagUserPresent) || a.User != nil ||
					!bytes.Equal(a.Credential.ID, ad.Credential.ID) {
					t.Errorf("assertion count %d flags %02x user %v", a.AuthData.SignCount, a.AuthData.Flags, a.User)
				}
			}
			// Silent: no touch, no UP flag.
			req2 := gaRequest(ad.Credential.ID)
			req2.Options = map[string]bool{"up": false}
			a := must[*u2f.Assertion](t)(c.GetAssertion(context.Background(), req2, nil))
			if a.AuthData.Flags.Has(u2f.FlagUserPresent) {
				t.Error("up=false assertion says the user was present")
			}
			// Another site's request does not open the credential ID.
			other := gaRequest(ad.Credential.ID)
			other.RPID = "elsewhere.example"
			_, err := assert(t, r, c, other, nil)
			wantStatus(t, "another site", err, u2f.ErrNoCredentials)
		})
	}
}

// checkAttestation verifies a packed attestation as a relying party
// would: the signature by the certificate's key over authData ||
// clientDataHash, the certificate's subject and AAGUID extension.
func checkAttestation(t *testing.T, k *Key, att *u2f.Attestation, alg u2f.COSEAlgorithm) {
	t.Helper()
	st := att.Statement
	if att.Format != u2f.FormatPacked || st.Alg != u2f.ES256 || len(st.X5C) != 1 || !bytes.Equal(st.X5C[0], k.PackedCertificate()) {
		t.Fatalf("format %q alg %v x5c %d", att.Format, st.Alg, len(st.X5C))
	}
	cert, err := x509.ParseCertificate(st.X5C[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := cert.CheckSignature(x509.ECDSAWithSHA256, att.SignedData(cdh[:]), st.Sig); err != nil {
		t.Errorf("attestation signature: %v", err)
	}
	if !slices.Equal(cert.Subject.OrganizationalUnit, []string{"Authenticator Attestation"}) || cert.IsCA {
		t.Errorf("certificate subject %v", cert.Subject)
	}
	var found bool
	for _, e := range cert.Extensions {
		var v []byte
		if e.Id.Equal(idFIDOGenCeAAGUID) && !e.Critical {
			_, err := asn1.Unmarshal(e.Value, &v)
			found = err == nil && bytes.Equal(v, AAGUID[:])
		}
	}
	if !found {
		t.Error("certificate without the AAGUID extension")
	}
	cred := att.AuthData.Credential
	if cred.AAGUID != AAGUID || cred.PublicKey.Algorithm != alg {
		t.Errorf("aaguid %v algorithm %v", cred.AAGUID, cred.PublicKey.Algorithm)
	}
}

func TestExcludeListAndCredProtect(t *testing.T) {
	r := newRig(t, Config{})
	c := r.open()
	req := mcRequest("alice", false)
	req.Extensions = &u2f.MakeCredentialExtensions{CredProtect: u2f.CredProtectUVRequired}
	att := must[*u2f.Attestation](t)(makeCred(t, r, c, req, nil))
	if att.AuthData.CredProtect != u2f.CredProtectUVRequired {
		t.Errorf("credProtect %d in the authenticator data", att.AuthData.CredProtect)
	}
	id := att.AuthData.Credential.ID
	// Level 3: not even named in an allowList does it sign without the PIN.
	_, err := assert(t, r, c, gaRequest(id), nil)
	wantStatus(t, "credProtect 3 without uv", err, u2f.ErrNoCredentials)

	plain := must[*u2f.Attestation](t)(makeCred(t, r, c, mcRequest("alice", false), nil))
	again := mcRequest("alice", false)
	again.ExcludeList = []u2f.CredentialDescriptor{{Type: u2f.CredentialType, ID: plain.AuthData.Credential.ID}}
	_, err = makeCred(t, r, c, again, nil)
	wantStatus(t, "excluded", err, u2f.ErrCredentialExcluded)
}

func TestU2FRegistrationOverCTAP2(t *testing.T) {
	r := newRig(t, Config{})
	c := r.open()
	reg := register(t, r, c)
	// The appid extension: the platform asks with the AppID as the RP ID.
	req := gaRequest(reg.KeyHandle)
	req.RPID = "https://keydesk.example"
	a := must[*u2f.Assertion](t)(assert(t, r, c, req, nil))
	ecPub := must[*ecdsa.PublicKey](t)(ecdsa.ParseUncompressedPublicKey(elliptic.P256(), reg.PublicKey))
	pub := must[*u2f.COSEKey](t)(u2f.NewCOSEKey(ecPub))
	if err := pub.Verify(a.SignedData(cdh[:]), a.Signature); err != nil || a.AuthData.RPIDHash != app {
		t.Errorf("assertion with a U2F key handle: %v", err)
	}
}

func TestDiscoverableAndGetNextAssertion(t *testing.T) {
	r := newRig(t, Config{})
	c := r.open()
	for _, u := range []string{"alice", "bob"} {
		must[*u2f.Attestation](t)(makeCred(t, r, c, mcRequest(u, true), nil))
	}
	a := must[*u2f.Assertion](t)(assert(t, r, c, gaRequest(), nil))
	if a.NumberOfCredentials != 2 || a.User == nil || string(a.User.ID) != "id-bob" || a.User.Name != "" {
		t.Fatalf("first assertion: %d credentials, user %+v (want bob, newest first, without names)", a.NumberOfCredentials, a.User)
	}
	next := must[*u2f.Assertion](t)(c.GetNextAssertion(context.Background()))
	if string(next.User.ID) != "id-alice" || next.AuthData.SignCount != a.AuthData.SignCount+1 {
		t.Errorf("next: user %+v count %d", next.User, next.AuthData.SignCount)
	}
	_, err := c.GetNextAssertion(context.Background())
	wantStatus(t, "after the last", err, u2f.ErrNotAllowed)
	// A new credential for the same account replaces the old one.
	must[*u2f.Attestation](t)(makeCred(t, r, c, mcRequest("alice", true), nil))
	if n := r.key.ResidentCredentials(); n != 2 {
		t.Errorf("%d resident credentials after re-registering alice, want 2", n)
	}
}

func TestProtocolModes(t *testing.T) {
	r := newRig(t, Config{Protocols: CTAP2Only})
	c := r.open()
	if c.Info().U2F() || !c.Info().CTAP2() {
		t.Errorf("CTAP2-only key: %+v", c.Info())
	}
	if _, err := c.U2FVersion(context.Background()); !errors.Is(err, hid.ErrNoU2F) {
		t.Errorf("U2F to a CTAP2-only key: %v", err)
	}
	info := must[*u2f.AuthenticatorInfo](t)(c.GetInfo(context.Background()))
	if info.Supports(u2f.VersionU2F) {
		t.Errorf("CTAP2-only key lists %v", info.Versions)
	}
	// Whatever the client thinks, the key itself refuses MSG.
	_, err := c.Transact(context.Background(), hid.CmdMsg, u2f.APDU{Ins: u2f.InsVersion}.Encode())
	if !errors.Is(err, hid.ErrInvalidCmd) {
		t.Errorf("MSG to a CTAP2-only key: %v", err)
	}

	r = newRig(t, Config{Protocols: U2FOnly})
	c = r.open()
	if !c.Info().U2F() || c.Info().CTAP2() {
		t.Errorf("U2F-only key: %+v", c.Info())
	}
	if _, err := c.GetInfo(context.Background()); !errors.Is(err, hid.ErrNoCTAP2) {
		t.Errorf("CTAP2 to a U2F-only key: %v", err)
	}
	if _, err := c.Transact(context.Background(), hid.CmdCBOR, []byte{u2f.CmdGetInfo}); !errors.Is(err, hid.ErrInvalidCmd) {
		t.Errorf("CBOR to a U2F-only key: %v", err)
	}
}

func TestKeepaliveAndTimeouts(t *testing.T) {
	r := newRig(t, Config{TouchDelay: time.Second})
	var keepalives int
	opts := r.options()
	opts.OnKeepalive = func(s hid.KeepaliveStatus) {
		if s == hid.KeepaliveUserNeeded {
			keepalives++
		}
	}
	c := must[*hid.Client](t)(hid.Open(context.Background(), r.host, opts))
	must[*u2f.Attestation](t)(makeCred(t, r, c, mcRequest("alice", false), nil))
	if keepalives < 10 || r.touches != 1 {
		t.Errorf("%d KEEPALIVEs asking for a touch, %d prompts; want ≥ 10 and 1", keepalives, r.touches)
	}

	// Nobody touches: the key gives up at its UserActionTimeout...
	r = newRig(t, Config{TouchDelay: time.Hour, UserActionTimeout: 2 * time.Second})
	opts = r.options()
	opts.TouchTimeout = time.Minute
	c = must[*hid.Client](t)(hid.Open(context.Background(), r.host, opts))
	_, err := makeCred(t, r, c, mcRequest("alice", false), nil)
	wantStatus(t, "key's timeout", err, u2f.ErrUserActionTimeout)
	// ... or the client first, at its TouchTimeout, and cancels. The key's
	// own timeout is an hour of fake time away, so that a client slowed
	// down (by the race detector, a busy machine) still meets its own
	// first while the clock races ahead.
	r = newRig(t, Config{TouchDelay: time.Hour, UserActionTimeout: time.Hour})
	opts = r.options()
	opts.TouchTimeout = 2 * time.Second
	// Well past the touch timeout, so that on the fake clock the answer
	// timer (restarted at each KEEPALIVE) cannot fire first when the
	// clock races ahead of the key's KEEPALIVEs.
	opts.Timeout = time.Minute
	c = must[*hid.Client](t)(hid.Open(context.Background(), r.host, opts))
	_, err = makeCred(t, r, c, mcRequest("alice", false), nil)
	if !errors.Is(err, hid.ErrTouchTimeout) {
		t.Errorf("client's timeout: %v", err)
	}
	if _, err := c.GetInfo(context.Background()); err != nil {
		t.Errorf("after a touch timeout: %v", err)
	}
}

func TestCancel(t *testing.T) {
	r := newRig(t, Config{TouchDelay: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	opts := r.options()
	opts.OnKeepalive = func(hid.KeepaliveStatus) { cancel() }
	rec := &recorder{Device: r.host}
	c := must[*hid.Client](t)(hid.Open(context.Background(), rec, opts))
	_, err := c.MakeCredential(ctx, mcRequest("alice", false), nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled makeCredential: %v", err)
	}
	// The next request resynchronises the channel and skips the key's
	// KEEPALIVE_CANCEL answer.
	if _, err := c.GetInfo(context.Background()); err != nil {
		t.Fatalf("after a cancel: %v", err)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	var sawCancel, sawAnswer bool
	for _, l := range rec.lines {
		sawCancel = sawCancel || len(l) > 12 && l[:2] == "> " && l[10:12] == "91"
		sawAnswer = sawAnswer || len(l) > 18 && l[:2] == "< " && l[10:18] == "9000012d"
	}
	if !sawCancel || !sawAnswer {
		t.Errorf("CANCEL sent %v, KEEPALIVE_CANCEL answered %v", sawCancel, sawAnswer)
	}
}

func sha256Sum(s string) [32]byte { return sha256.Sum256([]byte(s)) }
