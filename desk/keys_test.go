package desk_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keydesk/keydesk/desk"
	"github.com/keydesk/keydesk/hid"
	"github.com/keydesk/keydesk/hid/softkey"
	"github.com/keydesk/keydesk/inventory"
	"github.com/keydesk/keydesk/verify"
)

func newSoftKey(t *testing.T, state string) *softkey.Key {
	t.Helper()
	k, err := softkey.New(softkey.Config{StatePath: state, TouchDelay: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// plugIn connects a soft key to a CTAPHID client over the in-memory pipe.
func plugIn(t *testing.T, k *softkey.Key) *hid.Client {
	t.Helper()
	host, dev := hid.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { k.Serve(ctx, dev); close(done) }()
	c, err := hid.Open(ctx, host, hid.Options{PollInterval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(); cancel(); host.Close(); <-done })
	return c
}

func TestRegisterAndTestKey(t *testing.T) {
	ctx := context.Background()
	fx := newDesk(t)
	for _, name := range []string{"alice", "bob"} {
		if _, err := fx.d.AddUser(ctx, inventory.User{Name: name}); err != nil {
			t.Fatal(err)
		}
	}
	p := verify.KeyPolicy{AppID: "keydesk-test"}
	state := filepath.Join(t.TempDir(), "sk.state")
	dev := plugIn(t, newSoftKey(t, state))

	reg, err := fx.d.RegisterKey(ctx, dev, "alice", "desk key", p)
	if err != nil {
		t.Fatal(err)
	}
	if reg.Key.Name != "desk key" || reg.Attestation.Result != "self-signed" {
		t.Errorf("registered %+v %+v", reg.Key, reg.Attestation)
	}
	if e := fx.audit(t); e[len(e)-1].Action != "key register" || e[len(e)-1].Actor != "clerk" {
		t.Errorf("audit %+v", e[len(e)-1])
	}
	// The same key cannot be registered again, to anyone.
	if _, err := fx.d.RegisterKey(ctx, dev, "bob", "", p); !errors.Is(err, verify.ErrKeyRegistered) || !strings.Contains(err.Error(), "registered to alice") {
		t.Errorf("second registration: %v", err)
	}
	// Requiring a trusted attestation refuses the soft key's self-signed one.
	other := plugIn(t, newSoftKey(t, filepath.Join(t.TempDir(), "other.state")))
	root, _ := os.ReadFile("../testdata/vectors/yubico-u2f-root-ca.pem")
	ts, _ := verify.NewTrustStore(root)
	if _, err := fx.d.RegisterKey(ctx, other, "bob", "", verify.KeyPolicy{AppID: p.AppID, Trust: ts, RequireTrusted: true}); !errors.Is(err, verify.ErrUntrusted) {
		t.Errorf("untrusted registration: %v", err)
	}

	test := fx.keyTest(t, dev, "alice", p)
	if !test.Allow || test.KeyID != reg.Key.ID || test.Counter == 0 || test.Reason() != `touch accepted from key #1 "desk key"` {
		t.Errorf("test %+v (%s)", test, test.Reason())
	}
	again := fx.keyTest(t, dev, "alice", p)
	if !again.Allow || again.Counter <= test.Counter {
		t.Fatalf("second test: %+v", again)
	}
	// Bob has no key that this one is; nobody is no user at all. Both are
	// denials, as a wrong code is.
	if d := fx.keyTest(t, dev, "bob", p); d.Allow || !errors.Is(d.Denial, verify.ErrNoKey) || d.ReasonCode() != "unknown_key" {
		t.Errorf("bob: %+v", d)
	}
	if d := fx.keyTest(t, dev, "nobody", p); d.Allow || !errors.Is(d.Denial, verify.ErrUnknownUser) {
		t.Errorf("nobody: %+v", d)
	}

	// A clone: a copy of the key's state answers with a counter the
	// inventory has seen. Denied, and audited.
	clonedState := filepath.Join(t.TempDir(), "clone.state")
	copyFile(t, state, clonedState)
	fx.keyTest(t, dev, "alice", p)
	fx.keyTest(t, dev, "alice", p)
	clone := plugIn(t, newSoftKey(t, clonedState))
	d := fx.keyTest(t, clone, "alice", p)
	if d.Allow || !errors.Is(d.Denial, verify.ErrCounter) || d.ReasonCode() != "key_counter" {
		t.Fatalf("clone: %+v", d)
	}
	if e := fx.audit(t); e[len(e)-1].Action != "key clone suspected" {
		t.Errorf("no audit entry for the suspected clone: %+v", e[len(e)-1])
	}
	// The removed key no longer answers for alice.
	if err := fx.d.RemoveKey(ctx, "alice", "desk key"); err != nil {
		t.Fatal(err)
	}
	if d := fx.keyTest(t, dev, "alice", p); d.Allow || !errors.Is(d.Denial, verify.ErrNoKey) {
		t.Errorf("removed key: %+v", d)
	}
}

func (fx *fixture) keyTest(t *testing.T, dev desk.Authenticator, user string, p verify.KeyPolicy) verify.Decision {
	t.Helper()
	d, err := fx.d.TestKey(context.Background(), dev, user, p, verify.Origin{Transport: "test"})
	if err != nil {
		t.Fatalf("key test of %s: %v", user, err)
	}
	return d
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}
