package u2f

import "fmt"

// CTAP2Error is a non-zero CTAP2 status code, the first byte of an
// authenticator's answer (CTAP 2.1 §8.2). Each value is an error itself,
// so callers test errors.Is(err, u2f.ErrPINInvalid) or take the code out
// with errors.As.
type CTAP2Error byte

// Status codes of CTAP 2.1 §8.2 (0x01..0x0B are shared with CTAPHID).
const (
	ErrInvalidCommand         CTAP2Error = 0x01
	ErrInvalidParameter       CTAP2Error = 0x02
	ErrInvalidLength          CTAP2Error = 0x03
	ErrInvalidSeq             CTAP2Error = 0x04
	ErrTimeout                CTAP2Error = 0x05
	ErrChannelBusy            CTAP2Error = 0x06
	ErrLockRequired           CTAP2Error = 0x0a
	ErrInvalidChannel         CTAP2Error = 0x0b
	ErrCBORUnexpectedType     CTAP2Error = 0x11
	ErrInvalidCBOR            CTAP2Error = 0x12
	ErrMissingParameter       CTAP2Error = 0x14
	ErrLimitExceeded          CTAP2Error = 0x15
	ErrFPDatabaseFull         CTAP2Error = 0x17
	ErrLargeBlobStorageFull   CTAP2Error = 0x18
	ErrCredentialExcluded     CTAP2Error = 0x19
	ErrProcessing             CTAP2Error = 0x21
	ErrInvalidCredential      CTAP2Error = 0x22
	ErrUserActionPending      CTAP2Error = 0x23
	ErrOperationPending       CTAP2Error = 0x24
	ErrNoOperations           CTAP2Error = 0x25
	ErrUnsupportedAlgorithm   CTAP2Error = 0x26
	ErrOperationDenied        CTAP2Error = 0x27
	ErrKeyStoreFull           CTAP2Error = 0x28
	ErrUnsupportedOption      CTAP2Error = 0x2b
	ErrInvalidOption          CTAP2Error = 0x2c
	ErrKeepaliveCancel        CTAP2Error = 0x2d
	ErrNoCredentials          CTAP2Error = 0x2e
	ErrUserActionTimeout      CTAP2Error = 0x2f
	ErrNotAllowed             CTAP2Error = 0x30
	ErrPINInvalid             CTAP2Error = 0x31
	ErrPINBlocked             CTAP2Error = 0x32
	ErrPINAuthInvalid         CTAP2Error = 0x33
	ErrPINAuthBlocked         CTAP2Error = 0x34
	ErrPINNotSet              CTAP2Error = 0x35
	ErrPUATRequired           CTAP2Error = 0x36 // CTAP 2.0: PIN_REQUIRED
	ErrPINPolicyViolation     CTAP2Error = 0x37
	ErrRequestTooLarge        CTAP2Error = 0x39
	ErrActionTimeout          CTAP2Error = 0x3a
	ErrUPRequired             CTAP2Error = 0x3b
	ErrUVBlocked              CTAP2Error = 0x3c
	ErrIntegrityFailure       CTAP2Error = 0x3d
	ErrInvalidSubcommand      CTAP2Error = 0x3e
	ErrUVInvalid              CTAP2Error = 0x3f
	ErrUnauthorizedPermission CTAP2Error = 0x40
	ErrOther                  CTAP2Error = 0x7f
)

type statusText struct{ name, words string }

// statusTexts: the spec's name, and what it means to a clerk at the desk.
var statusTexts = map[CTAP2Error]statusText{
	ErrInvalidCommand:         {"CTAP1_ERR_INVALID_COMMAND", "the key does not know this command"},
	ErrInvalidParameter:       {"CTAP1_ERR_INVALID_PARAMETER", "the key refused a parameter of the request"},
	ErrInvalidLength:          {"CTAP1_ERR_INVALID_LENGTH", "the request has the wrong length"},
	ErrInvalidSeq:             {"CTAP1_ERR_INVALID_SEQ", "the request's packets came out of order"},
	ErrTimeout:                {"CTAP1_ERR_TIMEOUT", "the request did not arrive whole in time"},
	ErrChannelBusy:            {"CTAP1_ERR_CHANNEL_BUSY", "the key is busy with another program"},
	ErrLockRequired:           {"CTAP1_ERR_LOCK_REQUIRED", "the key is locked by another program"},
	ErrInvalidChannel:         {"CTAP1_ERR_INVALID_CHANNEL", "the key does not know this channel"},
	ErrCBORUnexpectedType:     {"CTAP2_ERR_CBOR_UNEXPECTED_TYPE", "the key could not read the request (wrong type)"},
	ErrInvalidCBOR:            {"CTAP2_ERR_INVALID_CBOR", "the key could not read the request"},
	ErrMissingParameter:       {"CTAP2_ERR_MISSING_PARAMETER", "the request lacks a parameter the key needs"},
	ErrLimitExceeded:          {"CTAP2_ERR_LIMIT_EXCEEDED", "the request exceeds a limit of the key"},
	ErrFPDatabaseFull:         {"CTAP2_ERR_FP_DATABASE_FULL", "the key has no room for another fingerprint"},
	ErrLargeBlobStorageFull:   {"CTAP2_ERR_LARGE_BLOB_STORAGE_FULL", "the key has no room for more data"},
	ErrCredentialExcluded:     {"CTAP2_ERR_CREDENTIAL_EXCLUDED", "this key is already registered for this user"},
	ErrProcessing:             {"CTAP2_ERR_PROCESSING", "the key is still working on the request"},
	ErrInvalidCredential:      {"CTAP2_ERR_INVALID_CREDENTIAL", "the key does not accept this credential"},
	ErrUserActionPending:      {"CTAP2_ERR_USER_ACTION_PENDING", "the key is waiting for the user"},
	ErrOperationPending:       {"CTAP2_ERR_OPERATION_PENDING", "the key is busy with another operation"},
	ErrNoOperations:           {"CTAP2_ERR_NO_OPERATIONS", "there is no operation to continue"},
	ErrUnsupportedAlgorithm:   {"CTAP2_ERR_UNSUPPORTED_ALGORITHM", "the key supports none of the signature algorithms asked for"},
	ErrOperationDenied:        {"CTAP2_ERR_OPERATION_DENIED", "the user or the key refused the operation"},
	ErrKeyStoreFull:           {"CTAP2_ERR_KEY_STORE_FULL", "the key has no room for another resident credential"},
	ErrUnsupportedOption:      {"CTAP2_ERR_UNSUPPORTED_OPTION", "the key does not support an option asked for"},
	ErrInvalidOption:          {"CTAP2_ERR_INVALID_OPTION", "an option of the request is not valid for this command"},
	ErrKeepaliveCancel:        {"CTAP2_ERR_KEEPALIVE_CANCEL", "the operation was cancelled"},
	ErrNoCredentials:          {"CTAP2_ERR_NO_CREDENTIALS", "the key holds no credential for this site"},
	ErrUserActionTimeout:      {"CTAP2_ERR_USER_ACTION_TIMEOUT", "nobody touched the key in time"},
	ErrNotAllowed:             {"CTAP2_ERR_NOT_ALLOWED", "the key does not allow this now (a reset works only just after plugging it in)"},
	ErrPINInvalid:             {"CTAP2_ERR_PIN_INVALID", "the PIN is wrong"},
	ErrPINBlocked:             {"CTAP2_ERR_PIN_BLOCKED", "the PIN is blocked after too many wrong tries; only a reset (which erases the key) helps"},
	ErrPINAuthInvalid:         {"CTAP2_ERR_PIN_AUTH_INVALID", "the key refused the PIN proof (try again)"},
	ErrPINAuthBlocked:         {"CTAP2_ERR_PIN_AUTH_BLOCKED", "three wrong PINs in a row: unplug the key and plug it in again"},
	ErrPINNotSet:              {"CTAP2_ERR_PIN_NOT_SET", "the key has no PIN yet"},
	ErrPUATRequired:           {"CTAP2_ERR_PUAT_REQUIRED", "the key needs its PIN for this"},
	ErrPINPolicyViolation:     {"CTAP2_ERR_PIN_POLICY_VIOLATION", "the key does not accept this PIN (too short, too long, or a change is required first)"},
	ErrRequestTooLarge:        {"CTAP2_ERR_REQUEST_TOO_LARGE", "the request is too large for the key"},
	ErrActionTimeout:          {"CTAP2_ERR_ACTION_TIMEOUT", "the key gave up waiting"},
	ErrUPRequired:             {"CTAP2_ERR_UP_REQUIRED", "the key needs a touch for this"},
	ErrUVBlocked:              {"CTAP2_ERR_UV_BLOCKED", "the key's fingerprint reader is blocked; use the PIN"},
	ErrIntegrityFailure:       {"CTAP2_ERR_INTEGRITY_FAILURE", "a checksum did not match"},
	ErrInvalidSubcommand:      {"CTAP2_ERR_INVALID_SUBCOMMAND", "the key does not know this subcommand"},
	ErrUVInvalid:              {"CTAP2_ERR_UV_INVALID", "the key did not recognise the user"},
	ErrUnauthorizedPermission: {"CTAP2_ERR_UNAUTHORIZED_PERMISSION", "the key does not grant the permission asked for"},
	ErrOther:                  {"CTAP1_ERR_OTHER", "the key failed for a reason it did not say"},
}

// Name returns the code's name in CTAP 2.1 §8.2, e.g. "CTAP2_ERR_PIN_INVALID".
func (e CTAP2Error) Name() string {
	if t, ok := statusTexts[e]; ok {
		return t.name
	}
	switch {
	case e >= 0xe0 && e <= 0xef:
		return "CTAP2_ERR_EXTENSION"
	case e >= 0xf0:
		return "CTAP2_ERR_VENDOR"
	}
	return "unknown status"
}

// Error says what went wrong in words a clerk understands, then the code.
func (e CTAP2Error) Error() string {
	words := "the key failed"
	if t, ok := statusTexts[e]; ok {
		words = t.words
	}
	return fmt.Sprintf("%s (%s, 0x%02x)", words, e.Name(), byte(e))
}
