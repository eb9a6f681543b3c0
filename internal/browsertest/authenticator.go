package browsertest

import (
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"fmt"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"
)

// Protocol is what a virtual authenticator speaks to the browser.
type Protocol string

const (
	// CTAP2 is a FIDO2 key: resident credentials, user verification and
	// extensions as its options allow.
	CTAP2 Protocol = "ctap2"
	// U2F is a FIDO U2F (CTAP1) key: non-resident credentials only, no
	// user verification, a touch for every signature; the browser reaches
	// its credentials under the RP ID or, with the appid extension, an
	// AppID (WebAuthn §10.1.1).
	U2F Protocol = "u2f"
)

// AuthenticatorOptions describe a virtual security key. The zero value is
// a CTAP2 USB key without resident keys or user verification, touched at
// once whenever the browser asks.
type AuthenticatorOptions struct {
	Protocol  Protocol // CTAP2 when empty
	Transport string   // "usb" when empty; "nfc", "ble", "hybrid", "internal"

	HasResidentKey      bool // can store discoverable credentials
	HasUserVerification bool // has a PIN or a sensor
	IsUserVerified      bool // and the user passes it

	// NoTouch leaves the key untouched: a ceremony that needs user
	// presence waits until its timeout, as with a key nobody touches.
	// Touching it later ([Tab.SetTouched]) does not finish a ceremony
	// already waiting. DevTools calls the opposite
	// automaticPresenceSimulation.
	NoTouch bool
}

// AuthenticatorID names a virtual authenticator of one tab.
type AuthenticatorID string

// AddAuthenticator plugs a virtual key into the tab. From then on the
// tab's WebAuthn requests go to its virtual keys only, never to a real
// one. The key goes away with the tab.
func (tab *Tab) AddAuthenticator(t testing.TB, o AuthenticatorOptions) AuthenticatorID {
	t.Helper()
	if o.Protocol == "" {
		o.Protocol = CTAP2
	}
	if o.Transport == "" {
		o.Transport = "usb"
	}
	tab.enableWebAuthn(t)
	res := call(t, tab, "adding a virtual authenticator", webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{
		Options: &webauthn.VirtualAuthenticatorOptions{
			Protocol:                    webauthn.AuthenticatorProtocol(o.Protocol),
			Transport:                   webauthn.AuthenticatorTransport(o.Transport),
			HasResidentKey:              o.HasResidentKey,
			HasUserVerification:         o.HasUserVerification,
			IsUserVerified:              o.IsUserVerified,
			AutomaticPresenceSimulation: !o.NoTouch,
		},
	})
	id := AuthenticatorID(res.AuthenticatorID)
	tab.mu.Lock()
	if tab.keys == nil {
		tab.keys = make(map[AuthenticatorID]Protocol)
	}
	tab.keys[id] = o.Protocol
	tab.mu.Unlock()
	return id
}

func (tab *Tab) enableWebAuthn(t testing.TB) {
	t.Helper()
	tab.mu.Lock()
	on := tab.webauthn
	tab.webauthn = true
	tab.mu.Unlock()
	if !on {
		// No UI: a prompt would wait for a person who is not there.
		call(t, tab, "enabling WebAuthn", webauthn.Enable, webauthn.EnableParams{EnableUI: new(false)})
	}
}

// RemoveAuthenticator unplugs the key.
func (tab *Tab) RemoveAuthenticator(t testing.TB, id AuthenticatorID) {
	t.Helper()
	tab.mu.Lock()
	delete(tab.keys, id)
	tab.mu.Unlock()
	call(t, tab, "removing authenticator "+string(id), webauthn.RemoveVirtualAuthenticator,
		webauthn.RemoveVirtualAuthenticatorParams{AuthenticatorID: webauthn.AuthenticatorID(id)})
}

// SetUserVerified says whether the user passes the key's PIN or sensor
// check from now on.
func (tab *Tab) SetUserVerified(t testing.TB, id AuthenticatorID, verified bool) {
	t.Helper()
	call(t, tab, "setting user verification", webauthn.SetUserVerified,
		webauthn.SetUserVerifiedParams{AuthenticatorID: webauthn.AuthenticatorID(id), IsUserVerified: verified})
}

// SetTouched says whether the key is touched whenever it asks for user
// presence from now on (false: see [AuthenticatorOptions.NoTouch]).
func (tab *Tab) SetTouched(t testing.TB, id AuthenticatorID, touched bool) {
	t.Helper()
	call(t, tab, "setting user presence", webauthn.SetAutomaticPresenceSimulation,
		webauthn.SetAutomaticPresenceSimulationParams{AuthenticatorID: webauthn.AuthenticatorID(id), Enabled: touched})
}

// Misbehaviour spoils a key's answers, for tests of the checks a relying
// party must make (WebAuthn §7.2 steps 15-17 and 21).
type Misbehaviour struct {
	BogusSignature bool // the signature is all zeros
	ClearUV        bool // the UV flag is cleared in the authenticator data
	ClearUP        bool // the UP flag is cleared in the authenticator data
}

// Misbehave sets how a CTAP2 key's answers are spoiled from now on; the
// zero Misbehaviour puts it right. Chromium's virtual U2F key ignores
// these settings, so asking it fails the test rather than letting a
// refusal test pass for the wrong reason.
func (tab *Tab) Misbehave(t testing.TB, id AuthenticatorID, m Misbehaviour) {
	t.Helper()
	tab.mu.Lock()
	p := tab.keys[id]
	tab.mu.Unlock()
	if p == U2F {
		t.Fatalf("browsertest: Chromium's virtual U2F key ignores response overrides; misbehave with a CTAP2 key")
	}
	call(t, tab, "setting response overrides", webauthn.SetResponseOverrideBits, webauthn.SetResponseOverrideBitsParams{
		AuthenticatorID:  webauthn.AuthenticatorID(id),
		IsBogusSignature: new(m.BogusSignature),
		IsBadUV:          new(m.ClearUV),
		IsBadUP:          new(m.ClearUP),
	})
}

// Credential is a key pair a virtual key holds.
type Credential struct {
	// ID is the credential ID; for a U2F registration, the key handle.
	ID []byte
	// RPID scopes the credential: the authenticator keys it by SHA-256 of
	// this string. A WebAuthn credential has the RP ID ("example.edu"); a
	// U2F registration has its AppID ("https://example.edu"), and the
	// browser reaches it only through the appid extension.
	RPID string
	// PrivateKey is a P-256 key, the only kind the virtual keys sign with.
	PrivateKey *ecdsa.PrivateKey
	// Resident makes it discoverable; it then needs a UserHandle and an
	// authenticator with HasResidentKey.
	Resident   bool
	UserHandle []byte
	// SignCount is the signature counter the next assertion goes up from.
	SignCount uint32
}

// AddCredential puts a credential made elsewhere into the key: a key
// registered at the desk, say, with the key handle and private key a
// software key made.
func (tab *Tab) AddCredential(t testing.TB, id AuthenticatorID, c Credential) {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(c.PrivateKey)
	if err != nil {
		t.Fatalf("browsertest: credential key: %v", err)
	}
	// cdproto's Credential always sends generateCmtgKeyOnNextOperation
	// and the backup flags, and Chromium refuses the first on a key
	// without CMTG support; so the command goes out with only what it
	// needs.
	params := addCredentialParams{
		AuthenticatorID: webauthn.AuthenticatorID(id),
		Credential: credentialParams{
			CredentialID:         c.ID,
			IsResidentCredential: c.Resident,
			RpID:                 c.RPID,
			PrivateKey:           der,
			UserHandle:           c.UserHandle,
			SignCount:            float64(c.SignCount),
		},
	}
	run(t, tab, "adding a credential", func(ctx context.Context, target *chromedp.Target) (chromedp.Void, error) {
		if err := target.Call(ctx, webauthn.CommandAddCredential, params, nil); err != nil {
			return chromedp.Void{}, fmt.Errorf("%s: %w", webauthn.CommandAddCredential, err)
		}
		return chromedp.Void{}, nil
	})
}

type addCredentialParams struct {
	AuthenticatorID webauthn.AuthenticatorID `json:"authenticatorId"`
	Credential      credentialParams         `json:"credential"`
}

type credentialParams struct {
	CredentialID         []byte  `json:"credentialId"`
	IsResidentCredential bool    `json:"isResidentCredential"`
	RpID                 string  `json:"rpId"`
	PrivateKey           []byte  `json:"privateKey"`
	UserHandle           []byte  `json:"userHandle,omitempty"`
	SignCount            float64 `json:"signCount"`
}

// Credentials lists the credentials the key holds, with their counters as
// they stand. Chromium leaves RPID empty for a non-resident credential.
func (tab *Tab) Credentials(t testing.TB, id AuthenticatorID) []Credential {
	t.Helper()
	res := call(t, tab, "listing credentials", webauthn.GetCredentials,
		webauthn.GetCredentialsParams{AuthenticatorID: webauthn.AuthenticatorID(id)})
	out := make([]Credential, 0, len(res.Credentials))
	for _, c := range res.Credentials {
		k, err := x509.ParsePKCS8PrivateKey(c.PrivateKey)
		if err != nil {
			t.Fatalf("browsertest: credential %x: %v", c.CredentialID, err)
		}
		ek, ok := k.(*ecdsa.PrivateKey)
		if !ok {
			t.Fatalf("browsertest: credential %x: a %T key", c.CredentialID, k)
		}
		out = append(out, Credential{
			ID: c.CredentialID, RPID: c.RpID, PrivateKey: ek,
			Resident: c.IsResidentCredential, UserHandle: c.UserHandle,
			SignCount: uint32(c.SignCount),
		})
	}
	return out
}

// RemoveCredential deletes one credential from the key.
func (tab *Tab) RemoveCredential(t testing.TB, id AuthenticatorID, credentialID []byte) {
	t.Helper()
	call(t, tab, "removing a credential", webauthn.RemoveCredential, webauthn.RemoveCredentialParams{
		AuthenticatorID: webauthn.AuthenticatorID(id), CredentialID: credentialID,
	})
}

func call[P, R any](t testing.TB, tab *Tab, what string, cmd cdp.Command[P, R], params P) R {
	t.Helper()
	return run(t, tab, what, func(ctx context.Context, target *chromedp.Target) (R, error) {
		r, err := cdp.Call(ctx, target, cmd, params)
		if err != nil {
			return r, fmt.Errorf("%s: %w", cmd.Method, err)
		}
		return r, nil
	})
}
