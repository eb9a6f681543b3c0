package u2f

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
)

func TestCOSEKeys(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	edPub, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	msg := []byte("authData || clientDataHash")
	for _, tt := range []struct {
		pub  any
		sign func() []byte
		alg  COSEAlgorithm
	}{
		{&ec.PublicKey, func() []byte { s, _ := ec.Sign(rand.Reader, sha(msg), nil); return s }, ES256},
		{edPub, func() []byte { return ed25519.Sign(edPriv, msg) }, EdDSA},
	} {
		k, err := NewCOSEKey(tt.pub)
		if err != nil {
			t.Fatal(err)
		}
		back, err := ParseCOSEKey(k.Raw)
		if err != nil || back.Algorithm != tt.alg {
			t.Fatalf("%v: %v, %v", tt.alg, back, err)
		}
		if err := back.Verify(msg, tt.sign()); err != nil {
			t.Errorf("%v: %v", tt.alg, err)
		}
		if err := back.Verify(append(msg, 0), tt.sign()); !errors.Is(err, ErrBadSignature) {
			t.Errorf("%v over other data: %v", tt.alg, err)
		}
	}
	// The spec example's key, by hand: {1: 2, 3: -7, -1: 1, -2: x, -3: y}.
	spec := "a5010203262001215820643566c206dd00227005fa5de69320616ca268043a38f08bde2e9dc45a5cafaf225820171353b2932434703726aae579fa6542432861fe591e481ea22d63997e1a5290"
	if _, err := ParseCOSEKey(unhex(t, spec)); err != nil {
		t.Errorf("spec key: %v", err)
	}
	offCurve := strings.Replace(spec, "171353b2", "171353b3", 1)
	badEd := "a4010103272006215820" + "02" + strings.Repeat("00", 31) // y = 2: no point
	for _, tt := range []struct{ name, in, want string }{
		{"P-256 point off the curve", offCurve, "not on the curve"},
		{"Ed25519 point off the curve", badEd, "not on the curve"},
		{"RS256", "a40103033901002041002143010001", "unsupported COSE key"},
		{"P-384", strings.Replace(spec, "2001", "2002", 1), "curve 2"},
		{"short x", "a50102032620012141aa225820171353b2932434703726aae579fa6542432861fe591e481ea22d63997e1a5290", "want 32 each"},
		{"duplicate key", "a201020102", "duplicate"},
		{"not a map", "01", "cannot unmarshal"},
	} {
		k, err := ParseCOSEKey(unhex(t, tt.in))
		if k != nil || err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want %q", tt.name, err, tt.want)
		}
	}
}

func sha(b []byte) []byte {
	var s [32]byte
	h := ecdsaHash(b)
	copy(s[:], h)
	return s[:]
}

func ecdsaHash(b []byte) []byte { h := sha256Sum(b); return h[:] }
