package verify_test

import (
	"encoding/hex"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/keydesk/keydesk/fob"
	"github.com/keydesk/keydesk/internal/testfob"
)

// TestRFC4226Vectors types the RFC 4226 Appendix D codes in order into one
// fob, and each into a fob whose counter is already there.
func TestRFC4226Vectors(t *testing.T) {
	e := newEnv(t)
	rows := testfob.VectorRows(t, "rfc4226-hotp.txt")
	if len(rows) != 10 {
		t.Fatalf("%d vectors, want 10", len(rows))
	}
	tok := fob.Token{Serial: "RFC4226", Kind: fob.HOTP, Secret: []byte("12345678901234567890")}
	tok.Normalize()
	e.add(t, "", tok)
	for _, r := range rows {
		c, _ := strconv.ParseUint(r[0], 10, 64)
		wantAllow(t, "RFC 4226 counter "+r[0], e.serial(t, "RFC4226", r[1]))
		if f := e.fob(t, "RFC4226"); f.Token.Counter != c+1 {
			t.Errorf("after counter %d the fob's counter is %d", c, f.Token.Counter)
		}
		at := tok
		at.Serial, at.Counter = "RFC4226-at-"+r[0], c
		e.add(t, "", at)
		wantAllow(t, "RFC 4226 fob at counter "+r[0], e.serial(t, at.Serial, r[1]))
	}
}

// TestRFC6238Vectors: each RFC 6238 Appendix B code, on a fresh 8-digit
// fob of its hash, at its time.
func TestRFC6238Vectors(t *testing.T) {
	seeds := map[fob.Algorithm][]byte{
		fob.SHA1:   []byte("12345678901234567890"),
		fob.SHA256: []byte("12345678901234567890123456789012"),
		fob.SHA512: []byte(strings.Repeat("1234567890", 6) + "1234"),
	}
	rows := testfob.VectorRows(t, "rfc6238-totp.txt")
	if len(rows) != 6 {
		t.Fatalf("%d vectors, want 6", len(rows))
	}
	e := newEnv(t)
	for _, r := range rows {
		unix, _ := strconv.ParseInt(r[0], 10, 64)
		for i, alg := range []fob.Algorithm{fob.SHA1, fob.SHA256, fob.SHA512} {
			serial := fmt.Sprintf("RFC6238-%s-%d", alg, unix)
			e.add(t, "", fob.Token{Serial: serial, Kind: fob.TOTP, Algorithm: alg, Digits: 8, Period: 30, Secret: seeds[alg]})
			e.clock.Set(time.Unix(unix, 0))
			wantAllow(t, serial, e.serial(t, serial, r[1+i]))
		}
	}
}

// oathtool runs the reference implementation from oath-toolkit.
func oathtool(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("oathtool", args...).Output()
	if err != nil {
		t.Fatalf("oathtool %s: %v", strings.Join(args, " "), err)
	}
	return strings.TrimSpace(string(out))
}

func needOathtool(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("oathtool"); err != nil {
		t.Skip("oathtool is not installed (apt-get install oathtool); the codes of the reference implementation were not checked")
	}
}

// TestOathtoolHOTP: codes from oathtool are accepted for every hash and
// length. oathtool's --hotp is SHA-1 only; a TOTP with a 1 s step from
// T0 = 0 at Unix time c is HOTP at counter c (RFC 6238 §4), which gives
// oathtool's SHA-256 and SHA-512 HOTP codes.
func TestOathtoolHOTP(t *testing.T) {
	needOathtool(t)
	e := newEnv(t)
	for _, alg := range []fob.Algorithm{fob.SHA1, fob.SHA256, fob.SHA512} {
		for digits := 6; digits <= 8; digits++ {
			serial := fmt.Sprintf("OATH-H-%s-%d", alg, digits)
			tok := fob.Token{Serial: serial, Kind: fob.HOTP, Algorithm: alg, Digits: digits, Secret: seed(serial, 32)}
			e.add(t, "", tok)
			key := hex.EncodeToString(tok.Secret)
			for _, c := range []uint64{0, 1, 5, 14, 23} { // each within 10 of the last
				var code string
				if alg == fob.SHA1 {
					code = oathtool(t, "--hotp", "-c", fmt.Sprint(c), "-d", fmt.Sprint(digits), key)
				} else {
					code = oathtool(t, "--totp="+string(alg), "-s", "1", "-N", fmt.Sprintf("@%d", c), "-d", fmt.Sprint(digits), key)
				}
				wantAllow(t, fmt.Sprintf("%s counter %d code %s", serial, c, code), e.serial(t, serial, code))
			}
		}
	}
}

// TestOathtoolTOTP: oathtool's TOTP codes at 30 and 60 s steps, every hash
// and length, with T0 at zero and elsewhere.
func TestOathtoolTOTP(t *testing.T) {
	needOathtool(t)
	e := newEnv(t)
	now := start
	for _, alg := range []fob.Algorithm{fob.SHA1, fob.SHA256, fob.SHA512} {
		for digits := 6; digits <= 8; digits++ {
			for _, period := range []int{30, 60} {
				for _, t0 := range []int64{0, 1_000_000_007} {
					serial := fmt.Sprintf("OATH-T-%s-%d-%d-%d", alg, digits, period, t0)
					tok := fob.Token{Serial: serial, Kind: fob.TOTP, Algorithm: alg, Digits: digits,
						Period: period, T0: t0, Secret: seed(serial, 20)}
					e.add(t, "", tok)
					key := hex.EncodeToString(tok.Secret)
					for i := range 3 {
						at := now.Add(time.Duration(i*period) * time.Second)
						e.clock.Set(at)
						code := oathtool(t, "--totp="+string(alg), "-s", fmt.Sprintf("%ds", period),
							"-S", fmt.Sprintf("@%d", t0), "-N", fmt.Sprintf("@%d", at.Unix()), "-d", fmt.Sprint(digits), key)
						wantAllow(t, fmt.Sprintf("%s at %d code %s", serial, at.Unix(), code), e.serial(t, serial, code))
					}
				}
			}
		}
	}
}
