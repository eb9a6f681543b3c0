package browsertest

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
)

// policy is as strict as the portal's: nothing inline, nothing from
// elsewhere, no framing.
const policy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
	"base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// relyingParty is the tests' own WebAuthn server: one user, the page in
// testdata/rp, and the four ceremony endpoints, checked by go-webauthn.
type relyingParty struct {
	t   testing.TB
	srv *httptest.Server
	url string // where the page is: srv's address under the site's host
	wa  *webauthn.WebAuthn

	mu       sync.Mutex
	user     *user
	appID    string // the appid extension asked for at sign-in, if any
	uv       bool   // sign-in requires user verification
	register *webauthn.SessionData
	login    *webauthn.SessionData
	signIns  []signIn
}

// signIn is what the server saw of a sign-in it accepted.
type signIn struct {
	credentialID []byte
	rpIDHash     []byte
	appIDUsed    bool // the client said it used the appid extension
	counter      uint32
}

type user struct {
	id          []byte
	name        string
	credentials []webauthn.Credential
}

func (u *user) WebAuthnID() []byte                         { return u.id }
func (u *user) WebAuthnName() string                       { return u.name }
func (u *user) WebAuthnDisplayName() string                { return u.name }
func (u *user) WebAuthnCredentials() []webauthn.Credential { return u.credentials }

// site says where the relying party is: its scheme, the host its page is
// served under (localhost when empty) and its RP ID (the host when empty).
type site struct {
	https      bool
	host, rpID string
}

// newRelyingParty serves the test page and the ceremonies for the site.
func newRelyingParty(t testing.TB, at site) *relyingParty {
	t.Helper()
	if at.host == "" {
		at.host = "localhost"
	}
	if at.rpID == "" {
		at.rpID = at.host
	}
	rp := &relyingParty{t: t, user: &user{id: []byte("user-0001"), name: "alice"}}
	mux := http.NewServeMux()
	mux.Handle("GET /", http.FileServerFS(os.DirFS("testdata/rp")))
	mux.HandleFunc("POST /register/begin", rp.registerBegin)
	mux.HandleFunc("POST /register/finish", rp.registerFinish)
	mux.HandleFunc("POST /login/begin", rp.loginBegin)
	mux.HandleFunc("POST /login/finish", rp.loginFinish)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", policy)
		mux.ServeHTTP(w, r)
	})
	if at.https {
		rp.srv = NewTLSServer(t, h)
	} else {
		rp.srv = NewServer(t, h)
	}
	rp.url = HostURL(rp.srv, at.host)
	wa, err := webauthn.New(&webauthn.Config{
		RPID:          at.rpID,
		RPDisplayName: "keydesk browser test",
		RPOrigins:     []string{rp.url},
	})
	if err != nil {
		t.Fatal(err)
	}
	rp.wa = wa
	return rp
}

// addU2F gives the user a key registered over U2F under appID, as the
// desk registers one: key handle and public key (the 65-byte point of U2F
// §4.3), and the attestation format that tells go-webauthn so.
func (rp *relyingParty) addU2F(keyHandle, publicKey []byte, appID string) {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	rp.user.credentials = append(rp.user.credentials, webauthn.Credential{
		ID:                keyHandle,
		PublicKey:         publicKey,
		AttestationType:   "basic_full",
		AttestationFormat: string(protocol.AttestationFormatFIDOUniversalSecondFactor),
		Transport:         []protocol.AuthenticatorTransport{protocol.USB},
	})
	rp.appID = appID
}

func (rp *relyingParty) credentials() []webauthn.Credential {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	return append([]webauthn.Credential(nil), rp.user.credentials...)
}

func (rp *relyingParty) accepted() []signIn {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	return append([]signIn(nil), rp.signIns...)
}

func (rp *relyingParty) registerBegin(w http.ResponseWriter, r *http.Request) {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	creation, session, err := rp.wa.BeginRegistration(rp.user,
		webauthn.WithConveyancePreference(protocol.PreferDirectAttestation),
		webauthn.WithResidentKeyRequirement(protocol.ResidentKeyRequirementDiscouraged),
		webauthn.WithExclusions(webauthn.Credentials(rp.user.credentials).CredentialDescriptors()))
	if err != nil {
		fail(w, err)
		return
	}
	rp.register = session
	answer(w, creation)
}

func (rp *relyingParty) registerFinish(w http.ResponseWriter, r *http.Request) {
	parsed, err := protocol.ParseCredentialCreationResponseBody(http.MaxBytesReader(w, r.Body, 64<<10))
	if err != nil {
		fail(w, err)
		return
	}
	rp.mu.Lock()
	defer rp.mu.Unlock()
	if rp.register == nil {
		fail(w, fmt.Errorf("no registration begun"))
		return
	}
	session := *rp.register
	rp.register = nil // single use
	cred, err := rp.wa.CreateCredential(rp.user, session, parsed)
	if err != nil {
		fail(w, err)
		return
	}
	rp.user.credentials = append(rp.user.credentials, *cred)
	answer(w, map[string]string{"format": cred.AttestationFormat, "id": fmt.Sprintf("%x", cred.ID[:4])})
}

func (rp *relyingParty) loginBegin(w http.ResponseWriter, r *http.Request) {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	var opts []webauthn.LoginOption
	if rp.uv {
		opts = append(opts, webauthn.WithUserVerification(protocol.VerificationRequired))
	}
	if rp.appID != "" {
		opts = append(opts, webauthn.WithAssertionExtensions(webauthn.WithExtensionAppID(rp.appID)))
	}
	assertion, session, err := rp.wa.BeginLogin(rp.user, opts...)
	if err != nil {
		fail(w, err)
		return
	}
	rp.login = session
	answer(w, assertion)
}

func (rp *relyingParty) loginFinish(w http.ResponseWriter, r *http.Request) {
	parsed, err := protocol.ParseCredentialRequestResponseBody(http.MaxBytesReader(w, r.Body, 64<<10))
	if err != nil {
		fail(w, err)
		return
	}
	rp.mu.Lock()
	defer rp.mu.Unlock()
	if rp.login == nil {
		fail(w, fmt.Errorf("no sign-in begun"))
		return
	}
	session := *rp.login
	rp.login = nil
	cred, err := rp.wa.ValidateLogin(rp.user, session, parsed)
	if err != nil {
		fail(w, err)
		return
	}
	used := parsed.ClientExtensionResults.AppID != nil && *parsed.ClientExtensionResults.AppID
	rp.signIns = append(rp.signIns, signIn{
		credentialID: cred.ID,
		rpIDHash:     parsed.Response.AuthenticatorData.RPIDHash,
		appIDUsed:    used,
		counter:      cred.Authenticator.SignCount,
	})
	for i := range rp.user.credentials {
		if string(rp.user.credentials[i].ID) == string(cred.ID) {
			rp.user.credentials[i].Authenticator.SignCount = cred.Authenticator.SignCount
		}
	}
	answer(w, map[string]any{"counter": cred.Authenticator.SignCount, "appid": used})
}

func answer(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

func fail(w http.ResponseWriter, err error) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusBadRequest)
	msg := err.Error()
	if pe, ok := err.(*protocol.Error); ok && pe.DevInfo != "" {
		msg += ": " + pe.DevInfo
	}
	json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

func sha(s string) []byte {
	sum := sha256.Sum256([]byte(s))
	return sum[:]
}
