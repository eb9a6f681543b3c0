package verify

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keydesk/keydesk/hid/softkey"
	"github.com/keydesk/keydesk/internal/teststore"
	"github.com/keydesk/keydesk/inventory"
	"github.com/keydesk/keydesk/u2f"
)

// u2fExample reads the FIDO U2F raw message format's worked example.
func u2fExample(t *testing.T) map[string]map[string]string {
	t.Helper()
	f, err := os.Open("../testdata/vectors/u2f-raw-example.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]map[string]string{}
	section := ""
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 64<<10)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(line, "["):
			section = strings.Trim(line, "[]")
			out[section] = map[string]string{}
		case line == "" || strings.HasPrefix(line, "#"):
		default:
			k, v, _ := strings.Cut(line, "=")
			out[section][strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return out
}

func param(t *testing.T, h string) (p [32]byte) {
	t.Helper()
	b, err := hex.DecodeString(h)
	if err != nil || len(b) != 32 {
		t.Fatalf("param %q", h)
	}
	copy(p[:], b)
	return p
}

func TestU2FWorkedExample(t *testing.T) {
	ex := u2fExample(t)
	reg := ex["registration"]
	raw, _ := hex.DecodeString(reg["response"])
	r, err := u2f.ParseRegistration(raw)
	if err != nil {
		t.Fatal(err)
	}
	app, challenge := param(t, reg["app_param"]), param(t, reg["challenge_param"])
	if AppParam(reg["app_id"]) != app {
		t.Fatal("app param is not SHA-256 of the app id")
	}
	// The example's attestation certificate expired in 2013 and chains to
	// no root here: the signature must still verify, marked untrusted.
	att, err := CheckRegistration(r, app, challenge, nil, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatalf("registration: %v", err)
	}
	if att.Trusted() || !strings.Contains(att.Issuer, "Gnubby Pilot") {
		t.Errorf("attestation %+v", att)
	}
	// A changed challenge must fail: the signature covers it.
	challenge[0] ^= 1
	if _, err := CheckRegistration(r, app, challenge, nil, time.Now()); !errors.Is(err, ErrBadSignature) {
		t.Errorf("changed challenge: %v", err)
	}

	auth := ex["authentication"]
	raw, _ = hex.DecodeString(auth["response"])
	a, err := u2f.ParseAuthentication(raw)
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := hex.DecodeString(auth["user_public_key"])
	k := &inventory.Key{ID: 1, PublicKey: pub, Counter: 0}
	app, challenge = param(t, auth["app_param"]), param(t, auth["challenge_param"])
	if err := CheckAuthentication(k, a, app, challenge); err != nil {
		t.Fatalf("authentication: %v", err)
	}
	k.Counter = 1 // the example's counter: a replay of the same answer
	if err := CheckAuthentication(k, a, app, challenge); !errors.Is(err, ErrCounter) {
		t.Errorf("same counter again: %v", err)
	}
	k.Counter = 0
	app[5] ^= 1
	if err := CheckAuthentication(k, a, app, challenge); !errors.Is(err, ErrBadSignature) {
		t.Errorf("other app: %v", err)
	}
}

func TestYubicoRootTrustsNothingSelfSigned(t *testing.T) {
	root, err := os.ReadFile("../testdata/vectors/yubico-u2f-root-ca.pem")
	if err != nil {
		t.Fatal(err)
	}
	ts, err := NewTrustStore(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(ts.Roots()) != 1 || !strings.Contains(ts.Roots()[0], "Yubico U2F Root CA") {
		t.Fatalf("roots %v", ts.Roots())
	}
	sk := newSoftKey(t, filepath.Join(t.TempDir(), "sk.state"))
	att, _, err := CheckAttestation(sk.Certificate(), ts, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if att.Trusted() || att.Result != "self-signed" {
		t.Errorf("soft key attestation: %+v", att)
	}
}

func openStore(t *testing.T) *inventory.Store {
	t.Helper()
	key := make([]byte, inventory.MasterKeySize)
	rand.Read(key)
	st, err := inventory.Open(context.Background(), teststore.Path(t, t.TempDir(), "k.db"), key, inventory.Options{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func addUser(t *testing.T, st *inventory.Store, name string) {
	t.Helper()
	err := st.Update(context.Background(), func(tx *inventory.Tx) error {
		_, err := tx.AddUser(inventory.User{Name: name})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func newSoftKey(t *testing.T, state string) *softkey.Key {
	t.Helper()
	k, err := softkey.New(softkey.Config{StatePath: state, TouchDelay: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return k
}
