package verify

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"slices"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/protocol/webauthncose"
)

// maxAuthenticatorData bounds the authenticator data of a login: 37 bytes
// and the extensions a key may add.
const maxAuthenticatorData = 16 << 10

// WebAuthnAssertion is a key's answer to a login and what keydesk asked
// for. As at registration, the client data comes as the desk's hash or as
// the browser's JSON with the challenge and origins to check.
type WebAuthnAssertion struct {
	AuthenticatorData []byte
	Signature         []byte

	ClientDataHash []byte

	ClientDataJSON []byte
	Challenge      []byte
	Origins        []string

	RPID string
	// AppID is the U2F AppID offered through the appid extension (WebAuthn
	// §10.1.1) for a key registered over U2F; such a key answers with
	// rpIdHash = SHA-256(AppID).
	AppID string
	// RequireUV refuses an answer without user verification.
	RequireUV bool
}

// KeyUse is what a login tells about the key; the caller stores the
// new signature counter and backup state.
type KeyUse struct {
	SignCount    uint32
	UserVerified bool
	BackupState  bool
	ByAppID      bool // the key answered for the AppID, not the RP ID
}

// CheckWebAuthnAssertion verifies a login by a registered key (WebAuthn
// Level 2 §7.2 steps 11-21, those of a server): the client data, the rpIdHash,
// the UP and UV flags, the signature over authenticatorData ||
// SHA-256(clientData) with the stored key, and the signature counter. A
// counter that does not grow, when the key counts, is [ErrCounter]: the
// key may be cloned. On error KeyUse is zero.
func CheckWebAuthnAssertion(cred WebAuthnCredential, in WebAuthnAssertion) (KeyUse, error) {
	if len(in.AuthenticatorData) > maxAuthenticatorData {
		return KeyUse{}, fmt.Errorf("%w: authenticator data of %d bytes (at most %d)", ErrMalformedAnswer, len(in.AuthenticatorData), maxAuthenticatorData)
	}
	hash, err := clientDataHash(in.ClientDataHash, in.ClientDataJSON, in.Challenge, in.Origins, "webauthn.get")
	if err != nil {
		return KeyUse{}, err
	}
	var ad protocol.AuthenticatorData
	if err := ad.Unmarshal(in.AuthenticatorData); err != nil {
		return KeyUse{}, fmt.Errorf("%w: authenticator data of %d bytes: %s", ErrMalformedAnswer, len(in.AuthenticatorData), libraryReason(err))
	}
	use := KeyUse{SignCount: ad.Counter, UserVerified: ad.Flags.HasUserVerified(), BackupState: ad.Flags.HasBackupState()}
	// §7.2 step 15, with §10.1.1 for keys registered under the AppID.
	rp := sha256.Sum256([]byte(in.RPID))
	app := sha256.Sum256([]byte(in.AppID))
	switch {
	case subtle.ConstantTimeCompare(ad.RPIDHash, rp[:]) == 1:
	case in.AppID != "" && subtle.ConstantTimeCompare(ad.RPIDHash, app[:]) == 1:
		use.ByAppID = true
	default:
		return KeyUse{}, fmt.Errorf("%w: rpIdHash is not SHA-256(%q)", ErrWrongRelyingParty, in.RPID)
	}
	// §7.2 steps 16-17.
	if !ad.Flags.HasUserPresent() {
		return KeyUse{}, fmt.Errorf("login: %w (UP flag clear)", ErrNoPresence)
	}
	if in.RequireUV && !use.UserVerified {
		return KeyUse{}, fmt.Errorf("login: %w (UV flag clear)", ErrNoUserVerification)
	}
	// §7.2 steps 19-20.
	// A stored key keydesk cannot use is a failure, not a denial: the
	// error wraps none of the Err values.
	if _, err := credentialAlgorithm(cred.PublicKey); err != nil {
		return KeyUse{}, fmt.Errorf("the stored credential key cannot be used: %v", err)
	}
	key, err := webauthncose.ParsePublicKey(cred.PublicKey)
	if err != nil {
		return KeyUse{}, fmt.Errorf("the stored credential key cannot be used: %s", libraryReason(err))
	}
	ok, err := webauthncose.VerifySignature(key, slices.Concat(in.AuthenticatorData, hash), in.Signature)
	if err != nil || !ok {
		return KeyUse{}, fmt.Errorf("login %w with the registered key", ErrBadSignature)
	}
	// §7.2 step 21: a counter only means something when the key keeps
	// one; a key that reports 0 each time has none.
	if (ad.Counter != 0 || cred.SignCount != 0) && ad.Counter <= cred.SignCount {
		return KeyUse{}, fmt.Errorf("%w (the key answered %d, last seen %d)", ErrCounter, ad.Counter, cred.SignCount)
	}
	return use, nil
}
