package browsertest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"net/url"
	"strings"
	"testing"
)

// The desk registers a U2F-only key over CTAP1 under the AppID
// https://<rp_id>, so its credential is scoped to SHA-256 of that string,
// not of the RP ID. A browser reaches it only through the appid extension
// (WebAuthn §10.1.1), and Chromium lets a page claim an AppID only when
// the AppID is an https URL, the page is https too, and the two share a
// host or a registrable domain (the FIDO AppID and Facet spec, steps 1-3,
// as WebAuthRequestSecurityChecker::ValidateAppIdExtension reads them).
//
// These cases put such a registration into a virtual key and sign in
// with it from pages served both ways.
func TestAppID(t *testing.T) {
	var (
		https        = site{https: true}
		http         = site{}
		portal       = site{https: true, host: "keydesk." + Domain, rpID: Domain}
		appID        = func(id string) func(string) string { return func(string) string { return id } }
		itsOwn       = func(origin string) string { return origin }
		invalid      = "SecurityError: This is an invalid domain."
		noCredential = "NotAllowedError"
	)
	for _, tc := range []struct {
		name  string
		at    site
		appID func(origin string) string
		key   Protocol
		fails string // the error the page gets; "" when the sign-in works
	}{
		// The desk's AppID, https://<rp_id>, as production has it: the
		// portal on a host under the RP ID.
		{"portal under the RP ID", portal, appID("https://" + Domain), U2F, ""},
		{"portal on the RP ID itself", site{https: true, host: Domain}, appID("https://" + Domain), U2F, ""},
		{"https localhost, AppID https://localhost", https, appID("https://localhost"), U2F, ""},
		{"https localhost, AppID its own origin", https, itsOwn, U2F, ""},
		// An AppID of another site is refused.
		{"portal, AppID of another site", portal, appID("https://example.org"), U2F, invalid},
		// Chromium reaches an AppID on a CTAP2 key only by falling back to
		// U2F, when the key's getInfo lists U2F_V2 (get_assertion_task.cc,
		// MayFallbackToU2fWithAppIdExtension); its virtual CTAP2 key does
		// not, so it has no credential to offer. Real FIDO2 keys do.
		{"portal, AppID on a virtual CTAP2 key", portal, appID("https://" + Domain), CTAP2, noCredential},
		// The AppID's scheme must be the page's, and https: Chromium
		// answers INVALID_DOMAIN before it asks the key anything.
		{"http localhost, AppID https://localhost", http, appID("https://localhost"), U2F, invalid},
		{"http localhost, AppID https with its port", http, func(o string) string { return strings.Replace(o, "http:", "https:", 1) }, U2F, invalid},
		{"http localhost, AppID its own http origin", http, itsOwn, U2F, invalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rp := newRelyingParty(t, tc.at)
			appID := tc.appID(rp.url)

			// A registration made elsewhere: a key handle and a P-256 key.
			k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			pub, err := k.PublicKey.ECDH()
			if err != nil {
				t.Fatal(err)
			}
			handle := make([]byte, 64)
			rand.Read(handle)
			rp.addU2F(handle, pub.Bytes(), appID)

			tab := Shared(t).NewTab(t)
			key := tab.AddAuthenticator(t, AuthenticatorOptions{Protocol: tc.key})
			tab.AddCredential(t, key, Credential{ID: handle, RPID: appID, PrivateKey: k})
			tab.Navigate(t, rp.url+"/")
			got := ceremony(t, tab, "#signin")
			t.Logf("page %s, AppID %s: %s", rp.url, appID, got)

			in := rp.accepted()
			if tc.fails != "" {
				if !strings.Contains(got, tc.fails) || len(in) != 0 {
					t.Fatalf("got %q and %d sign-ins accepted, want %q", got, len(in), tc.fails)
				}
				if c := tab.Credentials(t, key); c[0].SignCount != 0 {
					t.Errorf("the key signed %d times", c[0].SignCount)
				}
				return
			}
			if got != "Signed in: counter 1, appid true" {
				t.Fatalf("signing in: %q", got)
			}
			if len(in) != 1 || !bytes.Equal(in[0].credentialID, handle) || !in[0].appIDUsed {
				t.Fatalf("the server accepted %+v", in)
			}
			if !bytes.Equal(in[0].rpIDHash, sha(appID)) {
				t.Errorf("rpIdHash %x, want SHA-256(%q)", in[0].rpIDHash, appID)
			}
		})
	}
}

// Without the extension the browser looks for the credential under the
// RP ID, where a U2F registration is not: the key has nothing to offer.
func TestAppIDNeeded(t *testing.T) {
	rp := newRelyingParty(t, site{https: true})
	u, _ := url.Parse(rp.url)
	appID := "https://" + u.Hostname()
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	pub, _ := k.PublicKey.ECDH()
	handle := []byte("key handle registered at the desk")
	rp.addU2F(handle, pub.Bytes(), appID)
	rp.appID = "" // the server forgets to ask for it

	tab := Shared(t).NewTab(t)
	key := tab.AddAuthenticator(t, AuthenticatorOptions{Protocol: U2F})
	tab.AddCredential(t, key, Credential{ID: handle, RPID: appID, PrivateKey: k})
	tab.Navigate(t, rp.url+"/")
	got := ceremony(t, tab, "#signin")
	if !strings.Contains(got, "NotAllowedError") || len(rp.accepted()) != 0 {
		t.Fatalf("signed in without the appid extension: %q", got)
	}
}
