package fob

import (
	"bufio"
	"encoding/hex"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// vectorLines returns the non-comment lines of a file in testdata/vectors.
func vectorLines(t *testing.T, name string) [][]string {
	t.Helper()
	f, err := os.Open("../testdata/vectors/" + name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rows [][]string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		rows = append(rows, strings.Fields(line))
	}
	return rows[1:] // the header row
}

func TestRFC4226Vectors(t *testing.T) {
	secret := []byte("12345678901234567890")
	rows := vectorLines(t, "rfc4226-hotp.txt")
	if len(rows) != 10 {
		t.Fatalf("read %d vectors, want 10", len(rows))
	}
	for _, r := range rows {
		c, _ := strconv.ParseUint(r[0], 10, 64)
		if got := HOTPCode(secret, c, SHA1, 6); got != r[1] {
			t.Errorf("counter %d: got %s, want %s", c, got, r[1])
		}
	}
}

func TestRFC6238Vectors(t *testing.T) {
	seeds := map[Algorithm][]byte{
		SHA1:   []byte("12345678901234567890"),
		SHA256: []byte("12345678901234567890123456789012"),
		SHA512: []byte(strings.Repeat("1234567890", 6) + "1234"),
	}
	rows := vectorLines(t, "rfc6238-totp.txt")
	if len(rows) != 6 {
		t.Fatalf("read %d vectors, want 6", len(rows))
	}
	for _, r := range rows {
		unix, _ := strconv.ParseInt(r[0], 10, 64)
		for i, alg := range []Algorithm{SHA1, SHA256, SHA512} {
			tok := Token{Serial: "x", Kind: TOTP, Algorithm: alg, Digits: 8, Period: 30, Secret: seeds[alg]}
			step := tok.Step(time.Unix(unix, 0))
			if got := tok.Code(uint64(step)); got != r[1+i] {
				t.Errorf("%s at %d: got %s, want %s", alg, unix, got, r[1+i])
			}
		}
	}
}

func TestStepBeforeT0(t *testing.T) {
	tok := Token{Period: 30, T0: 100}
	for _, c := range []struct {
		unix int64
		want int64
	}{{100, 0}, {129, 0}, {130, 1}, {99, -1}, {70, -1}, {69, -2}} {
		if got := tok.Step(time.Unix(c.unix, 0)); got != c.want {
			t.Errorf("step at %d: got %d, want %d", c.unix, got, c.want)
		}
	}
}

// Yubico's published OTP test vectors (key 00..0f, private id 010203040506).
func TestYubicoOTPVectors(t *testing.T) {
	key, _ := hex.DecodeString("000102030405060708090a0b0c0d0e0f")
	want := YubicoFields{PrivateID: [6]byte{1, 2, 3, 4, 5, 6}, Timestamp: 0x010001}
	for otp, f := range map[string]struct {
		use     uint16
		session uint8
	}{
		"dvgtiblfkbgturecfllberrvkinnctnn": {1, 1},
		"rnibcnfhdninbrdebccrndfhjgnhftee": {1, 2},
		"iikkijbdknrrdhfdrjltvgrbkkjblcbh": {0xfff, 1},
	} {
		token, err := DecodeModhex(otp)
		if err != nil {
			t.Fatal(err)
		}
		got, err := OpenYubicoOTP(key, token)
		if err != nil {
			t.Fatalf("%s: %v", otp, err)
		}
		w := want
		w.UseCounter, w.SessionUse = f.use, f.session
		if got != w {
			t.Errorf("%s: got %+v, want %+v", otp, got, w)
		}
		again, err := SealYubicoOTP(key, "", got)
		if err != nil || again != otp {
			t.Errorf("sealing %+v gave %s (%v), want %s", got, again, err, otp)
		}
	}
}

func TestYubicoOTPRoundTripAndTamper(t *testing.T) {
	key := []byte("0123456789abcdef")
	f := YubicoFields{PrivateID: [6]byte{1, 2, 3, 4, 5, 6}, UseCounter: 513, Timestamp: 0xabcdef, SessionUse: 7, Random: 999}
	otp, err := SealYubicoOTP(key, "cccccccccccb", f)
	if err != nil {
		t.Fatal(err)
	}
	pub, tok, err := SplitYubicoOTP(strings.ToUpper(otp))
	if err != nil || pub != "cccccccccccb" {
		t.Fatalf("split: %q %v", pub, err)
	}
	got, err := OpenYubicoOTP(key, tok)
	if err != nil || got != f {
		t.Fatalf("open: %+v %v", got, err)
	}
	if got.Counter() != 513<<8|7 {
		t.Errorf("counter %d", got.Counter())
	}
	tok[3] ^= 1
	if _, err := OpenYubicoOTP(key, tok); err != ErrYubicoCRC {
		t.Errorf("tampered token: %v", err)
	}
	if _, err := OpenYubicoOTP([]byte("fedcba9876543210"), tok); err != ErrYubicoCRC {
		t.Errorf("wrong key: %v", err)
	}
	for _, bad := range []string{"", "cccc", strings.Repeat("a", 32), strings.Repeat("c", 80)} {
		if _, _, err := SplitYubicoOTP(bad); err == nil {
			t.Errorf("SplitYubicoOTP(%q) succeeded", bad)
		}
	}
}

func TestValidate(t *testing.T) {
	seed := []byte("12345678901234567890")
	ok := []Token{
		{Serial: "A1", Kind: HOTP, Secret: seed},
		{Serial: "A2", Kind: TOTP, Secret: seed, Algorithm: SHA512, Digits: 8, Period: 60},
		{Serial: "Y1", Kind: Yubico, Secret: seed[:16], PrivateID: seed[:6], PublicID: "vvccccfhcbdf"},
	}
	for _, tok := range ok {
		tok.Normalize()
		if err := tok.Validate(); err != nil {
			t.Errorf("%s: %v", tok.Serial, err)
		}
	}
	bad := map[string]Token{
		"missing serial":    {Kind: HOTP, Secret: seed},
		"seed too short":    {Serial: "s", Kind: HOTP, Secret: seed[:10]},
		"missing secret":    {Serial: "s", Kind: TOTP},
		"5 digits":          {Serial: "s", Kind: HOTP, Secret: seed, Digits: 5},
		"unknown kind":      {Serial: "s", Kind: "sms", Secret: seed},
		"private id of 5":   {Serial: "s", Kind: Yubico, Secret: seed[:16], PrivateID: seed[:5]},
		"control character": {Serial: "a\nb", Kind: HOTP, Secret: seed},
		"not modhex":        {Serial: "s", Kind: Yubico, Secret: seed[:16], PrivateID: seed[:6], PublicID: "xyz0"},
	}
	for want, tok := range bad {
		tok.Normalize()
		err := tok.Validate()
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("want error containing %q, got %v", want, err)
		}
	}
}

func FuzzSplitYubicoOTP(f *testing.F) {
	f.Add("dvgtiblfkbgturecfllberrvkinnctnn")
	f.Add("ccccccccccccdvgtiblfkbgturecfllberrvkinnctnn")
	f.Fuzz(func(t *testing.T, s string) {
		pub, tok, err := SplitYubicoOTP(s)
		if err != nil {
			if pub != "" || tok != nil {
				t.Fatal("partial result on error")
			}
			return
		}
		if len(tok) != 16 || EncodeModhex(tok) != strings.ToLower(strings.TrimSpace(s))[len(pub):] {
			t.Fatalf("split %q into %q %x", s, pub, tok)
		}
	})
}
