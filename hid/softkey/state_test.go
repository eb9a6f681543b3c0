package softkey

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
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
