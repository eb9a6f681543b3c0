package softkey

import (
	"errors"
	"io"
	"time"

	"github.com/keydesk/keydesk/hid"
	"github.com/keydesk/keydesk/u2f"
)

// keepaliveEvery is how often a key waiting for a touch says so (CTAP
// 2.1 §11.2.9.1.7 asks for a KEEPALIVE at least every 100 ms).
const keepaliveEvery = 100 * time.Millisecond

// answer is what a CTAP2 handler returns: the answer now, or, when the
// request needs a touch first, what to answer after it.
type answer struct {
	resp  []byte        // status byte and CBOR
	touch func() []byte // called under k.mu once the user touched the key
}

func now(resp []byte) answer { return answer{resp: resp} }

// status is an answer of a status code alone.
func statusOnly(code u2f.CTAP2Error) answer { return now([]byte{byte(code)}) }

// reply encodes a successful answer.
func (k *Key) reply(body []byte, err error) []byte {
	if err != nil {
		k.log.Error("encoding answer", "err", err)
		return []byte{byte(u2f.ErrOther)}
	}
	return append([]byte{0}, body...)
}

// codeOf is the status code an error of a request parser or a handler
// carries; anything else is a fault of the key.
func (k *Key) codeOf(err error) u2f.CTAP2Error {
	var code u2f.CTAP2Error
	if errors.As(err, &code) {
		k.log.Info("ctap2 request refused", "err", err)
		return code
	}
	k.log.Error("ctap2", "err", err)
	return u2f.ErrOther
}

// touchWait is a CTAP2 request waiting for the user.
type touchWait struct {
	cid   uint32
	since time.Time
	then  func() []byte
	timer hid.Timer
}

// cbor answers one CTAPHID_CBOR request, at once or after a touch.
func (s *session) cbor(m hid.Message) {
	a := s.k.ctap2(m.Data)
	if a.touch == nil {
		s.send(hid.Message{Channel: m.Channel, Command: hid.CmdCBOR, Data: a.resp})
		return
	}
	if s.k.cfg.TouchDelay < 0 {
		s.k.mu.Lock()
		resp := a.touch()
		s.k.mu.Unlock()
		s.send(hid.Message{Channel: m.Channel, Command: hid.CmdCBOR, Data: resp})
		return
	}
	s.k.log.Info("waiting for a touch", "delay", s.k.cfg.TouchDelay)
	s.wait = &touchWait{cid: m.Channel, since: s.k.cfg.Clock.Now(), then: a.touch}
	s.keepalive()
}

func (s *session) keepalive() {
	s.send(hid.Message{Channel: s.wait.cid, Command: hid.CmdKeepalive, Data: []byte{byte(hid.KeepaliveUserNeeded)}})
	s.wait.timer = s.k.cfg.Clock.NewTimer(keepaliveEvery)
}

// tick: the user touches the key TouchDelay after the request came,
// unless UserActionTimeout comes first; until then, KEEPALIVE.
func (s *session) tick() {
	w := s.wait
	waited := s.k.cfg.Clock.Now().Sub(w.since)
	switch {
	case waited >= s.k.cfg.TouchDelay:
		s.wait = nil
		s.k.mu.Lock()
		resp := w.then()
		s.k.mu.Unlock()
		s.send(hid.Message{Channel: w.cid, Command: hid.CmdCBOR, Data: resp})
	case waited >= s.k.cfg.UserActionTimeout:
		s.wait = nil
		s.send(hid.Message{Channel: w.cid, Command: hid.CmdCBOR, Data: []byte{byte(u2f.ErrUserActionTimeout)}})
	default:
		s.keepalive()
	}
}

// whileWaiting takes an initialization packet that comes while a request
// waits for a touch, and reports whether it is to be handled as usual.
// CANCEL on the waiting channel ends the wait with KEEPALIVE_CANCEL
// (§11.2.9.2.5); INIT there aborts it (§11.2.9.1.3); anything else is told
// the key is busy (§11.2.6).
func (s *session) whileWaiting(p hid.Packet) bool {
	w := s.wait
	switch {
	case p.Channel == w.cid && p.Command == hid.CmdCancel:
		s.abandon()
		s.send(hid.Message{Channel: w.cid, Command: hid.CmdCBOR, Data: []byte{byte(u2f.ErrKeepaliveCancel)}})
		return false
	case p.Channel == w.cid && p.Command == hid.CmdInit:
		s.abandon()
		return true
	}
	s.fail(p.Channel, hid.ErrChannelBusy)
	return false
}

func (s *session) abandon() {
	if s.wait != nil {
		s.wait.timer.Stop()
		s.wait = nil
	}
}

// ctap2 answers a CBOR request: the command byte, then its parameters.
func (k *Key) ctap2(req []byte) answer {
	if len(req) == 0 {
		return statusOnly(u2f.ErrInvalidLength)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	cmd, params := req[0], req[1:]
	if k.next != nil && (cmd != u2f.CmdGetNextAssertion && cmd != u2f.CmdCredentialManagement && cmd != u2f.CmdCredentialManagementPreview ||
		k.cfg.Clock.Now().After(k.next.until)) {
		k.next = nil // §6.3: only an immediately following request continues
	}
	switch cmd {
	case u2f.CmdGetInfo:
		return now(k.reply(k.info().Marshal()))
	case u2f.CmdMakeCredential:
		return k.makeCredential(params)
	case u2f.CmdGetAssertion:
		return k.getAssertion(params)
	case u2f.CmdGetNextAssertion:
		return k.getNextAssertion()
	case u2f.CmdClientPIN:
		return k.clientPIN(params)
	case u2f.CmdReset:
		return k.reset()
	case u2f.CmdCredentialManagement, u2f.CmdCredentialManagementPreview:
		return k.credentialManagement(params)
	case u2f.CmdSelection:
		return answer{touch: func() []byte { return []byte{0} }}
	case u2f.CmdConfig:
		return k.config(params)
	}
	return statusOnly(u2f.ErrInvalidCommand)
}

// info is the getInfo answer (CTAP 2.1 §6.4).
func (k *Key) info() *u2f.AuthenticatorInfo {
	versions := []string{u2f.VersionU2F, u2f.VersionFIDO20, u2f.VersionFIDO21}
	if k.cfg.Protocols == CTAP2Only {
		versions = versions[1:]
	}
	remaining := uint64(maxResident - len(k.st.creds))
	v := k.cfg.Version
	return &u2f.AuthenticatorInfo{
		Versions:   versions,
		Extensions: []string{u2f.ExtCredProtect},
		AAGUID:     AAGUID,
		Options: map[string]bool{
			"rk": true, "up": true, "clientPin": k.st.pinHash != nil, "pinUvAuthToken": true,
			"credMgmt": true, "authnrCfg": true, "alwaysUv": k.st.alwaysUV, "setMinPINLength": true,
			"makeCredUvNotRqd": !k.st.alwaysUV,
		},
		MaxMsgSize:                       hid.MaxMessage,
		PinUVAuthProtocols:               []uint64{2, 1},
		MaxCredentialCountInList:         maxCredentialsInList,
		MaxCredentialIDLength:            credIDSize,
		Transports:                       []string{"usb"},
		Algorithms:                       []u2f.CredentialParameter{{Type: u2f.CredentialType, Alg: u2f.ES256}, {Type: u2f.CredentialType, Alg: u2f.EdDSA}},
		ForcePINChange:                   k.st.forcePINChange,
		MinPINLength:                     uint64(k.st.minPINLength),
		FirmwareVersion:                  uint64(v[0])<<16 | uint64(v[1])<<8 | uint64(v[2]),
		RemainingDiscoverableCredentials: &remaining,
	}
}

// maxCredentialsInList bounds an allowList or excludeList.
const maxCredentialsInList = 8

// reset erases the key (CTAP 2.1 §6.6): only within ResetWindow of
// power-up, and only with a touch. A new device secret kills every key
// handle and credential ID made so far; the attestation and the counter
// stay.
func (k *Key) reset() answer {
	if k.cfg.Clock.Now().Sub(k.start) > k.cfg.ResetWindow {
		return statusOnly(u2f.ErrNotAllowed)
	}
	return answer{touch: func() []byte {
		secret := make([]byte, 32)
		if _, err := io.ReadFull(k.cfg.Rand, secret); err != nil {
			return []byte{byte(k.codeOf(err))}
		}
		old := *k.st
		k.st.secret = secret
		k.st.pinHash, k.st.pinLength, k.st.pinRetries = nil, 0, maxPINRetries
		k.st.minPINLength, k.st.forcePINChange, k.st.alwaysUV = u2f.MinPINLength, false, false
		k.st.creds = nil
		if err := k.save(); err != nil {
			*k.st = old
			return []byte{byte(k.codeOf(err))}
		}
		k.resetToken()
		k.log.Info("reset: every credential and the PIN erased")
		return []byte{0}
	}}
}

// iteration is what getNextAssertion or an enumeration's GetNext
// continues (§6.3, §6.8.3, §6.8.4).
type iteration struct {
	kind  string // "assertion", "rp", "credential"
	until time.Time
	items [][]byte // the answers still to give, encoded
}

// nextTimeout: §6.3 lets getNextAssertion follow within 30 s.
const nextTimeout = 30 * time.Second

func (k *Key) iterate(kind string, items [][]byte) {
	k.next = nil
	if len(items) > 0 {
		k.next = &iteration{kind: kind, until: k.cfg.Clock.Now().Add(nextTimeout), items: items}
	}
}

// takeNext gives the next stored answer, or NOT_ALLOWED when there is
// none (§6.3 step 1).
func (k *Key) takeNext(kind string) answer {
	if k.next == nil || k.next.kind != kind || len(k.next.items) == 0 {
		k.next = nil
		return statusOnly(u2f.ErrNotAllowed)
	}
	resp := k.next.items[0]
	k.next.items = k.next.items[1:]
	k.next.until = k.cfg.Clock.Now().Add(nextTimeout)
	return now(resp)
}
