package verify_test

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/keydesk/keydesk/u2f"
	"github.com/keydesk/keydesk/verify"
)

var (
	keyAAGUID   = mustAAGUID("2fc0579f-8113-47ea-b116-bb5a8db9202a") // a YubiKey 5 NFC
	otherAAGUID = mustAAGUID("ee882879-721c-4913-9775-3dfcce97072a")
	deskHash    = func() []byte { h := sha256.Sum256([]byte("client data the desk built")); return h[:] }()
	regNow      = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
)

func trustStore(t testing.TB, v *vendor) *verify.TrustStore {
	t.Helper()
	ts, err := verify.NewTrustStore(v.rootPEM)
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

// register checks m's registration over the desk's client data hash.
func register(t testing.TB, m mint, p verify.RegistrationPolicy) (verify.WebAuthnCredential, verify.Attestation, error) {
	t.Helper()
	in := verify.WebAuthnRegistration{AttestationObject: m.object(t), ClientDataHash: m.hash, RPID: "example.edu"}
	return verify.CheckWebAuthnRegistration(in, p, regNow)
}

func TestWebAuthnRegistrationMinted(t *testing.T) {
	v := newVendor(t, "Test Vendor", regNow.AddDate(5, 0, 0), keyAAGUID[:])
	old := newVendor(t, "Old Vendor", regNow.AddDate(-1, 0, 0), keyAAGUID[:])
	u2fVendor := newVendor(t, "U2F Vendor", regNow.AddDate(5, 0, 0), nil)
	es256, eddsa, rs256 := newTestKey(t, algES256), newTestKey(t, algEdDSA), newTestKey(t, algRS256)
	base := mint{key: es256, aaguid: keyAAGUID, rpID: "example.edu", flags: flagUP | flagUV | flagAT, hash: deskHash}
	with := func(f func(*mint)) mint { m := base; f(&m); return m }
	for _, tc := range []struct {
		name   string
		m      mint
		trust  *vendor
		result string
		check  func(verify.WebAuthnCredential, verify.Attestation) string
	}{
		{"packed self ES256", with(func(m *mint) { m.format = "packed-self" }), nil, "self", nil},
		{"packed self EdDSA", with(func(m *mint) { m.format, m.key = "packed-self", eddsa }), nil, "self", nil},
		{"packed self RS256", with(func(m *mint) { m.format, m.key = "packed-self", rs256 }), nil, "self", nil},
		{"packed full", with(func(m *mint) { m.format, m.vendor = "packed", v }), v, "trusted",
			func(c verify.WebAuthnCredential, a verify.Attestation) string {
				if len(c.Chain) != 1 || a.Model != "YubiKey 5 NFC / 5C NFC" || a.Warning != "" || !strings.Contains(a.Issuer, "Test Vendor") {
					return fmt.Sprintf("chain %d, %+v", len(c.Chain), a)
				}
				return ""
			}},
		{"packed full, expired certificate", with(func(m *mint) { m.format, m.vendor = "packed", old }), old, "trusted, expired",
			func(_ verify.WebAuthnCredential, a verify.Attestation) string {
				if !strings.Contains(a.Warning, "expired on "+regNow.AddDate(-1, 0, 0).Format(time.DateOnly)) {
					return "warning " + a.Warning
				}
				return ""
			}},
		{"packed full, vendor unknown", with(func(m *mint) { m.format, m.vendor = "packed", v }), old, "untrusted", nil},
		{"fido-u2f", with(func(m *mint) { m.format, m.vendor, m.aaguid = "fido-u2f", u2fVendor, u2f.AAGUID{} }), u2fVendor, "trusted",
			func(c verify.WebAuthnCredential, a verify.Attestation) string {
				if c.AAGUID != (u2f.AAGUID{}) || a.AAGUID != "" || c.Format != "fido-u2f" {
					return fmt.Sprintf("%+v %+v", c, a)
				}
				return ""
			}},
		{"none", with(func(m *mint) { m.format = "none" }), nil, "none", nil},
		{"flags and counter", with(func(m *mint) { m.format, m.flags, m.count = "none", flagUP|flagBE|flagBS|flagAT, 7 }), nil, "none",
			func(c verify.WebAuthnCredential, _ verify.Attestation) string {
				if !c.BackupEligible || !c.BackupState || c.UserVerified || c.SignCount != 7 {
					return fmt.Sprintf("%+v", c)
				}
				return ""
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var p verify.RegistrationPolicy
			if tc.trust != nil {
				p.Trust = trustStore(t, tc.trust)
			}
			c, a, err := register(t, tc.m, p)
			if err != nil {
				t.Fatal(err)
			}
			if a.Result != tc.result || c.Algorithm != tc.m.key.alg || string(c.ID) != string(tc.m.key.id) || string(c.PublicKey) != string(tc.m.key.cose(t)) {
				t.Errorf("%+v\n%+v", a, c)
			}
			if c.AAGUID != tc.m.aaguid || (tc.m.aaguid != (u2f.AAGUID{}) && a.AAGUID != tc.m.aaguid.String()) {
				t.Errorf("AAGUID %s / %q, want %s", c.AAGUID, a.AAGUID, tc.m.aaguid)
			}
			if tc.check != nil {
				if s := tc.check(c, a); s != "" {
					t.Error(s)
				}
			}
		})
	}
}

// TestWebAuthnRegistrationRefusals: each check fails on its own, from a
// registration that passes.
func TestWebAuthnRegistrationRefusals(t *testing.T) {
	v := newVendor(t, "Test Vendor", regNow.AddDate(5, 0, 0), keyAAGUID[:])
	stranger := newVendor(t, "Stranger", regNow.AddDate(5, 0, 0), keyAAGUID[:])
	mismatch := newVendor(t, "Test Vendor", regNow.AddDate(5, 0, 0), otherAAGUID[:])
	caCert := newVendor(t, "Test Vendor", regNow.AddDate(5, 0, 0), keyAAGUID[:])
	caCert.attCert = caCert.issue(t, &caCert.attKey.PublicKey, keyAAGUID[:], true)
	u2fVendor := newVendor(t, "Test Vendor", regNow.AddDate(5, 0, 0), nil)
	key := newTestKey(t, algES256)
	base := mint{key: key, aaguid: keyAAGUID, rpID: "example.edu", flags: flagUP | flagUV | flagAT, format: "packed", vendor: v, hash: deskHash}
	policy := verify.RegistrationPolicy{Trust: trustStore(t, v), RequireTrusted: true, RequireUV: true, AllowAAGUIDs: []u2f.AAGUID{keyAAGUID}}
	if _, _, err := register(t, base, policy); err != nil {
		t.Fatalf("the baseline is refused: %v", err)
	}
	type change struct {
		m func(*mint)
		p func(*verify.RegistrationPolicy)
	}
	for _, tc := range []struct {
		name  string
		c     change
		want  []error
		words string
	}{
		{"wrong rpIdHash", change{m: func(m *mint) { m.rpID = "example.com" }}, []error{verify.ErrWrongRelyingParty}, `"example.edu"`},
		{"UP not set", change{m: func(m *mint) { m.flags = flagUV | flagAT }}, []error{verify.ErrNoPresence}, "UP"},
		{"UV required, not set", change{m: func(m *mint) { m.flags = flagUP | flagAT }}, []error{verify.ErrNoUserVerification}, "UV"},
		{"no attested credential data", change{m: func(m *mint) { m.flags = flagUP | flagUV }}, []error{verify.ErrMalformedAnswer}, "authenticator data"},
		{"bad signature, packed full", change{m: func(m *mint) { m.badSig = true }}, []error{verify.ErrBadSignature}, "packed attestation"},
		{"bad signature, packed self", change{m: func(m *mint) { m.format, m.badSig = "packed-self", true }, p: func(p *verify.RegistrationPolicy) { p.RequireTrusted = false }}, []error{verify.ErrBadSignature}, "self attestation"},
		{"bad signature, fido-u2f", change{m: func(m *mint) { m.format, m.vendor, m.aaguid, m.badSig = "fido-u2f", u2fVendor, u2f.AAGUID{}, true }, p: func(p *verify.RegistrationPolicy) { p.AllowAAGUIDs = nil }}, []error{verify.ErrBadSignature}, "fido-u2f"},
		{"AAGUID of the certificate is not the key's", change{m: func(m *mint) { m.vendor = mismatch }}, []error{verify.ErrAAGUIDMismatch, verify.ErrBadAttestation}, "AAGUID"},
		{"attestation certificate is a CA", change{m: func(m *mint) { m.vendor = caCert }}, []error{verify.ErrBadAttestation}, "CA"},
		{"AAGUID on the deny list", change{p: func(p *verify.RegistrationPolicy) { p.DenyAAGUIDs = []u2f.AAGUID{keyAAGUID} }}, []error{verify.ErrModelNotAllowed, verify.ErrRefused}, "deny list"},
		{"AAGUID not on the allow list", change{p: func(p *verify.RegistrationPolicy) { p.AllowAAGUIDs = []u2f.AAGUID{otherAAGUID} }}, []error{verify.ErrModelNotAllowed, verify.ErrRefused}, "allow list"},
		{"untrusted vendor, trust required", change{m: func(m *mint) { m.vendor = stranger }}, []error{verify.ErrUntrusted, verify.ErrRefused}, "untrusted"},
		{"self attestation, trust required", change{m: func(m *mint) { m.format = "packed-self" }}, []error{verify.ErrUntrusted}, "self"},
		{"no attestation, trust required", change{m: func(m *mint) { m.format = "none" }}, []error{verify.ErrUntrusted}, "none"},
		{"none with a statement", change{m: func(m *mint) { m.format, m.stmt = "none", map[string]any{"sig": []byte{1}} }}, []error{verify.ErrBadAttestation}, "none"},
		{"a format keydesk does not check", change{m: func(m *mint) { m.fmtID = "tpm" }}, []error{verify.ErrBadAttestation}, `"tpm"`},
		{"self statement of another alg", change{m: func(m *mint) {
			m.format, m.stmt = "none", map[string]any{"alg": int64(algRS256), "sig": []byte{1}}
			m.fmtID = "packed"
		}, p: func(p *verify.RegistrationPolicy) { p.RequireTrusted = false }}, []error{verify.ErrBadAttestation}, "alg"},
		{"ES384 key", change{m: func(m *mint) { m.key, m.format = newTestKey(t, algES384), "packed-self" }}, []error{verify.ErrAlgorithm}, "-35"},
		{"fido-u2f with an EdDSA key", change{m: func(m *mint) { m.format, m.vendor, m.key = "fido-u2f", u2fVendor, newTestKey(t, algEdDSA) }}, []error{verify.ErrAlgorithm}, "P-256"},
		{"client data hash of 31 bytes", change{m: func(m *mint) { m.hash = deskHash[:31] }}, []error{verify.ErrClientData}, "31"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, p := base, policy
			if tc.c.m != nil {
				tc.c.m(&m)
			}
			if tc.c.p != nil {
				tc.c.p(&p)
			}
			c, a, err := register(t, m, p)
			for _, w := range tc.want {
				if !errors.Is(err, w) {
					t.Errorf("%v is not %v", err, w)
				}
			}
			if err != nil && !strings.Contains(err.Error(), tc.words) {
				t.Errorf("%v does not say %q", err, tc.words)
			}
			if c.ID != nil || c.PublicKey != nil || a != (verify.Attestation{}) {
				t.Errorf("a refusal with a result: %+v %+v", c, a)
			}
		})
	}
}

func TestWebAuthnRegistrationInput(t *testing.T) {
	key := newTestKey(t, algES256)
	challenge := []byte("a challenge of thirty-two bytes!")
	clientData := func(typ, chal, origin string, cross bool) []byte {
		return fmt.Appendf(nil, `{"type":%q,"challenge":%q,"origin":%q,"crossOrigin":%v,"other":"ignored"}`, typ, chal, origin, cross)
	}
	b64 := base64.RawURLEncoding.EncodeToString(challenge)
	for _, tc := range []struct {
		name string
		json []byte
		hash bool // also give the hash
		want error
	}{
		{"browser client data", clientData("webauthn.create", b64, "https://example.edu", false), false, nil},
		{"padded challenge", clientData("webauthn.create", b64+"=", "https://example.edu", false), false, nil},
		{"login client data", clientData("webauthn.get", b64, "https://example.edu", false), false, verify.ErrClientData},
		{"another challenge", clientData("webauthn.create", b64[1:]+"A", "https://example.edu", false), false, verify.ErrClientData},
		{"another origin", clientData("webauthn.create", b64, "https://evil.example", false), false, verify.ErrClientData},
		{"in a frame", clientData("webauthn.create", b64, "https://example.edu", true), false, verify.ErrClientData},
		{"not JSON", []byte("{"), false, verify.ErrMalformedAnswer},
		{"both the data and its hash", clientData("webauthn.create", b64, "https://example.edu", false), true, verify.ErrClientData},
		{"neither", nil, false, verify.ErrClientData},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := sha256.Sum256(tc.json)
			m := mint{key: key, aaguid: keyAAGUID, rpID: "example.edu", flags: flagUP | flagAT, format: "packed-self", hash: h[:]}
			in := verify.WebAuthnRegistration{AttestationObject: m.object(t), ClientDataJSON: tc.json, Challenge: challenge,
				Origins: []string{"https://example.edu"}, RPID: "example.edu"}
			if tc.hash {
				in.ClientDataHash = h[:]
			}
			_, _, err := verify.CheckWebAuthnRegistration(in, verify.RegistrationPolicy{}, regNow)
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Errorf("%v, want %v", err, tc.want)
			}
		})
	}

	// Bounds and garbage.
	for name, obj := range map[string][]byte{"too big": make([]byte, 65<<10), "not CBOR": []byte("hello"), "empty": nil} {
		in := verify.WebAuthnRegistration{AttestationObject: obj, ClientDataHash: deskHash, RPID: "example.edu"}
		if _, _, err := verify.CheckWebAuthnRegistration(in, verify.RegistrationPolicy{}, regNow); !errors.Is(err, verify.ErrMalformedAnswer) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestWebAuthnRegistrationAppID: a U2F key bridged from CTAP1 answers for
// the AppID, in the fido-u2f format only.
func TestWebAuthnRegistrationAppID(t *testing.T) {
	v := newVendor(t, "U2F Vendor", regNow.AddDate(5, 0, 0), nil)
	m := mint{key: newTestKey(t, algES256), rpID: "https://example.edu", flags: flagUP | flagAT, format: "fido-u2f", vendor: v, hash: deskHash}
	in := verify.WebAuthnRegistration{AttestationObject: m.object(t), ClientDataHash: deskHash, RPID: "example.edu", AppID: "https://example.edu"}
	if _, a, err := verify.CheckWebAuthnRegistration(in, verify.RegistrationPolicy{Trust: trustStore(t, v)}, regNow); err != nil || a.Result != "trusted" {
		t.Errorf("under the AppID: %+v %v", a, err)
	}
	in.AppID = ""
	if _, _, err := verify.CheckWebAuthnRegistration(in, verify.RegistrationPolicy{}, regNow); !errors.Is(err, verify.ErrWrongRelyingParty) {
		t.Errorf("AppID hash taken for the RP ID's: %v", err)
	}
	m.format = "packed-self"
	in = verify.WebAuthnRegistration{AttestationObject: m.object(t), ClientDataHash: deskHash, RPID: "example.edu", AppID: "https://example.edu"}
	if _, _, err := verify.CheckWebAuthnRegistration(in, verify.RegistrationPolicy{}, regNow); !errors.Is(err, verify.ErrMalformedAnswer) {
		t.Errorf("packed under the AppID: %v", err)
	}
}
