package desk_test

// The proof that a key registered at the desk works in a browser: a login
// by the same key to the same relying party, checked by go-webauthn's own
// login ceremony (webauthn.WebAuthn.ValidateLogin) against a credential
// built from nothing but what the inventory stored. The soft key answers
// the assertion as it would a browser: CTAP2 getAssertion for a CTAP2
// credential, U2F authenticate under the AppID for a U2F one (WebAuthn
// §10.1.1, the appid extension).

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/keydesk/keydesk/hid/softkey"
	"github.com/keydesk/keydesk/inventory"
	"github.com/keydesk/keydesk/u2f"
)

// browserUser is a user as a WebAuthn server built on go-webauthn keeps
// one: the user handle and the credentials, from the inventory.
type browserUser struct {
	u    inventory.User
	keys []inventory.Key
}

func (b browserUser) WebAuthnID() []byte {
	if b.u.WebAuthnID == nil {
		return []byte(b.u.Name) // a user with U2F keys only has no user handle yet
	}
	return b.u.WebAuthnID
}
func (b browserUser) WebAuthnName() string        { return b.u.Name }
func (b browserUser) WebAuthnDisplayName() string { return b.u.FullName }

func (b browserUser) WebAuthnCredentials() []webauthn.Credential {
	var out []webauthn.Credential
	for _, k := range b.keys {
		aaguid := make([]byte, 16)
		if k.AAGUID != "" {
			aaguid = mustAAGUID(k.AAGUID)
		}
		// go-webauthn checks a login under the appid extension with the
		// raw U2F point, as the U2F JavaScript API handed it to servers;
		// other logins with the COSE key.
		pub := k.COSEKey
		if k.Kind == inventory.KeyU2F {
			pub = k.PublicKey
		}
		out = append(out, webauthn.Credential{ID: k.KeyHandle, PublicKey: pub, AttestationFormat: k.AttestationFormat,
			Flags:         webauthn.CredentialFlags{UserPresent: true, UserVerified: k.UserVerified, BackupEligible: k.BackupEligible, BackupState: k.BackupState},
			Authenticator: webauthn.Authenticator{AAGUID: aaguid, SignCount: k.Counter}})
	}
	return out
}

func mustAAGUID(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, "-", ""))
	if err != nil {
		panic(err)
	}
	return b
}

func relyingParty(t *testing.T, id string) *webauthn.WebAuthn {
	t.Helper()
	w, err := webauthn.New(&webauthn.Config{RPID: id, RPDisplayName: "Example University", RPOrigins: []string{"https://" + id}})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// browserClientData is what a browser at https://example.edu sends for a
// login with the server's challenge.
func browserClientData(t *testing.T, challenge string) []byte {
	b, err := json.Marshal(map[string]any{"type": "webauthn.get", "challenge": challenge, "origin": "https://" + rpID, "crossOrigin": false})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// login runs go-webauthn's ceremony: begin, the browser's answer made by
// answer, then ValidateLogin.
func login(t *testing.T, rp *webauthn.WebAuthn, user browserUser, appID string, answer func(challenge string) map[string]any) error {
	t.Helper()
	var opts []webauthn.LoginOption
	if appID != "" {
		opts = append(opts, webauthn.WithAssertionExtensions(webauthn.WithExtensionAppID(appID)))
	}
	_, session, err := rp.BeginLogin(user, opts...)
	if err != nil {
		t.Fatal(err)
	}
	body, err := json.Marshal(answer(session.Challenge))
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(body)
	if err != nil {
		t.Fatalf("go-webauthn cannot read the answer: %v", err)
	}
	_, err = rp.ValidateLogin(user, *session, parsed)
	return err
}

func TestCTAP2KeyLogsInWithGoWebAuthn(t *testing.T) {
	fx := newDesk(t)
	fx.users(t, "alice")
	cl := plugIn(t, newSoftKey(t, softkey.Config{}))
	reg := fx.register(t, device(cl, ""), "alice", rules)
	keys, err := fx.s.UserKeys(t.Context(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	user := browserUser{fx.user(t, "alice"), keys}
	answer := func(challenge string) map[string]any {
		cd := browserClientData(t, challenge)
		h := sha256.Sum256(cd)
		a, err := cl.GetAssertion(t.Context(), &u2f.GetAssertionRequest{RPID: rpID, ClientDataHash: h[:],
			AllowList: []u2f.CredentialDescriptor{{Type: u2f.CredentialType, ID: reg.Key.KeyHandle}}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return map[string]any{"id": b64(a.Credential.ID), "rawId": b64(a.Credential.ID), "type": "public-key",
			"response": map[string]any{"clientDataJSON": b64(cd), "authenticatorData": b64(a.AuthData.Raw), "signature": b64(a.Signature)}}
	}
	if err := login(t, relyingParty(t, rpID), user, "", answer); err != nil {
		t.Fatalf("go-webauthn refused the login: %v", err)
	}
	// The same key is no credential of another relying party.
	if err := login(t, relyingParty(t, "example.org"), user, "", answer); err == nil {
		t.Error("go-webauthn took the login for another relying party")
	}
}

func TestU2FKeyLogsInWithGoWebAuthnAppID(t *testing.T) {
	fx := newDesk(t)
	fx.users(t, "alice")
	cl := plugIn(t, newSoftKey(t, softkey.Config{Protocols: softkey.U2FOnly}))
	reg := fx.register(t, device(cl, ""), "alice", rules)
	keys, err := fx.s.UserKeys(t.Context(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	user := browserUser{fx.user(t, "alice"), keys}
	appID := reg.Key.AppID
	answer := func(challenge string) map[string]any {
		cd := browserClientData(t, challenge)
		app := sha256.Sum256([]byte(appID))
		a, err := cl.Authenticate(t.Context(), sha256.Sum256(cd), app, reg.Key.KeyHandle)
		if err != nil {
			t.Fatal(err)
		}
		// WebAuthn §10.1.1 by way of CTAP 2.1 §10.3.2: the authenticator
		// data of a U2F answer is the application parameter, its flags
		// and its counter.
		ad := binary.BigEndian.AppendUint32(append(app[:], a.Flags), a.Counter)
		return map[string]any{"id": b64(reg.Key.KeyHandle), "rawId": b64(reg.Key.KeyHandle), "type": "public-key",
			"response":               map[string]any{"clientDataJSON": b64(cd), "authenticatorData": b64(ad), "signature": b64(a.Signature)},
			"clientExtensionResults": map[string]any{"appid": true}}
	}
	if err := login(t, relyingParty(t, rpID), user, appID, answer); err != nil {
		t.Fatalf("go-webauthn refused the login under the appid extension: %v", err)
	}
	// Without the extension, the answer is for the AppID, not the RP ID.
	if err := login(t, relyingParty(t, rpID), user, "", answer); err == nil {
		t.Error("go-webauthn took an AppID answer without the appid extension")
	}
}
