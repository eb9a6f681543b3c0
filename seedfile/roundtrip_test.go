package seedfile

import (
	"bytes"
	"crypto/aes"
	"encoding/hex"
	"errors"
	"iter"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/keydesk/keydesk/fob"
)

// sample is a set of fobs that uses every field a Token has.
func sample() []fob.Token {
	return []fob.Token{
		{Serial: "H-1", Kind: fob.HOTP, Algorithm: fob.SHA1, Digits: 6, Counter: 1<<40 + 7, Secret: rfcSeed,
			Manufacturer: "Acme <Tokens> & Co", Model: "OTP c200", KeyID: "key \"1\"", User: "alice", Issuer: "ACME", Label: "alice@acme"},
		{Serial: "T-2", Kind: fob.TOTP, Algorithm: fob.SHA256, Digits: 8, Period: 60, T0: 1_700_000_000, Drift: -3,
			Secret: bytes.Repeat([]byte{0xA5}, 32), User: "bob",
			NotBefore: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), NotAfter: time.Date(2030, 6, 30, 10, 0, 0, 250e6, time.UTC)},
		{Serial: "T-3", Kind: fob.TOTP, Algorithm: fob.SHA512, Digits: 7, Period: 30, Drift: 2, Secret: bytes.Repeat([]byte{7}, 64)},
		{Serial: "Y-4", Kind: fob.Yubico, Counter: 300<<8 | 4, Secret: bytes.Repeat([]byte{9}, 16), PublicID: "vvcccbhcklhb",
			PrivateID: []byte{1, 2, 3, 4, 5, 6}, Manufacturer: "Yubico", User: "carol", KeyID: "2309853:1",
			NotAfter: time.Date(2029, 12, 31, 23, 59, 59, 0, time.UTC)},
	}
}

func seq(toks []fob.Token) iter.Seq2[fob.Token, error] {
	return func(yield func(fob.Token, error) bool) {
		for _, t := range toks {
			if !yield(t, nil) {
				return
			}
		}
	}
}

func TestPSKCRoundTrip(t *testing.T) {
	psk16, psk24, psk32 := bytes.Repeat([]byte{1}, 16), bytes.Repeat([]byte{2}, 24), bytes.Repeat([]byte{3}, 32)
	type variant struct {
		name string
		o    ExportOptions
		k    Keys
	}
	vs := []variant{
		{"plain", ExportOptions{}, Keys{}},
		{"psk", ExportOptions{PSK: psk32}, Keys{PSK: psk32}},
		{"psk-legacy", ExportOptions{PSK: psk16, Legacy: true}, Keys{PSK: psk16}},
		{"password", ExportOptions{Password: []byte("s3cret"), Iterations: 1000}, Keys{Password: password("s3cret", nil)}},
		{"password-legacy", ExportOptions{Password: []byte("s3cret"), Iterations: 1000, Legacy: true}, Keys{Password: password("s3cret", nil)}},
	}
	for _, c := range []struct {
		uri string
		psk []byte
	}{{"aes128-cbc", psk16}, {"aes192-cbc", psk24}, {"aes256-cbc", psk32}, {"kw-aes128", psk16}, {"kw-aes192", psk24}, {"kw-aes256", psk32}} {
		for _, mac := range []string{nsDS + "hmac-sha1", nsDSMore + "hmac-sha224", nsDSMore + "hmac-sha256", nsDSMore + "hmac-sha384", nsDSMore + "hmac-sha512"} {
			vs = append(vs, variant{c.uri + "-" + mac[strings.IndexByte(mac, '#')+1:],
				ExportOptions{PSK: c.psk, cipherURI: nsXenc + c.uri, macURI: mac}, Keys{PSK: c.psk}})
		}
		vs = append(vs, variant{c.uri + "-password", ExportOptions{Password: []byte("pw"), Iterations: 10, cipherURI: nsXenc + c.uri},
			Keys{Password: password("pw", nil)}})
	}
	want := sample()
	for _, v := range vs {
		var buf bytes.Buffer
		v.o.Rand = rand.NewChaCha8([32]byte{1})
		if err := WritePSKC(&buf, seq(want), v.o); err != nil {
			t.Fatalf("%s: %v", v.name, err)
		}
		if v.o.PSK != nil || v.o.Password != nil {
			if bytes.Contains(buf.Bytes(), []byte("PlainValue>"+"MTIzNDU2")) || bytes.Contains(buf.Bytes(), []byte("<Secret><PlainValue>")) {
				t.Errorf("%s: secret written in the clear", v.name)
			}
		}
		got, _, err := readFrom(v.name, bytes.NewReader(buf.Bytes()), "", v.k)
		if err != nil {
			t.Errorf("%s: %v", v.name, err)
			continue
		}
		if !slices.EqualFunc(got, want, tokEqual) {
			t.Errorf("%s:\n got %+v\nwant %+v", v.name, got, want)
		}
	}
}

func TestWritePSKCRefuses(t *testing.T) {
	bad := sample()[:1]
	bad[0].Digits = 9
	for _, c := range []struct {
		toks []fob.Token
		o    ExportOptions
		text string
	}{
		{bad, ExportOptions{}, `fob 1 (serial "H-1"): invalid fob: 9 digits`},
		{sample(), ExportOptions{PSK: make([]byte, 16)}, "pre-shared key of 16 bytes; the cipher takes 32"},
		{sample(), ExportOptions{PSK: make([]byte, 32), Password: []byte("x")}, "not both"},
		{sample(), ExportOptions{Password: []byte("x"), Iterations: -1}, "PBKDF2 iterations"},
	} {
		err := WritePSKC(&bytes.Buffer{}, seq(c.toks), c.o)
		if err == nil || !strings.Contains(err.Error(), c.text) {
			t.Errorf("got %v, want %q", err, c.text)
		}
	}
	stop := errors.New("source failed")
	err := WritePSKC(&bytes.Buffer{}, func(yield func(fob.Token, error) bool) { yield(fob.Token{}, stop) }, ExportOptions{})
	if !errors.Is(err, stop) {
		t.Errorf("source error: got %v", err)
	}
}

func TestOATHCSVRoundTrip(t *testing.T) {
	want := sample()[:3]
	for i := range want { // what OATH CSV carries
		want[i].Manufacturer, want[i].Model, want[i].KeyID, want[i].Issuer, want[i].Label, want[i].T0, want[i].Drift = "", "", "", "", "", 0, 0
		want[i].NotBefore, want[i].NotAfter = time.Time{}, time.Time{}
	}
	want[0].User = `doe,"jo"#1`
	var buf bytes.Buffer
	if err := WriteOATHCSV(&buf, seq(want)); err != nil {
		t.Fatal(err)
	}
	got, _, err := readFrom("x.csv", bytes.NewReader(buf.Bytes()), "", Keys{})
	if err != nil || !slices.EqualFunc(got, want, tokEqual) {
		t.Fatalf("got %+v, %v\nwant %+v\n%s", got, err, want, buf.String())
	}
	if err := WriteOATHCSV(&bytes.Buffer{}, seq(sample()[3:])); err == nil || !strings.Contains(err.Error(), "cannot carry a yubico fob") {
		t.Errorf("Yubico fob: got %v", err)
	}
}

// RFC 3394 §4.1 and §4.6, RFC 5649 §6.
func TestKeyWrapVectors(t *testing.T) {
	for _, c := range []struct{ kek, key, wrapped string }{
		{"000102030405060708090A0B0C0D0E0F", "00112233445566778899AABBCCDDEEFF", "1FA68B0A8112B447AEF34BD8FB5A7B829D3E862371D2CFE5"},
		{"000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F", "00112233445566778899AABBCCDDEEFF000102030405060708090A0B0C0D0E0F",
			"28C9F404C4B810F4CBCCB35CFB87F8263F5786E2D80ED326CBC7F0E71A99F43BFB988B9B7A02DD21"},
		{"5840df6e29b02af1ab493b705bf16ea1ae8338f4dcc176a8", "c37b7e6492584340bed12207808941155068f738", "138bdeaa9b8fa7fc61f97742e72248ee5ae6ae5360d1ae6a5f54f373fa543b6a"},
		{"5840df6e29b02af1ab493b705bf16ea1ae8338f4dcc176a8", "466f7250617369", "afbeb0f07dfbf5419200f2ccb50bb24f"},
	} {
		kek, key, wrapped := mustHex(t, c.kek), mustHex(t, c.key), mustHex(t, c.wrapped)
		got, err := wrap(kek, key)
		if err != nil || !bytes.Equal(got, wrapped) {
			t.Errorf("wrap %s: %x, %v", c.key, got, err)
		}
		block, _ := aes.NewCipher(kek)
		un, err := unwrap(block, wrapped)
		if err != nil || !bytes.Equal(un, key) {
			t.Errorf("unwrap %s: %x, %v", c.wrapped, un, err)
		}
		wrapped[len(wrapped)-1] ^= 1
		if _, err := unwrap(block, wrapped); err != errUnwrap {
			t.Errorf("unwrap of altered %s: %v", c.wrapped, err)
		}
	}
}

func TestSynthetic(t *testing.T) {
	var a, b bytes.Buffer
	WritePSKC(&a, Synthetic(50), ExportOptions{})
	WritePSKC(&b, Synthetic(50), ExportOptions{})
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Error("Synthetic is not deterministic")
	}
	got, _, err := readFrom("s.pskc", &a, "", Keys{})
	if err != nil || len(got) != 50 || got[9].Kind != fob.TOTP || got[0].Serial != "SYN00000001" {
		t.Fatalf("got %d tokens, %v", len(got), err)
	}
	if hex.EncodeToString(got[0].Secret) == hex.EncodeToString(got[1].Secret) {
		t.Error("Synthetic repeats seeds")
	}
}

// OWASP CSV injection: what a spreadsheet would run is defused and quoted.
func TestCSVField(t *testing.T) {
	for in, want := range map[string]string{
		"":                       "",
		"SN-0001":                "SN-0001",
		"=1+2":                   `"'=1+2"`,
		"+SUM(A1:A9)":            `"'+SUM(A1:A9)"`,
		"-2+3+cmd|' /C calc'!A0": `"'-2+3+cmd|' /C calc'!A0"`,
		"@SUM(1)":                `"'@SUM(1)"`,
		"\t=1":                   "\"'\t=1\"",
		"\r=1":                   "\"'\r=1\"",
		"'=1":                    `"''=1"`, // one more quote, so the reader can take one off
		"''@x":                   `"'''@x"`,
		"'plain":                 "'plain",
		"-3":                     "-3", // numbers stay numbers
		"+1.5":                   "+1.5",
		"-":                      `"'-"`,
		"-3.":                    `"'-3."`,
		"#5":                     `"#5"`,
		"a,b":                    `"a,b"`,
		`Doe "Jo"`:               `"Doe ""Jo"""`,
		" pad":                   `" pad"`,
		"x\ny":                   "\"x\ny\"",
	} {
		if got := CSVField(in); got != want {
			t.Errorf("CSVField(%q) = %s, want %s", in, got, want)
		}
	}
}

// Serials and users a spreadsheet would take for formulas go out defused
// and come back as they were.
func TestOATHCSVFormulas(t *testing.T) {
	var want []fob.Token
	for i, s := range []string{"=1+2", "+41", "-cmd", "@SUM(A1)", "'=x", "''+y", "-3", "'-3", "'plain", "#7", "a,b", "=HYPERLINK(\"http://x\")"} {
		want = append(want, fob.Token{Serial: s, Kind: fob.HOTP, Algorithm: fob.SHA1, Digits: 6, Counter: uint64(i), Secret: rfcSeed, User: "@" + strconv.Itoa(i)})
	}
	var buf bytes.Buffer
	if err := WriteOATHCSV(&buf, seq(want)); err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(buf.String(), "\n")[2:] {
		for _, f := range strings.Split(line, ",") {
			if f != "" && strings.IndexByte("=+-@", f[0]) >= 0 && !isNumber(f) {
				t.Errorf("field %q of %q reaches a spreadsheet as a formula", f, line)
			}
		}
	}
	got, _, err := readFrom("f.csv", bytes.NewReader(buf.Bytes()), "", Keys{})
	if err != nil || !slices.EqualFunc(got, want, tokEqual) {
		t.Fatalf("got %+v, %v\nwant %+v\n%s", got, err, want, buf.String())
	}
	// A spreadsheet that saves the file again without the quotes gives the
	// same fobs: the single quote is what marks the text.
	resaved := strings.NewReplacer(`"'=1+2"`, `'=1+2`, `"'@0"`, `'@0`).Replace(buf.String())
	if got, _, err := readFrom("f.csv", strings.NewReader(resaved), "", Keys{}); err != nil || got[0].Serial != "=1+2" || got[0].User != "@0" {
		t.Errorf("resaved: %+v, %v", got[:1], err)
	}
}
