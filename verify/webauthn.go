package verify

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/protocol/webauthncbor"
	"github.com/go-webauthn/webauthn/protocol/webauthncose"

	"github.com/keydesk/keydesk/u2f"
)

// Errors of the WebAuthn checks, besides those of the U2F ones
// ([ErrBadSignature], [ErrNoPresence], [ErrCounter], [ErrBadAttestation],
// [ErrUntrusted]) which mean the same here.
var (
	// ErrMalformedAnswer is a registration or a login whose bytes do not
	// read as WebAuthn says they must.
	ErrMalformedAnswer = errors.New("the key's answer is malformed")
	// ErrWrongRelyingParty is a key that answered for another relying
	// party (rpIdHash, WebAuthn §7.1 step 13, §7.2 step 15).
	ErrWrongRelyingParty = errors.New("the key answered for another relying party")
	// ErrClientData is client data that does not match the request: not
	// the ceremony, the challenge or the origin keydesk asked for.
	ErrClientData = errors.New("client data does not match the request")
	// ErrNoUserVerification is a key that did not verify its user (PIN or
	// biometrics) when the policy requires it.
	ErrNoUserVerification = errors.New("the key did not verify its user (PIN)")
	// ErrAlgorithm is a credential key of an algorithm keydesk does not
	// accept (ES256, EdDSA and RS256 only).
	ErrAlgorithm = errors.New("the key's algorithm is not accepted")
	// ErrAAGUIDMismatch is an attestation certificate that names another
	// model than the authenticator data (WebAuthn §8.2.1).
	ErrAAGUIDMismatch = fmt.Errorf("%w: the certificate's AAGUID is not the key's", ErrBadAttestation)
	// ErrModelNotAllowed is a key model refused by the AAGUID lists.
	ErrModelNotAllowed = Refusef("this key model is not allowed")
)

// Sizes that bound what keydesk reads from a key or a browser. A real
// attestation object is a few kilobytes (a TPM one up to about ten).
const (
	maxAttestationObject = 64 << 10
	maxClientDataJSON    = 16 << 10
	maxX5C               = 8
)

// Algorithms keydesk accepts for credential keys (COSE identifiers, RFC
// 9053): the ones security keys use, and RS256 for Windows Hello.
var acceptedAlgorithms = map[webauthncose.COSEAlgorithmIdentifier]string{
	webauthncose.AlgES256: "ES256",
	webauthncose.AlgEdDSA: "EdDSA",
	webauthncose.AlgRS256: "RS256",
}

// WebAuthnRegistration is a key's answer to a registration and what
// keydesk asked for. The client data comes one of two ways: at the desk,
// keydesk builds it and sends only its hash to the key (ClientDataHash);
// from a browser, the browser builds it and keydesk checks it
// (ClientDataJSON, Challenge and Origins). Exactly one of the two is set.
type WebAuthnRegistration struct {
	AttestationObject []byte // CBOR {fmt, authData, attStmt} (WebAuthn §6.5)

	ClientDataHash []byte // SHA-256 of the client data the desk built

	ClientDataJSON []byte   // as the browser sent it
	Challenge      []byte   // the challenge keydesk issued
	Origins        []string // origins the browser may report, e.g. "https://example.edu"

	RPID string // the relying party, e.g. "example.edu"
	// AppID, when set, is the U2F AppID of a U2F-only key registered through
	// a CTAP1 bridge: its rpIdHash is SHA-256(AppID) and only the fido-u2f
	// format is accepted.
	AppID string
}

// RegistrationPolicy is what the desk requires of a key at registration.
type RegistrationPolicy struct {
	Trust *TrustStore // vendor roots; nil trusts none
	// MDS, when loaded, names the models, refuses revoked and compromised
	// ones, and adds each model's roots to the trust for that model.
	MDS *MDS
	// MDSGrace is how long past its nextUpdate a loaded MDS still serves;
	// past it, registrations are refused until a new BLOB is imported.
	MDSGrace time.Duration

	RequireUV bool // the key must verify its user (PIN) at registration
	// RequireTrusted refuses keys whose attestation does not chain to a
	// vendor root or to the MDS entry's roots: self and none included.
	RequireTrusted bool
	// AllowAAGUIDs, when not empty, lists the only models accepted. U2F
	// keys have the zero AAGUID. Without RequireTrusted an AAGUID is only
	// the key's claim.
	AllowAAGUIDs []u2f.AAGUID
	DenyAAGUIDs  []u2f.AAGUID // models refused
}

// WebAuthnCredential is a registered key as keydesk stores it.
type WebAuthnCredential struct {
	ID        []byte     // credential id
	PublicKey []byte     // COSE_Key (RFC 9052 §7), CTAP2 canonical CBOR
	Algorithm int64      // COSE algorithm: -7 ES256, -8 EdDSA, -257 RS256
	AAGUID    u2f.AAGUID // model, zero for U2F keys
	SignCount uint32     // signature counter at registration
	// Backup flags (WebAuthn §6.1.3): the credential may be synced to
	// other devices, and is.
	BackupEligible bool
	BackupState    bool
	UserVerified   bool     // the key verified its user at registration
	Format         string   // attestation statement format
	Chain          [][]byte // attestation certificates, DER, leaf first
}

// registration is a parsed attestation object.
type registration struct {
	obj  protocol.AttestationObject
	alg  webauthncose.COSEAlgorithmIdentifier
	hash []byte // client data hash
}

// CheckWebAuthnRegistration decides whether a key's registration is
// genuine and admissible under p (WebAuthn §7.1, the steps that fall to a
// server; step numbers here are Level 2's, which Level 3 keeps in
// substance and renumbers). It returns the credential to store and what the attestation
// says. On error both are zero; the error wraps one of the Err values.
func CheckWebAuthnRegistration(in WebAuthnRegistration, p RegistrationPolicy, now time.Time) (WebAuthnCredential, Attestation, error) {
	r, err := parseRegistration(in)
	if err != nil {
		return WebAuthnCredential{}, Attestation{}, err
	}
	ad := r.obj.AuthData
	var aaguid u2f.AAGUID
	copy(aaguid[:], ad.AttData.AAGUID)

	// §7.1 step 15: user verification, when the desk requires a PIN.
	if p.RequireUV && !ad.Flags.HasUserVerified() {
		return WebAuthnCredential{}, Attestation{}, fmt.Errorf("registration: %w (UV flag clear)", ErrNoUserVerification)
	}
	var entry *MDSEntry
	if p.MDS != nil {
		if err := p.MDS.current(now, p.MDSGrace); err != nil {
			return WebAuthnCredential{}, Attestation{}, err
		}
		entry = p.MDS.lookup(aaguid, r.obj)
	}
	att, chain, err := checkStatement(r, p.Trust, entry, now)
	if err != nil {
		return WebAuthnCredential{}, Attestation{}, err
	}
	if err := p.admit(aaguid, entry, att); err != nil {
		return WebAuthnCredential{}, Attestation{}, err
	}
	cred := WebAuthnCredential{
		ID:             bytes.Clone(ad.AttData.CredentialID),
		PublicKey:      bytes.Clone(ad.AttData.CredentialPublicKey),
		Algorithm:      int64(r.alg),
		AAGUID:         aaguid,
		SignCount:      ad.Counter,
		BackupEligible: ad.Flags.HasBackupEligible(),
		BackupState:    ad.Flags.HasBackupState(),
		UserVerified:   ad.Flags.HasUserVerified(),
		Format:         r.obj.Format,
		Chain:          chain,
	}
	return cred, att, nil
}

// parseRegistration reads the attestation object and checks what needs no
// policy: client data, rpIdHash, flags and the credential key.
func parseRegistration(in WebAuthnRegistration) (*registration, error) {
	if len(in.AttestationObject) > maxAttestationObject {
		return nil, fmt.Errorf("%w: attestation object of %d bytes (at most %d)", ErrMalformedAnswer, len(in.AttestationObject), maxAttestationObject)
	}
	hash, err := clientDataHash(in.ClientDataHash, in.ClientDataJSON, in.Challenge, in.Origins, "webauthn.create")
	if err != nil {
		return nil, err
	}
	r := &registration{hash: hash}
	// §7.1 step 12: CBOR-decode the attestation object.
	if err := webauthncbor.Unmarshal(in.AttestationObject, &r.obj); err != nil {
		return nil, fmt.Errorf("%w: attestation object: %v", ErrMalformedAnswer, err)
	}
	if err := r.obj.AuthData.Unmarshal(r.obj.RawAuthData); err != nil {
		return nil, fmt.Errorf("%w: authenticator data of %d bytes: %s", ErrMalformedAnswer, len(r.obj.RawAuthData), libraryReason(err))
	}
	ad := &r.obj.AuthData
	// §7.1 step 13: the key answered for our relying party. A U2F key
	// bridged from CTAP1 hashes the AppID instead (§10.1.1).
	want, name := sha256.Sum256([]byte(in.RPID)), in.RPID
	if in.AppID != "" {
		want, name = sha256.Sum256([]byte(in.AppID)), in.AppID
		if r.obj.Format != string(protocol.AttestationFormatFIDOUniversalSecondFactor) {
			return nil, fmt.Errorf("%w: a registration under the AppID must be fido-u2f, not %q", ErrMalformedAnswer, r.obj.Format)
		}
	}
	if subtle.ConstantTimeCompare(ad.RPIDHash, want[:]) != 1 {
		return nil, fmt.Errorf("%w: rpIdHash is not SHA-256(%q)", ErrWrongRelyingParty, name)
	}
	// §7.1 step 14 (UV, step 15, is the policy's).
	if !ad.Flags.HasUserPresent() {
		return nil, fmt.Errorf("registration: %w (UP flag clear)", ErrNoPresence)
	}
	if !ad.Flags.HasAttestedCredentialData() {
		return nil, fmt.Errorf("%w: no attested credential data (AT flag clear)", ErrMalformedAnswer)
	}
	// §7.1 step 16: the credential key parses and is of an accepted kind.
	alg, err := credentialAlgorithm(ad.AttData.CredentialPublicKey)
	if err != nil {
		return nil, err
	}
	r.alg = alg
	return r, nil
}

// credentialAlgorithm parses a COSE key and names its algorithm when
// keydesk accepts it.
func credentialAlgorithm(cose []byte) (webauthncose.COSEAlgorithmIdentifier, error) {
	key, err := webauthncose.ParsePublicKey(cose)
	if err != nil {
		return 0, fmt.Errorf("%w: credential public key: %s", ErrMalformedAnswer, libraryReason(err))
	}
	var alg int64
	switch k := key.(type) {
	case webauthncose.EC2PublicKeyData:
		alg = k.Algorithm
	case webauthncose.OKPPublicKeyData:
		alg = k.Algorithm
	case webauthncose.RSAPublicKeyData:
		alg = k.Algorithm
	default:
		return 0, fmt.Errorf("%w: credential key of type %T", ErrAlgorithm, key)
	}
	if _, ok := acceptedAlgorithms[webauthncose.COSEAlgorithmIdentifier(alg)]; !ok {
		return 0, fmt.Errorf("%w: COSE algorithm %d", ErrAlgorithm, alg)
	}
	return webauthncose.COSEAlgorithmIdentifier(alg), nil
}

// admit applies the desk's rules to a genuine registration.
func (p RegistrationPolicy) admit(aaguid u2f.AAGUID, entry *MDSEntry, att Attestation) error {
	for _, d := range p.DenyAAGUIDs {
		if d == aaguid {
			return fmt.Errorf("%w: %s (%s) is on the deny list", ErrModelNotAllowed, att.Model, aaguid)
		}
	}
	if len(p.AllowAAGUIDs) > 0 {
		allowed := false
		for _, a := range p.AllowAAGUIDs {
			allowed = allowed || a == aaguid
		}
		if !allowed {
			return fmt.Errorf("%w: %s (%s) is not on the allow list", ErrModelNotAllowed, att.Model, aaguid)
		}
	}
	if entry != nil {
		if err := entry.refuse(); err != nil {
			return err
		}
	}
	if p.RequireTrusted && !att.Trusted() {
		return fmt.Errorf("%w: %s attestation (issuer %q); the policy requires a trusted one", ErrUntrusted, att.Result, att.Issuer)
	}
	return nil
}

// libraryReason words an error of go-webauthn: its details and the
// information meant for developers, never secrets (there are none in a
// key's public answer).
func libraryReason(err error) string {
	var e *protocol.Error
	if errors.As(err, &e) {
		if e.DevInfo != "" && e.DevInfo != e.Details {
			return e.Details + " (" + e.DevInfo + ")"
		}
		return e.Details
	}
	return err.Error()
}
