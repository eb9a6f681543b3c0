package softkey

import (
	"bytes"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keydesk/keydesk/u2f"
)

func testState(t testing.TB) []byte {
	t.Helper()
	st, err := newState(rand.Reader, time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	st.counter = 41
	b, err := st.marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestStateRoundTrip(t *testing.T) {
	b := testState(t)
	st, err := parseState("sk.state", b)
	if err != nil {
		t.Fatal(err)
	}
	if st.counter != 41 || len(st.secret) != 32 {
		t.Errorf("counter %d, secret %d bytes", st.counter, len(st.secret))
	}
	again, _ := st.marshal()
	if !bytes.Equal(again, b) {
		t.Error("state does not marshal back to the same file")
	}
}

func TestStateErrors(t *testing.T) {
	good := testState(t)
	edit := func(f func(m map[string]any)) []byte {
		var m map[string]any
		if err := json.Unmarshal(good, &m); err != nil {
			t.Fatal(err)
		}
		f(m)
		b, _ := json.Marshal(m)
		return b
	}
	other := map[string]any{}
	json.Unmarshal(testState(t), &other)
	for _, tt := range []struct {
		name string
		in   []byte
		want string
	}{
		{"syntax", []byte(`{"version": 1,, }`), "state sk.state, byte 15: invalid character ','"},
		{"type", []byte(`{"version": "one"}`), "field version: json: cannot unmarshal string"},
		{"unknown field", edit(func(m map[string]any) { m["pin"] = "1234" }), `unknown field "pin"`},
		{"trailing", append(append([]byte(nil), good...), []byte(" {}")...), "data after the JSON object"},
		{"version", edit(func(m map[string]any) { m["version"] = 3 }), "field version: 3, want 1 or 2"},
		{"secret", edit(func(m map[string]any) { m["device_secret"] = "AAAA" }), "field device_secret: 3 bytes, want 32"},
		{"key", edit(func(m map[string]any) { m["attestation_key"] = "AAAA" }), "field attestation_key:"},
		{"cert", edit(func(m map[string]any) { m["attestation_cert"] = "AAAA" }), "field attestation_cert:"},
		{"pair", edit(func(m map[string]any) { m["attestation_cert"] = other["attestation_cert"] }), "not the certificate of attestation_key"},
		{"too long", make([]byte, maxStateFile+1), "longer than 65536 bytes"},
	} {
		st, err := parseState("sk.state", tt.in)
		var se *StateError
		if st != nil || !errors.As(err, &se) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: got %v; want %q", tt.name, err, tt.want)
		}
	}
}

func FuzzParseState(f *testing.F) {
	f.Add(testState(f))
	f.Add([]byte(`{"version":1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := parseState("fuzz", b)
		if (st == nil) == (err == nil) {
			t.Fatalf("state %v with error %v", st != nil, err)
		}
		if st != nil && (len(st.secret) != 32 || st.attKey == nil || len(st.attCert) == 0) {
			t.Fatal("accepted an incomplete state")
		}
	})
}

// TestVersion1StateLoads: a state file of the U2F-only soft key loads,
// keeps its secret, certificate and counter, and gains what CTAP2 needs.
func TestVersion1StateLoads(t *testing.T) {
	st, err := newState(rand.Reader, time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	key, _ := x509.MarshalPKCS8PrivateKey(st.attKey)
	v1, _ := json.Marshal(map[string]any{"version": 1, "device_secret": st.secret, "attestation_key": key,
		"attestation_cert": st.attCert, "counter": 41})
	path := filepath.Join(t.TempDir(), "old.state")
	if err := os.WriteFile(path, v1, 0o600); err != nil {
		t.Fatal(err)
	}
	k, err := New(Config{StatePath: path})
	if err != nil {
		t.Fatal(err)
	}
	if k.Counter() != 41 || !bytes.Equal(k.Certificate(), st.attCert) || len(k.PackedCertificate()) == 0 ||
		k.st.pinRetries != maxPINRetries || k.st.minPINLength != 4 || k.st.pinHash != nil {
		t.Errorf("loaded %+v", k.st)
	}
	again, err := loadState(path)
	if err != nil || !bytes.Equal(again.packedCert, k.PackedCertificate()) {
		t.Errorf("the upgraded state is not saved: %v", err)
	}
}

// TestStateKeepsCTAP2 saves and loads the PIN's hash (never the PIN),
// the retries and the resident credentials.
func TestStateKeepsCTAP2(t *testing.T) {
	st, _ := newState(rand.Reader, time.Now())
	st.pinHash, st.pinLength, st.pinRetries, st.minPINLength, st.alwaysUV = make([]byte, 16), 4, 5, 6, true
	priv := make([]byte, 32)
	priv[31] = 1
	st.creds = []*residentCred{{ID: append([]byte{residentFormat}, make([]byte, 16)...), RPID: "keydesk.example",
		User: u2f.User{ID: []byte{1}, Name: "alice"}, Alg: u2f.EdDSA, Private: priv}}
	b, err := st.marshal()
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(b, []byte(`"pin"`)) {
		t.Error("a PIN in the state file")
	}
	back, err := parseState("sk.state", b)
	if err != nil {
		t.Fatal(err)
	}
	if back.pinRetries != 5 || back.minPINLength != 6 || !back.alwaysUV || len(back.creds) != 1 || back.creds[0].User.Name != "alice" {
		t.Errorf("loaded %+v", back)
	}
	for field, bad := range map[string]any{"pin_retries": 9, "min_pin_length": 3, "pin_hash": "AAAA"} {
		var m map[string]any
		json.Unmarshal(b, &m)
		m[field] = bad
		nb, _ := json.Marshal(m)
		if _, err := parseState("sk.state", nb); err == nil || !strings.Contains(err.Error(), field) {
			t.Errorf("%s = %v: %v", field, bad, err)
		}
	}
}
