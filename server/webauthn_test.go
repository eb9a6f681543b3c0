package server

import (
	"context"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/keydesk/keydesk/inventory"
	"github.com/keydesk/keydesk/verify"
)

const (
	rpID        = "example.edu"
	loginOrigin = "https://login.example.edu"
	portalURL   = "https://keydesk.example.edu/portal/"
)

// keysConfig is a server with a relying party and the portal on.
func keysConfig() Config {
	return Config{PortalConfig: PortalConfig{RPID: rpID, Origins: []string{loginOrigin, "https://keydesk.example.edu"},
		Portal: true, PortalURL: portalURL, Issuer: "Example University"}}
}

// registerKey registers k for user through the admin API, as a help
// desk console does, and returns the key's id.
func (fx *fixture) registerKey(t testing.TB, user string, k *testKey) int64 {
	t.Helper()
	token := fx.tokens[verify.HelpDesk]
	status, m := fx.do(t, "POST", "/v1/admin/users/"+user+"/keys/webauthn/begin", token, nil)
	if status != http.StatusOK {
		t.Fatalf("begin: %d %v", status, m)
	}
	status, m = fx.do(t, "POST", "/v1/admin/users/"+user+"/keys/webauthn/finish", token, map[string]any{
		"transaction": m["transaction"], "credential": k.register(challengeOf(t, m), loginOrigin), "name": "blue key"})
	if status != http.StatusCreated {
		t.Fatalf("finish: %d %v", status, m)
	}
	key := m["key"].(map[string]any)
	return int64(key["id"].(float64))
}

// keyLogin begins a login for user as the application and answers it
// with k from origin; it returns the finish's body and answer.
func (fx *fixture) keyLogin(t testing.TB, user string, k *testKey, origin string) (map[string]any, int, map[string]any) {
	t.Helper()
	status, m := fx.do(t, "POST", "/v1/auth/webauthn/begin", fx.appKey, map[string]string{"username": user})
	if status != http.StatusOK || m["transaction"] == nil {
		t.Fatalf("begin: %d %v", status, m)
	}
	body := map[string]any{"transaction": m["transaction"], "credential": k.login(challengeOf(t, m), origin)}
	status, answer := fx.do(t, "POST", "/v1/auth/webauthn/finish", fx.appKey, body)
	return body, status, answer
}

func TestKeyRegistrationOptions(t *testing.T) {
	fx := newFixture(t, keysConfig())
	fx.addUser(t, "alice")
	first := newTestKey(t, rpID)
	id := fx.registerKey(t, "alice", first)
	status, m := fx.do(t, "POST", "/v1/admin/users/alice/keys/webauthn/begin", fx.tokens[verify.Admin], nil)
	if status != http.StatusOK {
		t.Fatalf("%d %v", status, m)
	}
	pk := m["publicKey"].(map[string]any)
	rp, user := pk["rp"].(map[string]any), pk["user"].(map[string]any)
	exclude, _ := pk["excludeCredentials"].([]any)
	if rp["id"] != rpID || user["name"] != "alice" || pk["attestation"] != "direct" || len(exclude) != 1 ||
		exclude[0].(map[string]any)["id"] != b64(first.id) {
		t.Errorf("creation options %v", pk)
	}
	// The same key again is refused: it registers once.
	status, m = fx.do(t, "POST", "/v1/admin/users/alice/keys/webauthn/finish", fx.tokens[verify.Admin], map[string]any{
		"transaction": m["transaction"], "credential": first.register(challengeOf(t, m), loginOrigin)})
	if status != http.StatusConflict {
		t.Errorf("registering the key again: %d %v", status, m)
	}
	keys, err := fx.srv.deps.Desk.Keys(context.Background(), "alice")
	if err != nil || len(keys) != 1 || keys[0].ID != id || keys[0].RPID != rpID || keys[0].Name != "blue key" {
		t.Errorf("keys %+v %v", keys, err)
	}
	if fx.auditCount(t, "key register") != 1 {
		t.Error("the registration was not audited")
	}
}

func TestKeyRegistrationBoundToItsAdmin(t *testing.T) {
	fx := newFixture(t, keysConfig())
	fx.addUser(t, "alice")
	fx.addUser(t, "bob")
	k := newTestKey(t, rpID)
	_, m := fx.do(t, "POST", "/v1/admin/users/alice/keys/webauthn/begin", fx.tokens[verify.HelpDesk], nil)
	body := map[string]any{"transaction": m["transaction"], "credential": k.register(challengeOf(t, m), loginOrigin)}
	for _, c := range []struct{ who, path string }{
		{string(verify.Admin), "/v1/admin/users/alice/keys/webauthn/finish"},  // another admin
		{string(verify.HelpDesk), "/v1/admin/users/bob/keys/webauthn/finish"}, // another user
	} {
		if status, m := fx.do(t, "POST", c.path, fx.tokens[verify.Role(c.who)], body); status != http.StatusNotFound || errorCode(m) != "no_transaction" {
			t.Errorf("%s %s: %d %v", c.who, c.path, status, m)
		}
	}
	// Untouched by those, the registration is still the one who began it.
	if status, m := fx.do(t, "POST", "/v1/admin/users/alice/keys/webauthn/finish", fx.tokens[verify.HelpDesk], body); status != http.StatusCreated {
		t.Errorf("%d %v", status, m)
	}
}

func TestKeyRegistrationRefusals(t *testing.T) {
	fx := newFixture(t, keysConfig())
	fx.addUser(t, "alice")
	begin := func() map[string]any {
		_, m := fx.do(t, "POST", "/v1/admin/users/alice/keys/webauthn/begin", fx.tokens[verify.HelpDesk], nil)
		return m
	}
	finish := func(m map[string]any, cred map[string]any) (int, map[string]any) {
		return fx.do(t, "POST", "/v1/admin/users/alice/keys/webauthn/finish", fx.tokens[verify.HelpDesk],
			map[string]any{"transaction": m["transaction"], "credential": cred})
	}
	m := begin()
	if status, a := finish(m, newTestKey(t, rpID).register(challengeOf(t, m), "https://evil.example")); status != 422 || errorCode(a) != "key_refused" {
		t.Errorf("another origin: %d %v", status, a)
	}
	m = begin()
	if status, a := finish(m, newTestKey(t, "example.org").register(challengeOf(t, m), loginOrigin)); status != 422 {
		t.Errorf("another relying party: %d %v", status, a)
	}
	m = begin()
	if status, a := finish(m, newTestKey(t, rpID).register([]byte("not the challenge issued, no no"), loginOrigin)); status != 422 {
		t.Errorf("another challenge: %d %v", status, a)
	}
	m = begin()
	fx.clock.Advance(3 * time.Minute)
	if status, a := finish(m, newTestKey(t, rpID).register(challengeOf(t, m), loginOrigin)); status != http.StatusConflict {
		t.Errorf("too late: %d %v", status, a)
	}
	if keys, _ := fx.srv.deps.Desk.Keys(context.Background(), "alice"); len(keys) != 0 {
		t.Errorf("refused registrations stored %d keys", len(keys))
	}
}

func TestKeyLogin(t *testing.T) {
	fx := newFixture(t, keysConfig())
	fx.addUser(t, "alice")
	k := newTestKey(t, rpID)
	fx.registerKey(t, "alice", k)

	body, status, m := fx.keyLogin(t, "alice", k, loginOrigin)
	if status != http.StatusOK || m["result"] != "allow" {
		t.Fatalf("sign-in: %d %v", status, m)
	}
	// The same answer posted again is a replay.
	status, m = fx.do(t, "POST", "/v1/auth/webauthn/finish", fx.appKey, body)
	if status != http.StatusOK || m["result"] != "deny" || m["reason_code"] != "replay" {
		t.Errorf("replayed: %d %v", status, m)
	}
	entries, err := fx.store.AuthLog(context.Background(), inventory.AuthFilter{User: "alice"})
	if err != nil || len(entries) != 2 {
		t.Fatalf("auth log %+v %v", entries, err)
	}
	last, first := entries[0], entries[1]
	if first.Result != "allow" || first.Transport != "http" || first.App != "vpn" || first.Factor != `key #1 "blue key"` ||
		last.Result != "deny" || last.ReasonCode != "replay" {
		t.Errorf("auth log %+v", entries)
	}
	if fx.auditCount(t, "key clone suspected") != 0 {
		t.Error("a replay was taken for a clone")
	}
}

func TestKeyLoginDenials(t *testing.T) {
	fx := newFixture(t, keysConfig())
	ctx := context.Background()
	fx.addUser(t, "alice")
	fx.addUser(t, "bob")
	alices, bobs := newTestKey(t, rpID), newTestKey(t, rpID)
	id := fx.registerKey(t, "alice", alices)
	fx.registerKey(t, "bob", bobs)

	if _, _, m := fx.keyLogin(t, "alice", bobs, loginOrigin); m["result"] != "deny" || m["reason_code"] != "unknown_key" {
		t.Errorf("bob's key for alice: %v", m)
	}
	if _, _, m := fx.keyLogin(t, "alice", alices, "https://phish.example"); m["result"] != "deny" || m["reason_code"] != "client_data" {
		t.Errorf("another origin: %v", m)
	}
	// A key whose counter went back is a clone warning, audited.
	clone := *alices
	clone.counter = 0
	if _, _, m := fx.keyLogin(t, "alice", alices, loginOrigin); m["result"] != "allow" {
		t.Fatalf("alice's key: %v", m)
	}
	if _, _, m := fx.keyLogin(t, "alice", &clone, loginOrigin); m["result"] != "deny" || m["reason_code"] != "key_counter" {
		t.Errorf("a clone: %v", m)
	}
	if fx.auditCount(t, "key clone suspected") != 1 {
		t.Error("the clone was not audited")
	}
	// Too late.
	status, m := fx.do(t, "POST", "/v1/auth/webauthn/begin", fx.appKey, map[string]string{"username": "alice"})
	fx.clock.Advance(2*time.Minute + time.Second)
	_, m = fx.do(t, "POST", "/v1/auth/webauthn/finish", fx.appKey, map[string]any{"transaction": m["transaction"], "credential": alices.login(challengeOf(t, m), loginOrigin)})
	if status != http.StatusOK || m["reason_code"] != "expired" {
		t.Errorf("too late: %v", m)
	}
	// Begun while the key was active, finished after it was reported lost.
	_, m = fx.do(t, "POST", "/v1/auth/webauthn/begin", fx.appKey, map[string]string{"username": "alice"})
	if err := fx.desk.ReportKeyLost(ctx, "alice", id); err != nil {
		t.Fatal(err)
	}
	_, m = fx.do(t, "POST", "/v1/auth/webauthn/finish", fx.appKey, map[string]any{"transaction": m["transaction"], "credential": alices.login(challengeOf(t, m), loginOrigin)})
	if m["result"] != "deny" || m["reason_code"] != "lost" {
		t.Errorf("lost key: %v", m)
	}
	// And now alice has no key to begin with.
	if _, m := fx.do(t, "POST", "/v1/auth/webauthn/begin", fx.appKey, map[string]string{"username": "alice"}); m["result"] != "deny" || m["reason_code"] != "unknown_key" {
		t.Errorf("begin without a key: %v", m)
	}
	if _, m := fx.do(t, "POST", "/v1/auth/webauthn/begin", fx.appKey, map[string]string{"username": "nobody"}); m["result"] != "deny" || m["reason_code"] != "unknown_user" {
		t.Errorf("begin for nobody: %v", m)
	}
}

func TestKeyLoginBoundToItsApplication(t *testing.T) {
	fx := newFixture(t, keysConfig())
	fx.addUser(t, "alice")
	k := newTestKey(t, rpID)
	fx.registerKey(t, "alice", k)
	_, wiki, err := fx.desk.AddApplication(context.Background(), inventory.NewApplication{Name: "wiki"})
	if err != nil {
		t.Fatal(err)
	}
	_, m := fx.do(t, "POST", "/v1/auth/webauthn/begin", fx.appKey, map[string]string{"username": "alice"})
	body := map[string]any{"transaction": m["transaction"], "credential": k.login(challengeOf(t, m), loginOrigin)}
	if status, a := fx.do(t, "POST", "/v1/auth/webauthn/finish", wiki, body); status != http.StatusNotFound {
		t.Errorf("another application finishing: %d %v", status, a)
	}
	if _, a := fx.do(t, "POST", "/v1/auth/webauthn/finish", fx.appKey, body); a["result"] != "allow" {
		t.Errorf("the application that began: %v", a)
	}
	// wiki has no detailed reasons: it hears only that the key was not
	// accepted.
	_, m = fx.do(t, "POST", "/v1/auth/webauthn/begin", wiki, map[string]string{"username": "nobody"})
	if m["result"] != "deny" || m["reason_code"] != "denied" || m["reason"] != "security key not accepted" {
		t.Errorf("wiki hears %v", m)
	}
}

// A key registered at the desk over U2F, under the AppID https://<rp_id>,
// signs in through the appid extension.
func TestKeyLoginByAppID(t *testing.T) {
	fx := newFixture(t, keysConfig())
	fx.addUser(t, "alice")
	k := newTestKey(t, "https://"+rpID)
	err := fx.store.Update(context.Background(), func(tx *inventory.Tx) error {
		u, err := tx.User("alice")
		if err != nil {
			return err
		}
		_, err = tx.AddKey(u.ID, inventory.Key{Name: "desk key", KeyHandle: k.id, PublicKey: k.point(), AppID: "https://" + rpID, Certificate: []byte("cert")})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	status, m := fx.do(t, "POST", "/v1/auth/webauthn/begin", fx.appKey, map[string]string{"username": "alice"})
	ext, _ := m["publicKey"].(map[string]any)["extensions"].(map[string]any)
	if status != http.StatusOK || ext["appid"] != "https://"+rpID {
		t.Fatalf("begin: %d %v", status, m)
	}
	_, m = fx.do(t, "POST", "/v1/auth/webauthn/finish", fx.appKey, map[string]any{"transaction": m["transaction"], "credential": k.login(challengeOf(t, m), loginOrigin)})
	if m["result"] != "allow" {
		t.Errorf("appid sign-in: %v", m)
	}
	// The same key answering under the RP ID is not one U2F could make.
	k.rpID = rpID
	if _, _, m := fx.keyLogin(t, "alice", k, loginOrigin); m["result"] != "deny" || m["reason_code"] != "wrong_relying_party" {
		t.Errorf("under the RP ID: %v", m)
	}
}

func TestPreauth(t *testing.T) {
	fx := newFixture(t, keysConfig())
	fx.addUser(t, "alice")
	if _, err := fx.desk.AddUser(context.Background(), inventory.User{Name: "carol"}); err != nil {
		t.Fatal(err)
	}
	factors := func(user string) []string {
		status, m := fx.do(t, "POST", "/v1/preauth", fx.appKey, map[string]string{"username": user})
		if status != http.StatusOK {
			t.Fatalf("%s: %d %v", user, status, m)
		}
		var out []string
		for _, f := range m["factors"].([]any) {
			out = append(out, f.(string))
		}
		return out
	}
	if got := factors("alice"); !slices.Equal(got, []string{"passcode"}) {
		t.Errorf("alice with a fob: %v", got)
	}
	fx.registerKey(t, "alice", newTestKey(t, rpID))
	if got := factors("alice"); !slices.Equal(got, []string{"passcode", "webauthn"}) {
		t.Errorf("alice with a fob and a key: %v", got)
	}
	if got := factors("carol"); len(got) != 0 {
		t.Errorf("carol with nothing: %v", got)
	}
	if _, err := fx.desk.IssueBypass(context.Background(), verify.BypassRequest{User: "carol"}); err != nil {
		t.Fatal(err)
	}
	if got := factors("carol"); !slices.Equal(got, []string{"passcode"}) {
		t.Errorf("carol with a bypass code: %v", got)
	}
	if status, m := fx.do(t, "POST", "/v1/preauth", fx.tokens[verify.Owner], map[string]string{"username": "alice"}); status != http.StatusUnauthorized {
		t.Errorf("an admin token: %d %v", status, m)
	}
}

func TestKeysOff(t *testing.T) {
	fx := newFixture(t, Config{})
	fx.addUser(t, "alice")
	if status, m := fx.do(t, "POST", "/v1/auth/webauthn/begin", fx.appKey, map[string]string{"username": "alice"}); status != http.StatusNotFound || errorCode(m) != "webauthn_off" {
		t.Errorf("%d %v", status, m)
	}
	// Without an application key nobody learns whether keys are on.
	for _, route := range []string{"/v1/auth/webauthn/begin", "/v1/auth/webauthn/finish"} {
		if status, m := fx.do(t, "POST", route, "", map[string]string{"username": "alice"}); status != http.StatusUnauthorized {
			t.Errorf("%s without a key: %d %v", route, status, m)
		}
	}
	if status, m := fx.do(t, "POST", "/v1/admin/users/alice/invite", fx.tokens[verify.HelpDesk], nil); status != http.StatusConflict || errorCode(m) != "portal_off" {
		t.Errorf("%d %v", status, m)
	}
}
