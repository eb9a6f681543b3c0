package u2f

import (
	"bytes"
	"crypto/ecdh"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
)

// PIN protocol 1 vectors (a platform key, an authenticator key, and what
// follows for the PIN "1234"), as python-fido2's tests have them.
const (
	v1PlatformPriv = "7452e599fee739d8a653f6a507343d12d382249108a651402520b72f24fe7684"
	v1PlatformPub  = "04" + "44d78d7989b97e62ea993496c9ef6e8fd58b8b00715f9a89153ddd9c4657e47f" + "ec802ee7d22bd4e100f12e48537eb4e7e96ed3a47a0a3bd5f5eeab65001664f9"
	v1DevicePub    = "04" + "0501d5bc78da9252560a26cb08fcc60cbe0b6d3b8e1d1fcee514fac0af675168" + "d551b3ed46f665731f95b4532939c25d91db7eb844bd96d4abd4083785f8df47"
	v1Shared       = "c42a039d548100dfba521e487debcbbb8b66bb7496f8b1862a7a395ed83e1a1c"
	v1TokenEnc     = "7a9f98e31b77be90f9c64d12e9635040"
	v1Token        = "aff12c6dcfbf9df52f7a09211e8865cd"
	v1PINHashEnc   = "afe8327ce416da8ee3d057589c2ce1a9"
	v1SetPINEnc    = "0222fc42c6dd76a274a7057858b9b29d98e8a722ec2dc6668476168c5320473cec9907b4cd76ce7943c96ba5683943211d84471e64d9c51e54763488cd66526a"
	v1SetPINParam  = "7b40c084ccc5794194189ab57836475f"
	v1ChangeEnc    = "4280e14aac4fcbf02dd079985f0c0ffc9ea7d5f9c173fd1a4c843826f7590cb3c2d080c6923e2fe6d7a52c31ea1309d3fcca3dedae8a2ef14b6330cafc79339e"
	v1ChangeParam  = "fb97e92f3724d7c85e001d7f93e6490a"
)

func TestPINProtocolOneVectors(t *testing.T) {
	priv, err := ecdh.P256().NewPrivateKey(unhex(t, v1PlatformPriv))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(priv.PublicKey().Bytes(), unhex(t, v1PlatformPub)) {
		t.Fatal("platform public key")
	}
	dev, err := ecdh.P256().NewPublicKey(unhex(t, v1DevicePub))
	if err != nil {
		t.Fatal(err)
	}
	s, err := PINProtocolOne.Decapsulate(priv, dev)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(s.aesKey, unhex(t, v1Shared)) || !bytes.Equal(s.hmacKey, unhex(t, v1Shared)) {
		t.Errorf("shared secret %x", s.aesKey)
	}
	check := func(what string, got []byte, err error, want string) {
		t.Helper()
		if err != nil || !bytes.Equal(got, unhex(t, want)) {
			t.Errorf("%s: %x, %v; want %s", what, got, err, want)
		}
	}
	enc, err := s.Encrypt(nil, PINHash([]byte("1234")))
	check("pinHashEnc", enc, err, v1PINHashEnc)
	tok, err := s.DecryptPINToken(unhex(t, v1TokenEnc))
	if err != nil {
		t.Fatal(err)
	}
	check("token", tok.key, nil, v1Token)
	enc, err = s.Encrypt(nil, PadPIN("1234"))
	check("setPIN newPinEnc", enc, err, v1SetPINEnc)
	check("setPIN pinUvAuthParam", s.Authenticate(enc), nil, v1SetPINParam)
	enc, err = s.Encrypt(nil, PadPIN("4321"))
	check("changePIN newPinEnc", enc, err, v1ChangeEnc)
	check("changePIN pinUvAuthParam", s.Authenticate(append(enc, unhex(t, v1PINHashEnc)...)), nil, v1ChangeParam)
	if !s.Verify(unhex(t, v1SetPINEnc), unhex(t, v1SetPINParam)) {
		t.Error("the authenticator's verify refuses the platform's param")
	}
}

// TestPINProtocolsBothSides runs each protocol's platform side against
// its authenticator side, and the refusals.
func TestPINProtocolsBothSides(t *testing.T) {
	for _, p := range []PINProtocol{PINProtocolOne, PINProtocolTwo} {
		dev, err := NewKeyAgreementKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		platPub, plat, err := p.Encapsulate(rand.Reader, dev.PublicKey())
		if err != nil {
			t.Fatal(err)
		}
		auth, err := p.Decapsulate(dev, platPub)
		if err != nil {
			t.Fatal(err)
		}
		enc, err := plat.Encrypt(rand.Reader, PadPIN("correct horse"))
		if err != nil {
			t.Fatal(err)
		}
		wantLen := map[PINProtocol]int{1: 64, 2: 80}[p]
		if len(enc) != wantLen {
			t.Errorf("protocol %d: newPinEnc of %d bytes, want %d", p, len(enc), wantLen)
		}
		padded, err := auth.Decrypt(enc)
		if err != nil {
			t.Fatal(err)
		}
		if pin, err := UnpadPIN(padded); err != nil || string(pin) != "correct horse" {
			t.Errorf("protocol %d: PIN %q, %v", p, pin, err)
		}
		param := plat.Authenticate(enc)
		if len(param) != map[PINProtocol]int{1: 16, 2: 32}[p] || !auth.Verify(enc, param) {
			t.Errorf("protocol %d: param of %d bytes does not verify", p, len(param))
		}
		// Refusals: a changed message, a changed or cut param, a secret
		// from another exchange.
		bad := append([]byte(nil), param...)
		bad[0] ^= 1
		other, _ := p.Decapsulate(dev, mustKey(t).PublicKey())
		for what, ok := range map[string]bool{
			"changed message": auth.Verify(append([]byte{0}, enc...), param),
			"changed param":   auth.Verify(enc, bad),
			"cut param":       auth.Verify(enc, param[:len(param)-1]),
			"empty param":     auth.Verify(enc, nil),
			"other secret":    other.Verify(enc, param),
		} {
			if ok {
				t.Errorf("protocol %d: %s verifies", p, what)
			}
		}
		if _, err := auth.Decrypt(enc[:len(enc)-1]); !errors.Is(err, ErrDecrypt) {
			t.Errorf("protocol %d: cut ciphertext: %v", p, err)
		}
		if _, err := plat.Encrypt(rand.Reader, make([]byte, 15)); err == nil {
			t.Errorf("protocol %d: encrypted a partial block", p)
		}
		// Tokens: the authenticator's check of a request's param.
		token := make([]byte, 32)
		rand.Read(token)
		tenc, _ := auth.Encrypt(rand.Reader, token)
		tok, err := plat.DecryptPINToken(tenc)
		if err != nil {
			t.Fatal(err)
		}
		cdh := make([]byte, 32)
		if !p.VerifyParam(token, cdh, tok.Param(cdh)) || p.VerifyParam(token, cdh, tok.Param(cdh[1:])) {
			t.Errorf("protocol %d: token param", p)
		}
		if s := tok.String() + plat.String(); strings.Contains(s, string(token)) {
			t.Error("a secret is printed")
		}
	}
	if _, _, err := PINProtocol(3).Encapsulate(rand.Reader, mustKey(t).PublicKey()); !errors.Is(err, ErrPINProtocol) {
		t.Errorf("protocol 3: %v", err)
	}
	if PINProtocol(3).VerifyParam(make([]byte, 32), nil, nil) {
		t.Error("protocol 3 verifies")
	}
}

func mustKey(t *testing.T) *ecdh.PrivateKey {
	k, err := NewKeyAgreementKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestPINRules(t *testing.T) {
	for _, tt := range []struct {
		pin  string
		min  int
		want string // "" accepted
	}{
		{"1234", 0, ""},
		{"123", 0, "3 characters, the key wants at least 4"},
		{"12345", 6, "5 characters, the key wants at least 6"},
		{"ñäöü", 0, ""}, // 4 code points, 8 bytes
		{strings.Repeat("a", 63), 0, ""},
		{strings.Repeat("a", 64), 0, "64 bytes, at most 63"},
		{strings.Repeat("ü", 32), 0, "64 bytes, at most 63"},
		{"12\x0034", 0, "zero byte"},
		{"\xff\xfe12", 0, "not valid UTF-8"},
	} {
		err := CheckPIN(tt.pin, tt.min)
		if tt.want == "" && err != nil || tt.want != "" && (!errors.Is(err, ErrPINRules) || !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("%q (min %d): %v, want %q", tt.pin, tt.min, err, tt.want)
		}
		if err != nil && tt.pin != "" && strings.Contains(err.Error(), tt.pin) {
			t.Errorf("the error shows the PIN: %v", err)
		}
	}
	if p := PadPIN("1234"); len(p) != 64 || string(p[:4]) != "1234" || p[4] != 0 {
		t.Errorf("padded %x", p)
	}
	if _, err := UnpadPIN(make([]byte, 63)); err == nil {
		t.Error("unpadded 63 bytes")
	}
	if h := PINHash([]byte("1234")); hexString(h) != "03ac674216f3e15c761ee1a5e255f067" {
		t.Errorf("LEFT(SHA-256(1234), 16) = %x", h)
	}
}
