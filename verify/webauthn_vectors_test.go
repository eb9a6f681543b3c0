package verify_test

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/keydesk/keydesk/verify"
)

// readSpecVectors reads testdata/webauthn/w3c-level3-vectors.txt: the
// WebAuthn Level 3 §16 examples.
func readSpecVectors(t testing.TB) map[string]map[string][]byte {
	return readVectors(t, "../testdata/webauthn/w3c-level3-vectors.txt")
}

// readVectors reads a file of hex values by [section] and key; "#"
// starts a comment.
func readVectors(t testing.TB, path string) map[string]map[string][]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]map[string][]byte{}
	var section map[string][]byte
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 64<<10)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "["):
			section = map[string][]byte{}
			out[strings.Trim(line, "[]")] = section
		default:
			k, v, ok := strings.Cut(line, " = ")
			v, _, _ = strings.Cut(v, " ")
			b, err := hex.DecodeString(v)
			if !ok || err != nil || section == nil {
				t.Fatalf("vectors line %d: %q", n, line)
			}
			section[k] = b
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// specNow is a day the spec's certificates (2024 to 3024) are valid.
var specNow = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)

func specRegistration(v map[string][]byte) verify.WebAuthnRegistration {
	return verify.WebAuthnRegistration{
		AttestationObject: v["reg.attestationObject"], ClientDataJSON: v["reg.clientDataJSON"],
		Challenge: v["reg.challenge"], Origins: []string{"https://example.org"}, RPID: "example.org",
	}
}

// TestWebAuthnSpecVectors registers each credential of the specification's
// examples and logs in with it: values nobody here computed.
func TestWebAuthnSpecVectors(t *testing.T) {
	vec := readSpecVectors(t)
	specCA, err := verify.NewTrustStore(pemCert(vec["ca"]["cert"]))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, format, result string
		alg                  int64
	}{
		{"none-es256", "none", "none", algES256},
		{"packed-self-es256", "packed", "self", algES256},
		{"packed-es256", "packed", "trusted", algES256},
		{"packed-eddsa", "packed", "trusted", algEdDSA},
		{"fido-u2f-es256", "fido-u2f", "trusted", algES256},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := vec[tc.name]
			p := verify.RegistrationPolicy{Trust: specCA, RequireTrusted: tc.result == "trusted"}
			cred, att, err := verify.CheckWebAuthnRegistration(specRegistration(v), p, specNow)
			if err != nil {
				t.Fatal(err)
			}
			if att.Result != tc.result || cred.Format != tc.format || cred.Algorithm != tc.alg || !bytes.Equal(cred.ID, v["credentialID"]) {
				t.Errorf("%+v\n%+v", att, cred)
			}
			if k := v["credentialPublicKey"]; k != nil && !bytes.Equal(cred.PublicKey, k) {
				t.Errorf("credential key %x, the spec's %x", cred.PublicKey, k)
			}
			if (tc.result == "trusted") != (len(cred.Chain) > 0 && att.Issuer != "") {
				t.Errorf("chain %d certificates, issuer %q", len(cred.Chain), att.Issuer)
			}
			use, err := verify.CheckWebAuthnAssertion(cred, verify.WebAuthnAssertion{
				AuthenticatorData: v["auth.authenticatorData"], Signature: v["auth.signature"], ClientDataJSON: v["auth.clientDataJSON"],
				Challenge: v["auth.challenge"], Origins: []string{"https://example.org"}, RPID: "example.org",
			})
			if err != nil || use.SignCount != 0 {
				t.Errorf("login: %+v %v", use, err)
			}
			// The login's signature over another challenge's client data.
			_, err = verify.CheckWebAuthnAssertion(cred, verify.WebAuthnAssertion{
				AuthenticatorData: v["auth.authenticatorData"], Signature: v["auth.signature"], ClientDataHash: make([]byte, 32), RPID: "example.org",
			})
			if !errors.Is(err, verify.ErrBadSignature) {
				t.Errorf("login over other client data: %v", err)
			}
		})
	}

	// Without the spec's CA the certificates chain to nothing.
	_, att, err := verify.CheckWebAuthnRegistration(specRegistration(vec["packed-es256"]), verify.RegistrationPolicy{}, specNow)
	if err != nil || att.Result != "untrusted" {
		t.Errorf("no roots: %+v %v", att, err)
	}
	_, _, err = verify.CheckWebAuthnRegistration(specRegistration(vec["fido-u2f-es256"]), verify.RegistrationPolicy{RequireTrusted: true}, specNow)
	if !errors.Is(err, verify.ErrUntrusted) {
		t.Errorf("no roots, trust required: %v", err)
	}
	// An ES384 credential is not one keydesk accepts.
	_, _, err = verify.CheckWebAuthnRegistration(specRegistration(vec["packed-es384"]), verify.RegistrationPolicy{Trust: specCA}, specNow)
	if !errors.Is(err, verify.ErrAlgorithm) {
		t.Errorf("ES384: %v", err)
	}
	// The browser's client data is checked: another origin is refused.
	in := specRegistration(vec["none-es256"])
	in.Origins = []string{"https://example.edu"}
	if _, _, err := verify.CheckWebAuthnRegistration(in, verify.RegistrationPolicy{}, specNow); !errors.Is(err, verify.ErrClientData) {
		t.Errorf("other origin: %v", err)
	}
}
