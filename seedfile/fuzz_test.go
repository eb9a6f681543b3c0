package seedfile

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fuzzReader feeds seeds from testdata and checks that whatever the input,
// the reader neither panics nor hands out a token with an error, that
// every token it does hand out is valid, and that every error is a
// ParseError.
func fuzzReader(f *testing.F, format Format, patterns ...string) {
	for _, p := range patterns {
		names, _ := filepath.Glob(dir + p)
		for _, n := range names {
			b, err := os.ReadFile(n)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	maxIterations = 2000 // keep a fuzzed IterationCount from stalling the run
	keys := Keys{PSK: fig6Key, Password: password("qwerty", nil)}
	f.Fuzz(func(t *testing.T, data []byte) {
		rd, err := NewReader("fuzz", bytes.NewReader(data), format, keys)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error is no ParseError: %v", err)
			}
			return
		}
		if f := rd.Format(); f != PSKC && f != OATHCSV && f != YubicoCSV && f != OTPAuth || format != "" && f != format {
			t.Fatalf("reader of format %q says %q", format, f)
		}
		for i := 0; i < 10000; i++ {
			tok, err := rd.Next()
			if err == io.EOF {
				return
			}
			if err != nil {
				var pe *ParseError
				if !isZero(tok) {
					t.Fatalf("token %+v returned with error %v", tok, err)
				}
				if !errors.As(err, &pe) {
					t.Fatalf("error is no ParseError: %v", err)
				}
				if _, again := rd.Next(); again != err {
					t.Fatalf("error not sticky: %v then %v", err, again)
				}
				return
			}
			if err := tok.Validate(); err != nil {
				t.Fatalf("token handed out is invalid: %v", err)
			}
			if strings.ContainsAny(tok.Serial, "\x00\n") {
				t.Fatalf("serial with control characters: %q", tok.Serial)
			}
		}
	})
}

func FuzzPSKC(f *testing.F)      { fuzzReader(f, PSKC, "*.pskc") }
func FuzzOATHCSV(f *testing.F)   { fuzzReader(f, OATHCSV, "oath-*.csv", "bad-*.csv") }
func FuzzYubicoCSV(f *testing.F) { fuzzReader(f, YubicoCSV, "yubico-*.csv") }
func FuzzOTPAuth(f *testing.F)   { fuzzReader(f, OTPAuth, "*.otpauth") }
func FuzzDetect(f *testing.F)    { fuzzReader(f, "", "*") }
