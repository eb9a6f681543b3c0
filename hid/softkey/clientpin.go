package softkey

import (
	"crypto/ecdh"
	"crypto/subtle"
	"fmt"
	"io"
	"unicode/utf8"

	"github.com/keydesk/keydesk/u2f"
)

// pinState is what a power cycle resets (CTAP 2.1 §6.5.5.1): the
// key-agreement key of each protocol, the pinUvAuthToken and its
// permissions, and the count of consecutive wrong PINs.
type pinState struct {
	keys        map[u2f.PINProtocol]*ecdh.PrivateKey
	token       []byte
	tokenProto  u2f.PINProtocol // the protocol the token was handed out with; 0: none
	permissions u2f.Permission
	rpID        string
	wrongInARow int
}

// maxWrongInARow: three wrong PINs in a row block PIN tries until a power
// cycle (§6.5.5.7.1 step 9.1.2).
const maxWrongInARow = 3

// powerUp is the state of a key just plugged in (§6.5.5.1: initialize
// for each protocol).
func (k *Key) powerUp() error {
	k.pin = pinState{keys: map[u2f.PINProtocol]*ecdh.PrivateKey{}}
	for _, p := range []u2f.PINProtocol{u2f.PINProtocolOne, u2f.PINProtocolTwo} {
		if err := k.regenerate(p); err != nil {
			return err
		}
	}
	k.resetToken()
	return nil
}

func (k *Key) regenerate(p u2f.PINProtocol) error {
	key, err := u2f.NewKeyAgreementKey(k.cfg.Rand)
	if err != nil {
		return fmt.Errorf("softkey: making key agreement key: %w", err)
	}
	k.pin.keys[p] = key
	return nil
}

// resetToken makes a new token, which nobody holds yet (§6.5.5.1
// resetPinUvAuthToken).
func (k *Key) resetToken() {
	k.pin.token = make([]byte, u2f.PINTokenSize)
	if _, err := io.ReadFull(k.cfg.Rand, k.pin.token); err != nil {
		k.log.Error("making pinUvAuthToken", "err", err)
	}
	k.pin.tokenProto, k.pin.permissions, k.pin.rpID = 0, 0, ""
}

func (k *Key) clientPIN(params []byte) answer {
	r, err := u2f.ParseClientPINRequest(params)
	if err != nil {
		return statusOnly(k.codeOf(err))
	}
	switch r.Subcommand {
	case u2f.PINGetRetries:
		n := k.st.pinRetries
		return k.pinAnswer(&u2f.ClientPINResponse{PINRetries: &n, PowerCycleState: k.pin.wrongInARow >= maxWrongInARow})
	case u2f.PINGetKeyAgreement, u2f.PINSet, u2f.PINChange, u2f.PINGetToken, u2f.PINGetTokenUsingPINWithPerms:
	default:
		// No built-in user verification: the UV subcommands are unknown.
		return statusOnly(u2f.ErrInvalidSubcommand)
	}
	if r.Protocol == 0 {
		return statusOnly(u2f.ErrMissingParameter)
	}
	if _, ok := k.pin.keys[r.Protocol]; !ok {
		return statusOnly(u2f.ErrInvalidParameter)
	}
	switch r.Subcommand {
	case u2f.PINGetKeyAgreement:
		return k.pinAnswer(&u2f.ClientPINResponse{KeyAgreement: k.pin.keys[r.Protocol].PublicKey()})
	case u2f.PINSet:
		return statusOnly(k.setPIN(r))
	case u2f.PINChange:
		return statusOnly(k.changePIN(r))
	}
	return k.pinToken(r)
}

func (k *Key) pinAnswer(r *u2f.ClientPINResponse) answer { return now(k.reply(r.Marshal())) }

// shared is decapsulate with the platform's key (§6.5.5.5 step 4).
func (k *Key) shared(r *u2f.ClientPINRequest) (*u2f.SharedSecret, u2f.CTAP2Error) {
	s, err := r.Protocol.Decapsulate(k.pin.keys[r.Protocol], r.KeyAgreement)
	if err != nil {
		return nil, u2f.ErrInvalidParameter
	}
	return s, 0
}

// setPIN follows §6.5.5.5.
func (k *Key) setPIN(r *u2f.ClientPINRequest) u2f.CTAP2Error {
	if r.KeyAgreement == nil || r.PinUVAuthParam == nil || r.NewPINEnc == nil {
		return u2f.ErrMissingParameter
	}
	if k.st.pinHash != nil {
		return u2f.ErrPINAuthInvalid
	}
	s, code := k.shared(r)
	if code != 0 {
		return code
	}
	if !s.Verify(r.NewPINEnc, r.PinUVAuthParam) {
		return u2f.ErrPINAuthInvalid
	}
	pin, code := k.newPIN(s, r.NewPINEnc)
	if code != 0 {
		return code
	}
	return k.storePIN(pin)
}

// newPIN decrypts and checks a new PIN (§6.5.5.5 steps 6 to 10).
func (k *Key) newPIN(s *u2f.SharedSecret, enc []byte) ([]byte, u2f.CTAP2Error) {
	padded, err := s.Decrypt(enc)
	if err != nil {
		return nil, u2f.ErrPINAuthInvalid
	}
	pin, err := u2f.UnpadPIN(padded)
	if err != nil {
		return nil, u2f.ErrInvalidParameter
	}
	if !utf8.Valid(pin) || utf8.RuneCount(pin) < k.st.minPINLength || len(pin) > u2f.MaxPINBytes {
		return nil, u2f.ErrPINPolicyViolation
	}
	return pin, 0
}

func (k *Key) storePIN(pin []byte) u2f.CTAP2Error {
	old := *k.st
	k.st.pinHash, k.st.pinLength = u2f.PINHash(pin), utf8.RuneCount(pin)
	k.st.pinRetries, k.st.forcePINChange = maxPINRetries, false
	if err := k.save(); err != nil {
		*k.st = old
		return k.codeOf(err)
	}
	k.resetToken()
	k.log.Info("PIN set")
	return 0
}

// checkPIN is the common part of changePIN and the token subcommands:
// a try costs a retry until it proves right (§6.5.5.6 steps 6 to 8).
func (k *Key) checkPIN(r *u2f.ClientPINRequest, s *u2f.SharedSecret) u2f.CTAP2Error {
	k.st.pinRetries--
	if err := k.save(); err != nil {
		k.st.pinRetries++
		return k.codeOf(err)
	}
	hash, err := s.Decrypt(r.PINHashEnc)
	if err == nil && len(hash) == 16 && subtle.ConstantTimeCompare(hash, k.st.pinHash) == 1 {
		k.pin.wrongInARow = 0
		k.st.pinRetries = maxPINRetries
		if err := k.save(); err != nil {
			return k.codeOf(err)
		}
		return 0
	}
	if err := k.regenerate(r.Protocol); err != nil {
		return k.codeOf(err)
	}
	k.pin.wrongInARow++
	k.log.Info("wrong PIN", "retries", k.st.pinRetries, "in a row", k.pin.wrongInARow)
	switch {
	case k.st.pinRetries == 0:
		return u2f.ErrPINBlocked
	case k.pin.wrongInARow >= maxWrongInARow:
		return u2f.ErrPINAuthBlocked
	}
	return u2f.ErrPINInvalid
}

// mayTryPIN refuses a PIN try when the PIN is blocked, when three wrong
// tries call for a power cycle first, or when there is no PIN.
func (k *Key) mayTryPIN() u2f.CTAP2Error {
	switch {
	case k.st.pinRetries == 0:
		return u2f.ErrPINBlocked
	case k.pin.wrongInARow >= maxWrongInARow:
		return u2f.ErrPINAuthBlocked
	case k.st.pinHash == nil:
		return u2f.ErrPINNotSet
	}
	return 0
}

// changePIN follows §6.5.5.6.
func (k *Key) changePIN(r *u2f.ClientPINRequest) u2f.CTAP2Error {
	if r.KeyAgreement == nil || r.PinUVAuthParam == nil || r.NewPINEnc == nil || r.PINHashEnc == nil {
		return u2f.ErrMissingParameter
	}
	if code := k.mayTryPIN(); code != 0 {
		return code
	}
	s, code := k.shared(r)
	if code != 0 {
		return code
	}
	if !s.Verify(append(append([]byte(nil), r.NewPINEnc...), r.PINHashEnc...), r.PinUVAuthParam) {
		return u2f.ErrPINAuthInvalid
	}
	if code := k.checkPIN(r, s); code != 0 {
		return code
	}
	pin, code := k.newPIN(s, r.NewPINEnc)
	if code != 0 {
		return code
	}
	if k.st.forcePINChange && subtle.ConstantTimeCompare(u2f.PINHash(pin), k.st.pinHash) == 1 {
		return u2f.ErrPINPolicyViolation // step 13: a forced change must change it
	}
	return k.storePIN(pin)
}

// tokenPermissions are the permissions this key grants: no biometrics,
// no large blobs (§6.5.5.7.2 step 4).
const tokenPermissions = u2f.PermMakeCredential | u2f.PermGetAssertion | u2f.PermCredentialManagement | u2f.PermAuthenticatorConfig

// pinToken follows §6.5.5.7.1 (getPinToken) and §6.5.5.7.2
// (getPinUvAuthTokenUsingPinWithPermissions).
func (k *Key) pinToken(r *u2f.ClientPINRequest) answer {
	perms := r.Permissions
	if r.KeyAgreement == nil || r.PINHashEnc == nil || (r.Subcommand == u2f.PINGetTokenUsingPINWithPerms && perms == 0) {
		return statusOnly(u2f.ErrMissingParameter)
	}
	if r.Subcommand == u2f.PINGetToken {
		if perms != 0 || r.RPID != "" {
			return statusOnly(u2f.ErrInvalidParameter)
		}
		perms = u2f.PermMakeCredential | u2f.PermGetAssertion // the default permissions
	} else if perms&^tokenPermissions&(u2f.PermBioEnrollment|u2f.PermLargeBlobWrite) != 0 {
		return statusOnly(u2f.ErrUnauthorizedPermission)
	}
	if code := k.mayTryPIN(); code != 0 {
		return statusOnly(code)
	}
	s, code := k.shared(r)
	if code != 0 {
		return statusOnly(code)
	}
	if code := k.checkPIN(r, s); code != 0 {
		return statusOnly(code)
	}
	if k.st.forcePINChange {
		if r.Subcommand == u2f.PINGetToken {
			return statusOnly(u2f.ErrPINInvalid)
		}
		return statusOnly(u2f.ErrPINPolicyViolation)
	}
	k.resetToken()
	k.pin.tokenProto, k.pin.permissions, k.pin.rpID = r.Protocol, perms&tokenPermissions, r.RPID
	enc, err := s.Encrypt(k.cfg.Rand, k.pin.token)
	if err != nil {
		return statusOnly(k.codeOf(err))
	}
	return k.pinAnswer(&u2f.ClientPINResponse{PINUVAuthToken: enc})
}

// usesToken checks a pinUvAuthParam over message made with the current
// token for the permission and, when the token is bound to an RP ID, for
// rpID (§6.5.5.7: "verify" and the permissions RP ID). An mc or ga token
// not yet bound is bound to rpID now.
func (k *Key) usesToken(proto u2f.PINProtocol, param, message []byte, perm u2f.Permission, rpID string) u2f.CTAP2Error {
	switch {
	case proto == 0:
		return u2f.ErrMissingParameter
	case proto != u2f.PINProtocolOne && proto != u2f.PINProtocolTwo:
		return u2f.ErrInvalidParameter
	case k.pin.tokenProto != proto || !proto.VerifyParam(k.pin.token, message, param):
		return u2f.ErrPINAuthInvalid
	case k.pin.permissions&perm != perm:
		return u2f.ErrPINAuthInvalid
	case k.pin.rpID != "" && rpID != k.pin.rpID:
		return u2f.ErrPINAuthInvalid
	}
	if rpID != "" && perm&(u2f.PermMakeCredential|u2f.PermGetAssertion) != 0 {
		k.pin.rpID = rpID
	}
	return 0
}
