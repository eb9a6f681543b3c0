package browsertest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"os"
	"strings"
	"testing"
)

func TestMain(m *testing.M) { os.Exit(Run(m)) }

// ceremony clicks a button of the test page and waits for the status
// line to say how it ended.
func ceremony(t *testing.T, tab *Tab, button string) string {
	t.Helper()
	tab.Click(t, button)
	tab.WaitVisible(t, "#status[data-done]")
	return tab.Text(t, "#status")
}

func TestRegisterAndSignIn(t *testing.T) {
	for _, tc := range []struct {
		name   string
		key    AuthenticatorOptions
		format string // the attestation statement format the server sees
	}{
		{"ctap2", AuthenticatorOptions{Protocol: CTAP2, HasResidentKey: true, HasUserVerification: true, IsUserVerified: true}, "packed"},
		{"u2f", AuthenticatorOptions{Protocol: U2F}, "fido-u2f"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rp := newRelyingParty(t, site{})
			tab := Shared(t).NewTab(t)
			key := tab.AddAuthenticator(t, tc.key)
			tab.Navigate(t, rp.url+"/")

			got := ceremony(t, tab, "#register")
			if !strings.HasPrefix(got, "Registered: "+tc.format) {
				t.Fatalf("registering: %q", got)
			}
			creds := tab.Credentials(t, key)
			if len(creds) != 1 || creds[0].Resident {
				t.Fatalf("the key holds %+v, want one non-resident credential", creds)
			}
			if server := rp.credentials(); len(server) != 1 || !bytes.Equal(server[0].ID, creds[0].ID) {
				t.Fatalf("the server keeps %d credentials, not the key's", len(server))
			}

			got = ceremony(t, tab, "#signin")
			if !strings.HasPrefix(got, "Signed in: counter ") {
				t.Fatalf("signing in: %q", got)
			}
			in := rp.accepted()
			if len(in) != 1 || !bytes.Equal(in[0].rpIDHash, sha("localhost")) || in[0].appIDUsed {
				t.Fatalf("the server accepted %+v", in)
			}
			if after := tab.Credentials(t, key); after[0].SignCount != in[0].counter || in[0].counter == 0 {
				t.Errorf("the key counts %d, the server saw %d", after[0].SignCount, in[0].counter)
			}
			tab.Screenshot(t, "rp-signed-in-"+tc.name)
		})
	}
}

// A key that signs wrongly, or a key nobody touches, must not sign in;
// the page tells the user so.
func TestSignInRefused(t *testing.T) {
	rp := newRelyingParty(t, site{})
	tab := Shared(t).NewTab(t)
	key := tab.AddAuthenticator(t, AuthenticatorOptions{Protocol: CTAP2})
	tab.Navigate(t, rp.url+"/")
	if got := ceremony(t, tab, "#register"); !strings.HasPrefix(got, "Registered") {
		t.Fatalf("registering: %q", got)
	}

	tab.Misbehave(t, key, Misbehaviour{BogusSignature: true})
	if got := ceremony(t, tab, "#signin"); !strings.Contains(got, "server: ") {
		t.Errorf("a bogus signature: %q", got)
	}
	tab.Misbehave(t, key, Misbehaviour{ClearUP: true})
	if got := ceremony(t, tab, "#signin"); !strings.Contains(got, "server: ") {
		t.Errorf("no user presence: %q", got)
	}
	tab.Misbehave(t, key, Misbehaviour{})
	if got := ceremony(t, tab, "#signin"); !strings.HasPrefix(got, "Signed in") {
		t.Errorf("the key put right: %q", got)
	}
	if n := len(rp.accepted()); n != 1 {
		t.Errorf("the server accepted %d sign-ins, want 1", n)
	}
	// The failed fetches log "400 (Bad Request)"; they were meant.
	for _, p := range tab.Problems() {
		if p.Kind != BrowserError || !strings.Contains(p.Text, "400") {
			t.Errorf("unexpected: %s", p)
		}
	}
}

// The key's state can be set as a person would change it: a PIN entered,
// then not, then again; a credential put in from elsewhere, then taken
// out.
func TestKeyControls(t *testing.T) {
	rp := newRelyingParty(t, site{})
	rp.uv = true
	tab := Shared(t).NewTab(t)
	key := tab.AddAuthenticator(t, AuthenticatorOptions{HasResidentKey: true, HasUserVerification: true, IsUserVerified: true})
	tab.Navigate(t, rp.url+"/")
	if got := ceremony(t, tab, "#register"); !strings.HasPrefix(got, "Registered") {
		t.Fatalf("registering: %q", got)
	}
	tab.SetUserVerified(t, key, false)
	if got := ceremony(t, tab, "#signin"); !strings.Contains(got, "NotAllowedError") {
		t.Errorf("signing in without the PIN: %q", got)
	}
	tab.SetUserVerified(t, key, true)
	if got := ceremony(t, tab, "#signin"); !strings.HasPrefix(got, "Signed in") {
		t.Errorf("signing in with the PIN: %q", got)
	}

	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	made := Credential{ID: []byte("made elsewhere"), RPID: "localhost", PrivateKey: k,
		Resident: true, UserHandle: []byte("user-0002"), SignCount: 41}
	tab.AddCredential(t, key, made)
	var found *Credential
	for _, c := range tab.Credentials(t, key) {
		if string(c.ID) == string(made.ID) {
			found = &c
		}
	}
	if found == nil || !found.Resident || found.RPID != "localhost" || found.SignCount != 41 ||
		string(found.UserHandle) != "user-0002" || !found.PrivateKey.Equal(k) {
		t.Fatalf("the key holds %+v", found)
	}
	tab.RemoveCredential(t, key, made.ID)
	if n := len(tab.Credentials(t, key)); n != 1 {
		t.Errorf("%d credentials after removing one of two", n)
	}
	tab.RemoveAuthenticator(t, key)
}

// A key nobody touches is touched from now on: the next ceremony signs.
// (One already waiting for the touch stays waiting, until its timeout.)
func TestSetTouched(t *testing.T) {
	srv := NewServer(t, document("<p>x</p>", ""))
	tab := Shared(t).NewTab(t)
	key := tab.AddAuthenticator(t, AuthenticatorOptions{NoTouch: true})
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tab.AddCredential(t, key, Credential{ID: []byte("cred-1"), RPID: "localhost", PrivateKey: k})
	tab.Navigate(t, srv.URL)
	tab.SetTouched(t, key, true)
	var got string
	tab.Eval(t, `navigator.credentials.get({publicKey: {
		challenge: new Uint8Array(16), rpId: "localhost", userVerification: "discouraged",
		allowCredentials: [{type: "public-key", id: new TextEncoder().encode("cred-1")}],
	}}).then(() => "signed", (e) => e.name)`, &got)
	if got != "signed" {
		t.Fatalf("got %s", got)
	}
	if c := tab.Credentials(t, key); c[0].SignCount != 1 {
		t.Errorf("counter %d", c[0].SignCount)
	}
}
