package server

// One place for keys: a key registered at the desk over CTAP2 signs in
// through the WebAuthn routes and the portal, and a key registered
// through a browser is tested at the desk. The key is hid's soft key, so
// every signature is one a key made over CTAP2, to the rules the desk
// and the browser each follow.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keydesk/keydesk/desk"
	"github.com/keydesk/keydesk/hid"
	"github.com/keydesk/keydesk/hid/softkey"
	"github.com/keydesk/keydesk/inventory"
	"github.com/keydesk/keydesk/u2f"
	"github.com/keydesk/keydesk/verify"
)

// plugIn serves a soft key over the in-memory CTAPHID pipe, as the
// desk's tests do, and returns the desk's view of it.
func plugIn(t *testing.T) (*softkey.Key, *hid.Client, desk.Device) {
	return plugInSpeaking(t, softkey.U2FAndCTAP2)
}

func plugInSpeaking(t *testing.T, p softkey.Protocols) (*softkey.Key, *hid.Client, desk.Device) {
	t.Helper()
	k, err := softkey.New(softkey.Config{TouchDelay: time.Millisecond, Protocols: p})
	if err != nil {
		t.Fatal(err)
	}
	host, dev := hid.PipeT(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { k.Serve(ctx, dev); close(done) }()
	c, err := hid.Open(ctx, host, hid.Options{PollInterval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(); cancel(); host.Close(); <-done })
	d := desk.Device{PIN: func() (string, error) { return "", nil }}
	if c.Info().U2F() {
		d.U2F = c
	}
	if c.Info().CTAP2() {
		d.CTAP2 = c
	}
	return k, c, d
}

// softLogin answers a login's begin with the soft key over CTAP2
// getAssertion, as a browser at origin passes a key's answer on.
func softLogin(t *testing.T, c *hid.Client, begin map[string]any, origin string) map[string]any {
	t.Helper()
	pk := begin["publicKey"].(map[string]any)
	var allow []u2f.CredentialDescriptor
	for _, a := range pk["allowCredentials"].([]any) {
		id, err := base64.RawURLEncoding.DecodeString(a.(map[string]any)["id"].(string))
		if err != nil {
			t.Fatal(err)
		}
		allow = append(allow, u2f.CredentialDescriptor{Type: u2f.CredentialType, ID: id})
	}
	cd := clientData(t, "webauthn.get", challengeOf(t, begin), origin)
	h := sha256.Sum256(cd)
	a, err := c.GetAssertion(t.Context(), &u2f.GetAssertionRequest{RPID: pk["rpId"].(string), ClientDataHash: h[:], AllowList: allow}, nil)
	if err != nil {
		t.Fatalf("the soft key did not sign: %v", err)
	}
	return map[string]any{"id": b64(a.Credential.ID), "rawId": b64(a.Credential.ID), "type": "public-key",
		"response":               map[string]any{"clientDataJSON": b64(cd), "authenticatorData": b64(a.AuthData.Raw), "signature": b64(a.Signature)},
		"clientExtensionResults": map[string]any{}}
}

// softRegister answers a registration's begin with the soft key over
// CTAP2 makeCredential, as a browser at loginOrigin would, and posts it
// to the admin API's finish; it returns the credential id and the answer.
func softRegister(t *testing.T, fx *fixture, c *hid.Client, begin map[string]any, name string) ([]byte, int, map[string]any) {
	t.Helper()
	user := begin["publicKey"].(map[string]any)["user"].(map[string]any)
	handle, err := base64.RawURLEncoding.DecodeString(user["id"].(string))
	if err != nil {
		t.Fatal(err)
	}
	cd := clientData(t, "webauthn.create", challengeOf(t, begin), loginOrigin)
	h := sha256.Sum256(cd)
	att, err := c.MakeCredential(t.Context(), &u2f.MakeCredentialRequest{ClientDataHash: h[:], RP: u2f.RelyingParty{ID: rpID, Name: "Example"},
		User:             u2f.User{ID: handle, Name: user["name"].(string), DisplayName: user["displayName"].(string)},
		PubKeyCredParams: []u2f.CredentialParameter{{Type: u2f.CredentialType, Alg: u2f.ES256}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	obj, err := att.AttestationObject()
	if err != nil {
		t.Fatal(err)
	}
	id := att.AuthData.Credential.ID
	status, m := fx.do(t, "POST", "/v1/admin/users/"+user["name"].(string)+"/keys/webauthn/finish", fx.tokens[verify.HelpDesk],
		map[string]any{"transaction": begin["transaction"], "name": name, "credential": map[string]any{"id": b64(id), "rawId": b64(id),
			"type": "public-key", "response": map[string]any{"clientDataJSON": b64(cd), "attestationObject": b64(obj), "transports": []string{"usb"}}}})
	return id, status, m
}

func TestDeskKeySignsInInTheBrowser(t *testing.T) {
	fx := newFixture(t, keysConfig())
	fx.addUser(t, "alice")
	_, c, dev := plugIn(t)
	reg, err := fx.desk.RegisterKey(t.Context(), dev, desk.KeyRequest{User: "alice", Name: "desk key"}, desk.KeyRules{RPID: rpID})
	if err != nil {
		t.Fatal(err)
	}
	if reg.Key.Kind != inventory.KeyCTAP2 {
		t.Fatalf("the desk registered a %s key", reg.Key.Kind)
	}
	// An application's page, through /v1/auth/webauthn.
	status, m := fx.do(t, "POST", "/v1/auth/webauthn/begin", fx.appKey, map[string]string{"username": "alice"})
	if status != http.StatusOK {
		t.Fatalf("begin: %d %v", status, m)
	}
	if ext, _ := m["publicKey"].(map[string]any)["extensions"].(map[string]any); ext["appid"] != nil {
		t.Errorf("the appid extension offered for a CTAP2 key: %v", ext)
	}
	status, m = fx.do(t, "POST", "/v1/auth/webauthn/finish", fx.appKey, map[string]any{"transaction": m["transaction"],
		"credential": softLogin(t, c, m, loginOrigin)})
	if status != http.StatusOK || m["result"] != "allow" {
		t.Fatalf("finish: %d %v", status, m)
	}
	keys, err := fx.desk.Keys(t.Context(), "alice")
	if err != nil || len(keys) != 1 || keys[0].Counter <= reg.Key.Counter || keys[0].LastUsedAt.IsZero() {
		t.Errorf("after the sign-in: %+v, %v (registered at counter %d)", keys, err, reg.Key.Counter)
	}
	// The portal, signed in by the same key.
	v := fx.visitor(t)
	v.get("/portal/")
	_, m = v.postJSON("/portal/keys/signin/begin", map[string]string{"username": "alice"})
	status, m = v.postJSON("/portal/keys/signin/finish", map[string]any{"transaction": m["transaction"],
		"credential": softLogin(t, c, m, "https://keydesk.example.edu")})
	if status != http.StatusOK || m["result"] != "allow" {
		t.Fatalf("portal sign-in: %d %v", status, m)
	}
	v.get("/portal/")
	v.sees("desk key")
}

// A U2F-only key registered at the desk, under the AppID
// https://<rp_id>, signs in through the appid extension (WebAuthn
// §10.1.1): the browser asks it over CTAP1 under the AppID, and the
// authenticator data it passes on names the AppID's hash (CTAP 2.1
// §10.3.2).
func TestDeskU2FKeySignsInUnderTheAppID(t *testing.T) {
	fx := newFixture(t, keysConfig())
	fx.addUser(t, "alice")
	_, c, dev := plugInSpeaking(t, softkey.U2FOnly)
	reg, err := fx.desk.RegisterKey(t.Context(), dev, desk.KeyRequest{User: "alice"}, desk.KeyRules{RPID: rpID})
	if err != nil {
		t.Fatal(err)
	}
	if reg.Key.Kind != inventory.KeyU2F || reg.Key.AppID != "https://"+rpID || len(reg.Key.COSEKey) == 0 {
		t.Fatalf("the desk registered %+v", reg.Key)
	}
	_, m := fx.do(t, "POST", "/v1/auth/webauthn/begin", fx.appKey, map[string]string{"username": "alice"})
	appID, _ := m["publicKey"].(map[string]any)["extensions"].(map[string]any)["appid"].(string)
	if appID != reg.Key.AppID {
		t.Fatalf("begin offers the appid %q, the key was registered under %q", appID, reg.Key.AppID)
	}
	cd := clientData(t, "webauthn.get", challengeOf(t, m), loginOrigin)
	app := sha256.Sum256([]byte(appID))
	a, err := c.Authenticate(t.Context(), sha256.Sum256(cd), app, reg.Key.KeyHandle)
	if err != nil {
		t.Fatal(err)
	}
	ad := binary.BigEndian.AppendUint32(append(app[:], a.Flags), a.Counter)
	status, m := fx.do(t, "POST", "/v1/auth/webauthn/finish", fx.appKey, map[string]any{"transaction": m["transaction"],
		"credential": map[string]any{"id": b64(reg.Key.KeyHandle), "rawId": b64(reg.Key.KeyHandle), "type": "public-key",
			"response":               map[string]any{"clientDataJSON": b64(cd), "authenticatorData": b64(ad), "signature": b64(a.Signature)},
			"clientExtensionResults": map[string]any{"appid": true}}})
	if status != http.StatusOK || m["result"] != "allow" {
		t.Errorf("finish: %d %v", status, m)
	}
}

func TestBrowserKeyTestedAtTheDesk(t *testing.T) {
	fx := newFixture(t, keysConfig())
	fx.addUser(t, "alice")
	k, c, dev := plugIn(t)
	token := fx.tokens[verify.HelpDesk]
	status, m := fx.do(t, "POST", "/v1/admin/users/alice/keys/webauthn/begin", token, nil)
	if status != http.StatusOK {
		t.Fatalf("begin: %d %v", status, m)
	}
	user := m["publicKey"].(map[string]any)["user"].(map[string]any)
	handle, err := base64.RawURLEncoding.DecodeString(user["id"].(string))
	if err != nil || len(handle) != 64 {
		t.Fatalf("user handle %v: %v", user["id"], err)
	}
	if u, _ := fx.store.User(t.Context(), "alice"); u.WebAuthnID != nil {
		t.Error("the user handle was stored before any key was")
	}
	id, status, m := softRegister(t, fx, c, m, "browser key")
	if status != http.StatusCreated {
		t.Fatalf("finish: %d %v", status, m)
	}
	// One row of keys, as the desk's own CTAP2 registrations are, the
	// attestation's chain kept whole; the handle is now alice's.
	keys, err := fx.desk.Keys(t.Context(), "alice")
	if err != nil || len(keys) != 1 {
		t.Fatalf("keys %+v, %v", keys, err)
	}
	got := keys[0]
	if got.Kind != inventory.KeyCTAP2 || got.RPID != rpID || !bytes.Equal(got.KeyHandle, id) || len(got.COSEKey) == 0 || len(got.PublicKey) != 0 ||
		got.AttestationFormat != "packed" || !bytes.Equal(got.Certificate, k.PackedCertificate()) || !slices.Equal(got.Transports, []string{"usb"}) ||
		got.AAGUID != softkey.AAGUID.String() {
		t.Errorf("stored %+v", got)
	}
	if u, _ := fx.store.User(t.Context(), "alice"); !bytes.Equal(u.WebAuthnID, handle) {
		t.Errorf("alice's user handle %x, the registration named %x", u.WebAuthnID, handle)
	}
	// keydesk user show lists it, as a CTAP2 key of the relying party;
	// the desk finds it among alice's and it answers a test.
	if v, err := fx.desk.UserDetail(t.Context(), "alice"); err != nil || len(v.Keys) != 1 || v.Keys[0].ID != got.ID || v.Keys[0].Kind != inventory.KeyCTAP2 {
		t.Errorf("user show: %+v, %v", v.Keys, err)
	}
	dec, err := fx.desk.TestKey(t.Context(), dev, "alice", desk.KeyRules{RPID: rpID}, verify.Origin{Transport: "test"})
	if err != nil || !dec.Allow || dec.KeyName != "browser key" {
		t.Errorf("key test at the desk: %+v, %v", dec, err)
	}
	// The next registration names alice by the same handle.
	_, m = fx.do(t, "POST", "/v1/admin/users/alice/keys/webauthn/begin", token, nil)
	if again := m["publicKey"].(map[string]any)["user"].(map[string]any)["id"]; again != user["id"] {
		t.Errorf("a second registration names alice %v, the first %v", again, user["id"])
	}
}

// Of two registrations begun for a user without a user handle, each
// with a handle of its own, the first to finish makes its handle the
// user's; the other is refused, since its key would know the user by a
// handle that is not theirs.
func TestUserHandleSetOnce(t *testing.T) {
	fx := newFixture(t, keysConfig())
	fx.addUser(t, "alice")
	token := fx.tokens[verify.HelpDesk]
	_, first := fx.do(t, "POST", "/v1/admin/users/alice/keys/webauthn/begin", token, nil)
	_, second := fx.do(t, "POST", "/v1/admin/users/alice/keys/webauthn/begin", token, nil)
	handleOf := func(m map[string]any) string {
		return m["publicKey"].(map[string]any)["user"].(map[string]any)["id"].(string)
	}
	if handleOf(first) == handleOf(second) {
		t.Fatal("two registrations drew the same user handle")
	}
	finish := func(m map[string]any) (int, map[string]any) {
		return fx.do(t, "POST", "/v1/admin/users/alice/keys/webauthn/finish", token, map[string]any{"transaction": m["transaction"],
			"credential": newTestKey(t, rpID).register(challengeOf(t, m), loginOrigin)})
	}
	if status, m := finish(second); status != http.StatusCreated {
		t.Fatalf("the first to finish: %d %v", status, m)
	}
	if status, m := finish(first); status != http.StatusConflict {
		t.Errorf("the other: %d %v", status, m)
	}
	u, _ := fx.store.User(t.Context(), "alice")
	if b64(u.WebAuthnID) != handleOf(second) {
		t.Errorf("alice's handle %s, want the one of the registration that finished", b64(u.WebAuthnID))
	}
	if keys, _ := fx.desk.Keys(t.Context(), "alice"); len(keys) != 1 {
		t.Errorf("%d keys stored", len(keys))
	}
}

// A browser registration reads the FIDO metadata the desk imported, at
// each registration: it names the model, refuses one reported revoked,
// and waits for a new BLOB once this one is past its nextUpdate.
func TestBrowserRegistrationUnderTheImportedMDS(t *testing.T) {
	fx := newFixture(t, keysConfig())
	fx.addUser(t, "alice")
	fx.clock.Set(time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)) // the day testdata/mds was made for
	read := func(name string) []byte {
		b, err := os.ReadFile("../testdata/mds/" + name)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	begin := func() map[string]any {
		_, m := fx.do(t, "POST", "/v1/admin/users/alice/keys/webauthn/begin", fx.tokens[verify.HelpDesk], nil)
		return m
	}
	finish := func(m map[string]any, k *testKey) (int, map[string]any) {
		return fx.do(t, "POST", "/v1/admin/users/alice/keys/webauthn/finish", fx.tokens[verify.HelpDesk],
			map[string]any{"transaction": m["transaction"], "credential": k.register(challengeOf(t, m), loginOrigin)})
	}
	// Before any import, only the attestation certificate names the model.
	_, c, _ := plugIn(t)
	if _, status, m := softRegister(t, fx, c, begin(), ""); status != http.StatusCreated ||
		m["key"].(map[string]any)["model"] != "keydesk softkey packed attestation" {
		t.Fatalf("without metadata: %d %v", status, m)
	}
	if _, err := fx.desk.ImportMDS(t.Context(), read("blob.jwt"), read("mds-root.pem")); err != nil {
		t.Fatal(err)
	}
	_, c, _ = plugIn(t)
	if _, status, m := softRegister(t, fx, c, begin(), ""); status != http.StatusCreated || m["key"].(map[string]any)["model"] != "keydesk soft key" {
		t.Errorf("under the BLOB: %d %v", status, m)
	}
	revoked := newTestKey(t, rpID)
	revoked.aaguid = [16]byte{0xa1, 0xc2, 0xe3, 0xf4, 0, 0, 0x40, 0, 0x80, 0, 0, 0, 0, 0, 0, 2}
	if status, m := finish(begin(), revoked); status != http.StatusConflict || errorCode(m) != "refused" || !strings.Contains(fmt.Sprint(m), "REVOKED since 2025-02-01") {
		t.Errorf("a revoked model: %d %v", status, m)
	}
	fx.clock.Set(time.Date(2027, 1, 2, 0, 0, 0, 0, time.UTC))
	if status, m := finish(begin(), newTestKey(t, rpID)); status != http.StatusUnprocessableEntity || !strings.Contains(fmt.Sprint(m), "nextUpdate") {
		t.Errorf("under a stale BLOB: %d %v", status, m)
	}
	if keys, _ := fx.desk.Keys(t.Context(), "alice"); len(keys) != 2 {
		t.Errorf("%d keys stored, want the two accepted", len(keys))
	}
}
