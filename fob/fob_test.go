package fob_test

import (
	"encoding/hex"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/keydesk/keydesk/fob"
	"github.com/keydesk/keydesk/internal/testfob"
)

func TestRFC4226Vectors(t *testing.T) {
	secret := []byte("12345678901234567890")
	rows := testfob.VectorRows(t, "rfc4226-hotp.txt")
	if len(rows) != 10 {
		t.Fatalf("read %d vectors, want 10", len(rows))
	}
	for _, r := range rows {
		c, _ := strconv.ParseUint(r[0], 10, 64)
		if got := fob.HOTPCode(secret, c, fob.SHA1, 6); got != r[1] {
			t.Errorf("counter %d: got %s, want %s", c, got, r[1])
		}
	}
}

func TestRFC6238Vectors(t *testing.T) {
	seeds := map[fob.Algorithm][]byte{
		fob.SHA1:   []byte("12345678901234567890"),
		fob.SHA256: []byte("12345678901234567890123456789012"),
		fob.SHA512: []byte(strings.Repeat("1234567890", 6) + "1234"),
	}
	rows := testfob.VectorRows(t, "rfc6238-totp.txt")
	if len(rows) != 6 {
		t.Fatalf("read %d vectors, want 6", len(rows))
	}
	for _, r := range rows {
		unix, _ := strconv.ParseInt(r[0], 10, 64)
		for i, alg := range []fob.Algorithm{fob.SHA1, fob.SHA256, fob.SHA512} {
			tok := fob.Token{Serial: "x", Kind: fob.TOTP, Algorithm: alg, Digits: 8, Period: 30, Secret: seeds[alg]}
			step := tok.Step(time.Unix(unix, 0))
			if got := tok.Code(uint64(step)); got != r[1+i] {
				t.Errorf("%s at %d: got %s, want %s", alg, unix, got, r[1+i])
			}
		}
	}
}

func TestStepBeforeT0(t *testing.T) {
	tok := fob.Token{Period: 30, T0: 100}
	for _, c := range []struct {
		unix int64
		want int64
	}{{100, 0}, {129, 0}, {130, 1}, {99, -1}, {70, -1}, {69, -2}} {
		if got := tok.Step(time.Unix(c.unix, 0)); got != c.want {
			t.Errorf("step at %d: got %d, want %d", c.unix, got, c.want)
		}
	}
}

// fob.Yubico's published OTP test vectors (key 00..0f, private id 010203040506).
func TestYubicoOTPVectors(t *testing.T) {
	key, _ := hex.DecodeString("000102030405060708090a0b0c0d0e0f")
	want := fob.YubicoFields{PrivateID: [6]byte{1, 2, 3, 4, 5, 6}, Timestamp: 0x010001}
	for otp, f := range map[string]struct {
		use     uint16
		session uint8
	}{
		"dvgtiblfkbgturecfllberrvkinnctnn": {1, 1},
		"rnibcnfhdninbrdebccrndfhjgnhftee": {1, 2},
		"iikkijbdknrrdhfdrjltvgrbkkjblcbh": {0xfff, 1},
	} {
		token, err := fob.DecodeModhex(otp)
		if err != nil {
			t.Fatal(err)
		}
		got, err := fob.OpenYubicoOTP(key, token)
		if err != nil {
			t.Fatalf("%s: %v", otp, err)
		}
		w := want
		w.UseCounter, w.SessionUse = f.use, f.session
		if got != w {
			t.Errorf("%s: got %+v, want %+v", otp, got, w)
		}
		again, err := fob.SealYubicoOTP(key, "", got)
		if err != nil || again != otp {
			t.Errorf("sealing %+v gave %s (%v), want %s", got, again, err, otp)
		}
	}
}

func TestYubicoOTPRoundTripAndTamper(t *testing.T) {
	key := []byte("0123456789abcdef")
	f := fob.YubicoFields{PrivateID: [6]byte{1, 2, 3, 4, 5, 6}, UseCounter: 513, Timestamp: 0xabcdef, SessionUse: 7, Random: 999}
	otp, err := fob.SealYubicoOTP(key, "cccccccccccb", f)
	if err != nil {
		t.Fatal(err)
	}
	pub, tok, err := fob.SplitYubicoOTP(strings.ToUpper(otp))
	if err != nil || pub != "cccccccccccb" {
		t.Fatalf("split: %q %v", pub, err)
	}
	got, err := fob.OpenYubicoOTP(key, tok)
	if err != nil || got != f {
		t.Fatalf("open: %+v %v", got, err)
	}
	if got.Counter() != 513<<8|7 {
		t.Errorf("counter %d", got.Counter())
	}
	tok[3] ^= 1
	if _, err := fob.OpenYubicoOTP(key, tok); err != fob.ErrYubicoCRC {
		t.Errorf("tampered token: %v", err)
	}
	if _, err := fob.OpenYubicoOTP([]byte("fedcba9876543210"), tok); err != fob.ErrYubicoCRC {
		t.Errorf("wrong key: %v", err)
	}
	for _, bad := range []string{"", "cccc", strings.Repeat("a", 32), strings.Repeat("c", 80)} {
		if _, _, err := fob.SplitYubicoOTP(bad); err == nil {
			t.Errorf("SplitYubicoOTP(%q) succeeded", bad)
		}
	}
}

func TestValidate(t *testing.T) {
	seed := []byte("12345678901234567890")
	ok := []fob.Token{
		{Serial: "A1", Kind: fob.HOTP, Secret: seed},
		{Serial: "A2", Kind: fob.TOTP, Secret: seed, Algorithm: fob.SHA512, Digits: 8, Period: 60},
		{Serial: "Y1", Kind: fob.Yubico, Secret: seed[:16], PrivateID: seed[:6], PublicID: "vvccccfhcbdf"},
		// The edges: the last counter an HOTP fob may start from, the last
		// Yubico counter an OTP can still beat, a user name with inner
		// spaces, a key valid for one instant, dates on one side only.
		{Serial: "E1", Kind: fob.HOTP, Secret: seed, Counter: fob.MaxCounter, User: "dave,jr"},
		{Serial: "E2", Kind: fob.Yubico, Secret: seed[:16], PrivateID: seed[:6], Counter: 0x7fff<<8 | 0xfe},
		{Serial: "E3", Kind: fob.TOTP, Secret: seed, NotBefore: time.Unix(1e9, 0), NotAfter: time.Unix(1e9, 0)},
		{Serial: "E4", Kind: fob.TOTP, Secret: seed, NotAfter: time.Unix(1e9, 0)},
		{Serial: "E5", Kind: fob.TOTP, Secret: seed, NotBefore: time.Unix(1e9, 0), Counter: 1<<64 - 1}, // TOTP keeps no counter
	}
	for _, tok := range ok {
		tok.Normalize()
		if err := tok.Validate(); err != nil {
			t.Errorf("%s: %v", tok.Serial, err)
		}
	}
	bad := map[string]fob.Token{
		"missing serial":    {Kind: fob.HOTP, Secret: seed},
		"seed too short":    {Serial: "s", Kind: fob.HOTP, Secret: seed[:10]},
		"missing secret":    {Serial: "s", Kind: fob.TOTP},
		"5 digits":          {Serial: "s", Kind: fob.HOTP, Secret: seed, Digits: 5},
		"unknown kind":      {Serial: "s", Kind: "sms", Secret: seed},
		"private id of 5":   {Serial: "s", Kind: fob.Yubico, Secret: seed[:16], PrivateID: seed[:5]},
		"control character": {Serial: "a\nb", Kind: fob.HOTP, Secret: seed},
		"not modhex":        {Serial: "s", Kind: fob.Yubico, Secret: seed[:16], PrivateID: seed[:6], PublicID: "xyz0"},
		"counter 18446744073709551615 is past 9223372036854775807": {Serial: "s", Kind: fob.HOTP, Secret: seed, Counter: 1<<64 - 1},
		"counter 9223372036854775808 is past":                      {Serial: "s", Kind: fob.HOTP, Secret: seed, Counter: fob.MaxCounter + 1},
		"counter 32767.255: no OTP":                                {Serial: "s", Kind: fob.Yubico, Secret: seed[:16], PrivateID: seed[:6], Counter: 0x7fffff},
		"counter 65535.255: no OTP":                                {Serial: "s", Kind: fob.Yubico, Secret: seed[:16], PrivateID: seed[:6], Counter: 0xffffff},
		`user name " alice" contains white space`:                  {Serial: "s", Kind: fob.HOTP, Secret: seed, User: " alice"},
		`user name "   " contains white space`:                     {Serial: "s", Kind: fob.HOTP, Secret: seed, User: "   "},
		`user name "a\tb" contains white space`:                    {Serial: "s", Kind: fob.HOTP, Secret: seed, User: "a\tb"},
		"user name longer than 128":                                {Serial: "s", Kind: fob.HOTP, Secret: seed, User: strings.Repeat("u", 129)},
		"key expires (2001-09-09T01:46:39Z) before it starts (2001-09-09T01:46:40Z)": {Serial: "s", Kind: fob.TOTP, Secret: seed,
			NotBefore: time.Unix(1e9, 0), NotAfter: time.Unix(1e9-1, 0)},
	}
	for want, tok := range bad {
		tok.Normalize()
		err := tok.Validate()
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("want error containing %q, got %v", want, err)
		}
	}
}

func TestNormalizeDatesUTC(t *testing.T) {
	at := time.Date(2030, 6, 30, 12, 0, 0, 0, time.FixedZone("CEST", 2*3600))
	tok := fob.Token{NotBefore: at, NotAfter: at.Add(time.Hour)}
	tok.Normalize()
	if tok.NotBefore != at.UTC() || tok.NotAfter != at.Add(time.Hour).UTC() || tok.NotBefore.Location() != time.UTC {
		t.Errorf("got %v, %v", tok.NotBefore, tok.NotAfter)
	}
	var zero fob.Token
	zero.Normalize()
	if !zero.NotBefore.IsZero() || !zero.NotAfter.IsZero() {
		t.Error("zero dates not kept zero")
	}
}

func TestCheckUserName(t *testing.T) {
	for _, ok := range []string{"alice", "dave,jr", "o'brien", "jürgen", strings.Repeat("u", 128)} {
		if err := fob.CheckUserName(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", " ", "alice ", "\u00a0alice", "Dave, Jr.", "carol smith", "a\x00b", "a\u0085b", strings.Repeat("u", 129)} {
		if err := fob.CheckUserName(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func FuzzSplitYubicoOTP(f *testing.F) {
	f.Add("dvgtiblfkbgturecfllberrvkinnctnn")
	f.Add("ccccccccccccdvgtiblfkbgturecfllberrvkinnctnn")
	f.Fuzz(func(t *testing.T, s string) {
		pub, tok, err := fob.SplitYubicoOTP(s)
		if err != nil {
			if pub != "" || tok != nil {
				t.Fatal("partial result on error")
			}
			return
		}
		if len(tok) != 16 || fob.EncodeModhex(tok) != strings.ToLower(strings.TrimSpace(s))[len(pub):] {
			t.Fatalf("split %q into %q %x", s, pub, tok)
		}
	})
}

func TestNormalizeCode(t *testing.T) {
	for in, want := range map[string]string{
		"592264": "592264", "592 264": "592264", "333-503-004": "333503004", " 287082\n": "287082",
		"\tcccc-cbhh nnrb": "cccccbhhnnrb", "": "", "--": "",
	} {
		if got := fob.NormalizeCode(in); got != want {
			t.Errorf("NormalizeCode(%q) = %q, want %q", in, got, want)
		}
	}
}
