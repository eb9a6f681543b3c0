package verify_test

import (
	"bufio"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/keydesk/keydesk/u2f"
	"github.com/keydesk/keydesk/verify"
)

// exampleAttestation is the attestation certificate of the FIDO U2F raw
// message format's worked example (spec §8.1).
func exampleAttestation(f *testing.F) []byte {
	f.Helper()
	file, err := os.Open("../testdata/vectors/u2f-raw-example.txt")
	if err != nil {
		f.Fatal(err)
	}
	defer file.Close()
	sc := bufio.NewScanner(file)
	sc.Buffer(make([]byte, 64<<10), 64<<10)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if !ok || strings.TrimSpace(k) != "response" {
			continue
		}
		raw, err := hex.DecodeString(strings.TrimSpace(v))
		if err != nil {
			f.Fatal(err)
		}
		reg, err := u2f.ParseRegistration(raw)
		if err != nil {
			f.Fatal(err)
		}
		return reg.Certificate
	}
	f.Fatal("no registration response in the U2F example")
	return nil
}

// FuzzCheckAttestation feeds a key's attestation certificate, which comes
// from the key itself: anything is refused with ErrBadAttestation and
// nothing else, or read with one of the four results.
func FuzzCheckAttestation(f *testing.F) {
	root, err := os.ReadFile("../testdata/vectors/yubico-u2f-root-ca.pem")
	if err != nil {
		f.Fatal(err)
	}
	ts, err := verify.NewTrustStore(root)
	if err != nil {
		f.Fatal(err)
	}
	block, _ := pem.Decode(root)
	cert := exampleAttestation(f)
	f.Add(cert)
	f.Add(block.Bytes)
	f.Add(cert[:len(cert)-1])
	f.Add([]byte{0x30, 0x82, 0xff, 0xff})
	f.Add([]byte{})
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, der []byte) {
		a, c, err := verify.CheckAttestation(der, ts, now)
		if err != nil {
			if !errors.Is(err, verify.ErrBadAttestation) || c != nil || a != (verify.Attestation{}) {
				t.Fatalf("refusal %v with %+v, %v", err, a, c)
			}
			return
		}
		switch a.Result {
		case "trusted", "trusted, expired", "untrusted", "self-signed":
		default:
			t.Fatalf("result %q", a.Result)
		}
		if c == nil {
			t.Fatal("no certificate with a result")
		}
	})
}
