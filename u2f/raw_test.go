package u2f

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"os"
	"strings"
	"testing"
)

// example reads the FIDO U2F worked example (raw message formats §8):
// section → key → value.
func example(t testing.TB) map[string]map[string]string {
	t.Helper()
	f, err := os.Open("../testdata/vectors/u2f-raw-example.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]map[string]string{}
	var section string
	s := bufio.NewScanner(f)
	s.Buffer(nil, 1<<20)
	for s.Scan() {
		line := strings.TrimSpace(s.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "["):
			section = strings.Trim(line, "[]")
			out[section] = map[string]string{}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				t.Fatalf("bad line %q", line)
			}
			out[section][strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func param(t testing.TB, s string) [ParamSize]byte {
	var p [ParamSize]byte
	if b := unhex(t, s); copy(p[:], b) != ParamSize || len(b) != ParamSize {
		t.Fatalf("parameter %q is not 32 bytes", s)
	}
	return p
}

func TestParseRegistrationExample(t *testing.T) {
	ex := example(t)["registration"]
	reg, err := ParseRegistration(unhex(t, ex["response"]))
	if err != nil {
		t.Fatal(err)
	}
	if len(reg.PublicKey) != 65 || len(reg.KeyHandle) != 64 || len(reg.Certificate) != 320 || len(reg.Signature) != 71 {
		t.Fatalf("sizes: key %d, handle %d, cert %d, sig %d; want 65, 64, 320, 71",
			len(reg.PublicKey), len(reg.KeyHandle), len(reg.Certificate), len(reg.Signature))
	}
	// The user key in the example is the one of user_private_key.
	user, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), unhex(t, ex["user_private_key"]))
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := user.PublicKey.Bytes(); hex.EncodeToString(got) != hex.EncodeToString(reg.PublicKey) {
		t.Errorf("public key %x is not user_private_key's", reg.PublicKey)
	}
	// The attestation signature verifies with the certificate's key over
	// SignedData: this is what verify will do.
	cert, err := x509.ParseCertificate(reg.Certificate)
	if err != nil {
		t.Fatal(err)
	}
	pub := cert.PublicKey.(*ecdsa.PublicKey)
	app, chal := param(t, ex["app_param"]), param(t, ex["challenge_param"])
	if sha256.Sum256([]byte(ex["app_id"])) != app || sha256.Sum256([]byte(ex["client_data"])) != chal {
		t.Fatal("example parameters are not the hashes of app_id and client_data")
	}
	digest := sha256.Sum256(reg.SignedData(app, chal))
	if !ecdsa.VerifyASN1(pub, digest[:], reg.Signature) {
		t.Error("attestation signature does not verify over SignedData")
	}
	chal[0] ^= 1
	digest = sha256.Sum256(reg.SignedData(app, chal))
	if ecdsa.VerifyASN1(pub, digest[:], reg.Signature) {
		t.Error("attestation signature verifies over the wrong challenge")
	}
}

func TestParseAuthenticationExample(t *testing.T) {
	ex := example(t)["authentication"]
	auth, err := ParseAuthentication(unhex(t, ex["response"]))
	if err != nil {
		t.Fatal(err)
	}
	if !auth.UserPresent() || auth.Counter != 1 || len(auth.Signature) != 70 {
		t.Fatalf("got presence %v counter %d signature %d bytes", auth.UserPresent(), auth.Counter, len(auth.Signature))
	}
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), unhex(t, ex["user_public_key"]))
	if err != nil {
		t.Fatal(err)
	}
	app, chal := param(t, ex["app_param"]), param(t, ex["challenge_param"])
	digest := sha256.Sum256(auth.SignedData(app, chal))
	if !ecdsa.VerifyASN1(pub, digest[:], auth.Signature) {
		t.Error("signature does not verify over SignedData")
	}
	auth.Counter++
	digest = sha256.Sum256(auth.SignedData(app, chal))
	if ecdsa.VerifyASN1(pub, digest[:], auth.Signature) {
		t.Error("signature verifies over another counter")
	}
}

func TestParseRegistrationErrors(t *testing.T) {
	good := unhex(t, example(t)["registration"]["response"])
	mod := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	tests := []struct {
		name string
		in   []byte
		want string
	}{
		{"empty", nil, "at byte 0: empty response"},
		{"reserved", mod(func(b []byte) []byte { b[0] = 0x04; return b }), "at byte 0: reserved byte 0x04, want 0x05"},
		{"short key", good[:40], "at byte 40: response of 40 bytes ends inside the public key"},
		{"compressed", mod(func(b []byte) []byte { b[1] = 0x02; return b }), "at byte 1: public key starts with 0x02"},
		{"no handle", mod(func(b []byte) []byte { b[66] = 0; return b }), "at byte 66: key handle length 0"},
		{"short handle", good[:100], "at byte 100: response ends inside the 64-byte key handle"},
		{"no cert", good[:131], "at byte 131: attestation certificate: 0 bytes left"},
		{"cert tag", mod(func(b []byte) []byte { b[131] = 0x31; return b }), "at byte 131: attestation certificate: tag 0x31"},
		{"cert cut", good[:300], "at byte 131: attestation certificate: declares 320 bytes, 169 left"},
		{"no signature", good[:451], "at byte 451: signature: 0 bytes"},
		{"signature cut", good[:len(good)-1], "at byte 451: signature: declares 71 bytes, 70 left"},
		{"trailing", append(append([]byte(nil), good...), 0), "at byte 451: signature: trailing data (1 bytes)"},
		{"too long", make([]byte, MaxMessage+1), "at byte 7609: response of 7610 bytes exceeds 7609"},
	}
	for _, tt := range tests {
		reg, err := ParseRegistration(tt.in)
		var pe *ParseError
		if reg != nil || !errors.As(err, &pe) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: got %v, %v; want error %q", tt.name, reg, err, tt.want)
		}
	}
}

func TestParseAuthenticationErrors(t *testing.T) {
	good := unhex(t, example(t)["authentication"]["response"])
	for _, tt := range []struct {
		name string
		in   []byte
		want string
	}{
		{"short", good[:4], "at byte 4: response of 4 bytes ends before the counter"},
		{"no signature", good[:5], "at byte 5: signature: 0 bytes"},
		{"signature cut", good[:len(good)-2], "at byte 5: signature: declares 70 bytes, 68 left"},
		{"signature tag", append(append([]byte(nil), good[:5]...), 0x02, 0x06, 1, 2, 3, 4, 5, 6), "tag 0x02"},
	} {
		a, err := ParseAuthentication(tt.in)
		if a != nil || err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: got %v, %v; want error %q", tt.name, a, err, tt.want)
		}
	}
}

func TestDERLength(t *testing.T) {
	for _, tt := range []struct {
		in   []byte
		n    int
		want string
	}{
		{[]byte{0x30, 0x00}, 2, ""},
		{[]byte{0x30, 0x81, 0x80}, 0, "declares 131 bytes"},
		{[]byte{0x30, 0x81, 0x05, 1, 2, 3, 4, 5}, 0, "not in its shortest form"},
		{[]byte{0x30, 0x82, 0x00, 0x90}, 0, "not in its shortest form"},
		{[]byte{0x30, 0x83, 0x01, 0x00, 0x00}, 0, "longer than any U2F message"},
		{[]byte{0x30, 0x80}, 0, "indefinite"},
		{[]byte{0x30, 0x82, 0x01}, 0, "cut short"},
	} {
		n, err := derLength(tt.in)
		if tt.want == "" {
			if err != nil || n != tt.n {
				t.Errorf("%x: got %d, %v", tt.in, n, err)
			}
		} else if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%x: got %d, %v; want %q", tt.in, n, err, tt.want)
		}
	}
}

func FuzzParseRegistration(f *testing.F) {
	f.Add(unhex(f, example(f)["registration"]["response"]))
	// testdata/fuzz/FuzzParseRegistration holds the recorded transcripts' answers.
	f.Fuzz(func(t *testing.T, b []byte) {
		reg, err := ParseRegistration(b)
		if err != nil {
			if reg != nil {
				t.Fatal("partial result with an error")
			}
			return
		}
		n := 1 + len(reg.PublicKey) + 1 + len(reg.KeyHandle) + len(reg.Certificate) + len(reg.Signature)
		if n != len(b) || len(reg.PublicKey) != PublicKeySize || len(reg.KeyHandle) == 0 {
			t.Fatalf("fields cover %d of %d bytes", n, len(b))
		}
	})
}

func FuzzParseAuthentication(f *testing.F) {
	f.Add(unhex(f, example(f)["authentication"]["response"]))
	// testdata/fuzz/FuzzParseAuthentication holds the recorded transcripts' answers.
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := ParseAuthentication(b)
		if err != nil {
			if a != nil {
				t.Fatal("partial result with an error")
			}
			return
		}
		if 5+len(a.Signature) != len(b) {
			t.Fatalf("fields cover %d of %d bytes", 5+len(a.Signature), len(b))
		}
	})
}
