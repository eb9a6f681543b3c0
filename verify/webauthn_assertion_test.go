package verify_test

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"testing"

	"github.com/keydesk/keydesk/verify"
)

// registered registers k with packed self attestation, its counter at
// count.
func registered(t testing.TB, k *testKey, count uint32) verify.WebAuthnCredential {
	t.Helper()
	m := mint{key: k, aaguid: keyAAGUID, rpID: "example.edu", flags: flagUP | flagAT, count: count, format: "packed-self", hash: deskHash}
	c, _, err := register(t, m, verify.RegistrationPolicy{})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestWebAuthnAssertion(t *testing.T) {
	es256, eddsa, rs256 := newTestKey(t, algES256), newTestKey(t, algEdDSA), newTestKey(t, algRS256)
	other := newTestKey(t, algES256)
	type login struct {
		key      *testKey // the key that signs
		rpID     string
		flags    byte
		count    uint32
		appID    string // offered with the appid extension
		uv       bool   // UV required
		stored   uint32
		badSig   bool
		signedBy *testKey // another key signs
	}
	base := login{key: es256, rpID: "example.edu", flags: flagUP, count: 1}
	with := func(f func(*login)) login { l := base; f(&l); return l }
	for _, tc := range []struct {
		name string
		l    login
		want error
		use  verify.KeyUse
	}{
		{"ES256", base, nil, verify.KeyUse{SignCount: 1}},
		{"EdDSA", with(func(l *login) { l.key = eddsa }), nil, verify.KeyUse{SignCount: 1}},
		{"RS256", with(func(l *login) { l.key = rs256 }), nil, verify.KeyUse{SignCount: 1}},
		{"a key that keeps no counter: 0 after 0", with(func(l *login) { l.count = 0 }), nil, verify.KeyUse{}},
		{"counter grows", with(func(l *login) { l.stored, l.count = 10, 11 }), nil, verify.KeyUse{SignCount: 11}},
		{"counter goes back", with(func(l *login) { l.stored, l.count = 10, 9 }), verify.ErrCounter, verify.KeyUse{}},
		{"counter stands still", with(func(l *login) { l.stored, l.count = 10, 10 }), verify.ErrCounter, verify.KeyUse{}},
		{"counter falls to 0", with(func(l *login) { l.stored, l.count = 5, 0 }), verify.ErrCounter, verify.KeyUse{}},
		{"UV given", with(func(l *login) { l.flags, l.uv = flagUP|flagUV|flagBS, true }), nil, verify.KeyUse{SignCount: 1, UserVerified: true, BackupState: true}},
		{"UV required, not given", with(func(l *login) { l.uv = true }), verify.ErrNoUserVerification, verify.KeyUse{}},
		{"UP not set", with(func(l *login) { l.flags = 0 }), verify.ErrNoPresence, verify.KeyUse{}},
		{"another relying party", with(func(l *login) { l.rpID = "example.com" }), verify.ErrWrongRelyingParty, verify.KeyUse{}},
		{"U2F key under the AppID", with(func(l *login) { l.rpID, l.appID = "https://example.edu", "https://example.edu" }), nil, verify.KeyUse{SignCount: 1, ByAppID: true}},
		{"AppID answer without the extension", with(func(l *login) { l.rpID = "https://example.edu" }), verify.ErrWrongRelyingParty, verify.KeyUse{}},
		{"bad signature", with(func(l *login) { l.badSig = true }), verify.ErrBadSignature, verify.KeyUse{}},
		{"signed by another key", with(func(l *login) { l.signedBy = other }), verify.ErrBadSignature, verify.KeyUse{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cred := registered(t, tc.l.key, tc.l.stored)
			signer := tc.l.key
			if tc.l.signedBy != nil {
				signer = tc.l.signedBy
			}
			ad, sig := signer.login(t, tc.l.rpID, tc.l.flags, tc.l.count, deskHash)
			if tc.l.badSig {
				sig[len(sig)/2] ^= 1
			}
			use, err := verify.CheckWebAuthnAssertion(cred, verify.WebAuthnAssertion{
				AuthenticatorData: ad, Signature: sig, ClientDataHash: deskHash, RPID: "example.edu", AppID: tc.l.appID, RequireUV: tc.l.uv,
			})
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Errorf("%v, want %v", err, tc.want)
			}
			if use != tc.use {
				t.Errorf("use %+v, want %+v", use, tc.use)
			}
		})
	}
}

// TestWebAuthnAssertionZeroCounterTwice: a key with no counter logs in
// again and again; once it has counted, it may never go back.
func TestWebAuthnAssertionZeroCounterTwice(t *testing.T) {
	k := newTestKey(t, algES256)
	cred := registered(t, k, 0)
	for i := range 3 {
		ad, sig := k.login(t, "example.edu", flagUP, 0, deskHash)
		use, err := verify.CheckWebAuthnAssertion(cred, verify.WebAuthnAssertion{AuthenticatorData: ad, Signature: sig, ClientDataHash: deskHash, RPID: "example.edu"})
		if err != nil {
			t.Fatalf("login %d: %v", i, err)
		}
		cred.SignCount = use.SignCount
	}
}

func TestWebAuthnAssertionClientData(t *testing.T) {
	k := newTestKey(t, algES256)
	cred := registered(t, k, 0)
	challenge := []byte("login challenge, thirty-two byte")
	b64 := base64.RawURLEncoding.EncodeToString(challenge)
	for _, tc := range []struct {
		name string
		json string
		want error
	}{
		{"login", fmt.Sprintf(`{"type":"webauthn.get","challenge":%q,"origin":"https://example.edu"}`, b64), nil},
		{"a registration's client data", fmt.Sprintf(`{"type":"webauthn.create","challenge":%q,"origin":"https://example.edu"}`, b64), verify.ErrClientData},
		{"another challenge", `{"type":"webauthn.get","challenge":"AAAA","origin":"https://example.edu"}`, verify.ErrClientData},
		{"another origin", fmt.Sprintf(`{"type":"webauthn.get","challenge":%q,"origin":"http://example.edu"}`, b64), verify.ErrClientData},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := sha256.Sum256([]byte(tc.json))
			ad, sig := k.login(t, "example.edu", flagUP, 1, h[:])
			_, err := verify.CheckWebAuthnAssertion(cred, verify.WebAuthnAssertion{AuthenticatorData: ad, Signature: sig,
				ClientDataJSON: []byte(tc.json), Challenge: challenge, Origins: []string{"https://example.edu"}, RPID: "example.edu"})
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Errorf("%v, want %v", err, tc.want)
			}
		})
	}
	for name, ad := range map[string][]byte{"short": make([]byte, 36), "too big": make([]byte, 17<<10)} {
		if _, err := verify.CheckWebAuthnAssertion(cred, verify.WebAuthnAssertion{AuthenticatorData: ad, ClientDataHash: deskHash, RPID: "example.edu"}); !errors.Is(err, verify.ErrMalformedAnswer) {
			t.Errorf("%s authenticator data: %v", name, err)
		}
	}
}

// TestWebAuthnAssertionStoredKeyUnusable: a stored key keydesk cannot
// read is no denial of the user but a failure to decide.
func TestWebAuthnAssertionStoredKeyUnusable(t *testing.T) {
	k := newTestKey(t, algES256)
	cred := registered(t, k, 0)
	cred.PublicKey = cred.PublicKey[:10]
	ad, sig := k.login(t, "example.edu", flagUP, 1, deskHash)
	_, err := verify.CheckWebAuthnAssertion(cred, verify.WebAuthnAssertion{AuthenticatorData: ad, Signature: sig, ClientDataHash: deskHash, RPID: "example.edu"})
	if err == nil || knownError(err) {
		t.Errorf("a broken stored key: %v", err)
	}
}
