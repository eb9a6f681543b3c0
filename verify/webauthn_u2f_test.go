package verify_test

import (
	"bufio"
	"encoding/binary"
	"encoding/hex"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/keydesk/keydesk/u2f"
	"github.com/keydesk/keydesk/verify"
)

// readU2FExample reads the FIDO U2F raw message format's worked example
// (testdata/vectors/u2f-raw-example.txt) by section and key.
func readU2FExample(t testing.TB) map[string]map[string]string {
	t.Helper()
	f, err := os.Open("../testdata/vectors/u2f-raw-example.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]map[string]string{}
	var sec map[string]string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 64<<10)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "["):
			sec = map[string]string{}
			out[strings.Trim(line, "[]")] = sec
		case sec != nil && strings.Contains(line, "=") && !strings.HasPrefix(line, "#"):
			k, v, _ := strings.Cut(line, "=")
			sec[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return out
}

func unhex(t testing.TB, s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// coseP256 is a U2F user key (0x04 || X || Y) as a COSE_Key.
func coseP256(t testing.TB, point []byte) []byte {
	return mustCBOR(t, map[int]any{1: 2, 3: algES256, -1: 1, -2: point[1:33], -3: point[33:]})
}

// TestU2FExampleAsWebAuthn bridges the U2F specification's example to
// WebAuthn as a CTAP2 platform does for a U2F-only key (CTAP 2.1 §10.2):
// the registration becomes a fido-u2f attestation whose rpIdHash is the
// application parameter, and the authentication an assertion under the
// AppID. The example's attestation certificate expired in 2013.
func TestU2FExampleAsWebAuthn(t *testing.T) {
	ex := readU2FExample(t)
	reg, err := u2f.ParseRegistration(unhex(t, ex["registration"]["response"]))
	if err != nil {
		t.Fatal(err)
	}
	app, challenge := unhex(t, ex["registration"]["app_param"]), unhex(t, ex["registration"]["challenge_param"])
	ad := slices.Concat(app, []byte{flagUP | flagAT, 0, 0, 0, 0}, make([]byte, 16))
	ad = binary.BigEndian.AppendUint16(ad, uint16(len(reg.KeyHandle)))
	ad = slices.Concat(ad, reg.KeyHandle, coseP256(t, reg.PublicKey))
	obj := mustCBOR(t, map[string]any{"fmt": "fido-u2f", "authData": ad,
		"attStmt": map[string]any{"sig": reg.Signature, "x5c": [][]byte{reg.Certificate}}})

	self, err := verify.NewTrustStore(pemCert(reg.Certificate))
	if err != nil {
		t.Fatal(err)
	}
	in := verify.WebAuthnRegistration{AttestationObject: obj, ClientDataHash: challenge, RPID: "example.com", AppID: ex["registration"]["app_id"]}
	c, a, err := verify.CheckWebAuthnRegistration(in, verify.RegistrationPolicy{Trust: self, RequireTrusted: true}, specNow)
	if err != nil {
		t.Fatal(err)
	}
	if a.Result != "trusted, expired" || c.Format != "fido-u2f" || !slices.Equal(c.ID, reg.KeyHandle) {
		t.Errorf("%+v %+v", a, c)
	}

	// The authentication example is by another key under another AppID.
	au := ex["authentication"]
	resp := unhex(t, au["response"])
	auth, err := u2f.ParseAuthentication(resp)
	if err != nil {
		t.Fatal(err)
	}
	cred := verify.WebAuthnCredential{PublicKey: coseP256(t, unhex(t, au["user_public_key"])), SignCount: 0}
	authData := slices.Concat(unhex(t, au["app_param"]), resp[:5])
	use, err := verify.CheckWebAuthnAssertion(cred, verify.WebAuthnAssertion{AuthenticatorData: authData, Signature: auth.Signature,
		ClientDataHash: unhex(t, au["challenge_param"]), RPID: "example.com", AppID: au["app_id"]})
	if err != nil || !use.ByAppID || use.SignCount != 1 {
		t.Errorf("login under the AppID: %+v %v", use, err)
	}
}
