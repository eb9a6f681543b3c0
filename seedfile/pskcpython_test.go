package seedfile

import (
	"bytes"
	"encoding/csv"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/keydesk/keydesk/fob"
)

// needPSKCUtils skips a test when python-pskc's tools are missing; as root,
// where make deps installs them, their absence is a failure.
func needPSKCUtils(t *testing.T, tool string) string {
	t.Helper()
	path, err := exec.LookPath(tool)
	if err == nil {
		return path
	}
	if os.Geteuid() == 0 {
		t.Fatalf("%s is missing: make deps installs the Debian package pskc-utils", tool)
	}
	t.Skipf("%s is not installed (Debian package pskc-utils); python-pskc's files were not checked", tool)
	return ""
}

// csv2pskcFobs are the fobs in testdata/seedfiles/csv2pskc.csv, as keydesk
// must read python-pskc's PSKC of them: short and mixed-case algorithm
// names, a ResponseFormat without Encoding, no Key Id, Policy dates with a
// zone, without one, and a DeviceInfo expiry.
func csv2pskcFobs(t *testing.T) []fob.Token {
	h := func(serial string, digits int, counter uint64) fob.Token {
		return fob.Token{Serial: serial, Kind: fob.HOTP, Algorithm: fob.SHA1, Digits: digits, Counter: counter, Secret: rfcSeed, Manufacturer: "Debian"}
	}
	one, three := h("CSV-0001", 8, 42), h("CSV-0003", 6, 200)
	one.NotBefore, one.NotAfter = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2030, 6, 30, 10, 0, 0, 0, time.UTC)
	three.NotAfter = time.Date(2029, 12, 31, 23, 59, 59, 0, time.UTC)
	return []fob.Token{one,
		{Serial: "CSV-0002", Kind: fob.TOTP, Algorithm: fob.SHA1, Digits: 6, Period: 60, Secret: s32, Manufacturer: "Debian",
			NotAfter: time.Date(2031, 1, 1, 8, 30, 0, 0, time.UTC)},
		three, h("CSV-0004", 7, 0)}
}

var csv2pskcKey = mustHexString("000102030405060708090a0b0c0d0e0f")

func mustHexString(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// The files csv2pskc wrote, as committed, read without the tool.
func TestCSV2PSKCFiles(t *testing.T) {
	want := csv2pskcFobs(t)
	for file, k := range map[string]Keys{"csv2pskc.pskc": {}, "csv2pskc-psk.pskc": {PSK: csv2pskcKey}} {
		got, rd, err := readAll(t, dir+file, "", k)
		if err != nil || !slices.EqualFunc(got, want, tokEqual) || rd.Format() != PSKC {
			t.Errorf("%s: %v\n got %+v\nwant %+v", file, err, got, want)
		}
	}
}

// Debian's csv2pskc, run now on the same CSV, plain and under a pre-shared
// key, gives files keydesk reads as the same fobs.
func TestCSV2PSKCTool(t *testing.T) {
	tool := needPSKCUtils(t, "csv2pskc")
	want := csv2pskcFobs(t)
	for _, args := range [][]string{nil, {"-s", hex.EncodeToString(csv2pskcKey)}} {
		out := filepath.Join(t.TempDir(), "out.pskc")
		cmd := exec.Command(tool, append(args, "-o", out, dir+"csv2pskc.csv")...)
		if msg, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("csv2pskc %q: %v\n%s", args, err, msg)
		}
		got, _, err := readAll(t, out, "", Keys{PSK: csv2pskcKey})
		if err != nil || !slices.EqualFunc(got, want, tokEqual) {
			t.Errorf("csv2pskc %q: %v\n got %+v\nwant %+v", args, err, got, want)
		}
	}
}

// python-pskc reads what WritePSKC writes, dates included, plain and under
// a pre-shared key (AES-256-CBC, HMAC-SHA256, a MAC key of its own).
func TestPSKC2CSVReadsExport(t *testing.T) {
	tool := needPSKCUtils(t, "pskc2csv")
	toks := sample()[:3]
	psk := bytes.Repeat([]byte{0x5a}, 32)
	for _, o := range []ExportOptions{{}, {PSK: psk}} {
		path := filepath.Join(t.TempDir(), "export.pskc")
		var buf bytes.Buffer
		if err := WritePSKC(&buf, seq(toks), o); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
		args := []string{"-c", "serial,secret,counter,response_length,time_interval,policy.start_date,policy.expiry_date", path}
		if o.PSK != nil {
			args = append([]string{"-s", hex.EncodeToString(psk)}, args...)
		}
		out, err := exec.Command(tool, args...).Output()
		if err != nil {
			t.Fatalf("pskc2csv: %v", err)
		}
		rows, err := csv.NewReader(bytes.NewReader(out)).ReadAll()
		if err != nil || len(rows) != len(toks)+1 {
			t.Fatalf("pskc2csv gave %q, %v", out, err)
		}
		for i, tok := range toks {
			r := rows[i+1]
			factor, period := strconv.FormatUint(tok.Counter, 10), ""
			if tok.Kind == fob.TOTP {
				factor, period = "", strconv.Itoa(tok.Period)
			}
			if r[0] != tok.Serial || r[1] != hex.EncodeToString(tok.Secret) || r[2] != factor || r[3] != strconv.Itoa(tok.Digits) || r[4] != period {
				t.Errorf("PSK %v, %s: python-pskc read %q", o.PSK != nil, tok.Serial, r)
			}
			for j, d := range []time.Time{tok.NotBefore, tok.NotAfter} {
				got, err := time.Parse("2006-01-02 15:04:05Z07:00", r[5+j])
				if d.IsZero() && r[5+j] != "" || !d.IsZero() && (err != nil || !got.Equal(d)) {
					t.Errorf("PSK %v, %s: python-pskc read date %q, want %v", o.PSK != nil, tok.Serial, r[5+j], d)
				}
			}
		}
	}
}
