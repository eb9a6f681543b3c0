package softkey

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"

	"github.com/keydesk/keydesk/u2f"
)

// Key handles (U2F raw message formats §4: opaque to the host, at most
// 255 bytes): a format byte, the GCM nonce, and the sealed 32-byte private
// scalar with its tag. Sealing with the application parameter as
// additional data ties the handle to its site: another site's parameter
// fails to open it, which is how the key tells "not mine" (0x6a80).
const (
	handleFormat = 0x01
	nonceSize    = 12
	handleSize   = 1 + nonceSize + 32 + 16
)

var errNotOurs = errors.New("key handle not made by this key for this application")

func (k *Key) aead() cipher.AEAD {
	block, err := aes.NewCipher(k.st.secret)
	if err != nil {
		panic(err) // the secret is 32 bytes by construction
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		panic(err)
	}
	return aead
}

func (k *Key) wrap(app []byte, priv *ecdsa.PrivateKey) ([]byte, error) {
	scalar, err := priv.Bytes()
	if err != nil {
		return nil, err
	}
	h := make([]byte, 1+nonceSize, handleSize)
	h[0] = handleFormat
	if _, err := io.ReadFull(k.cfg.Rand, h[1:]); err != nil {
		return nil, err
	}
	return k.aead().Seal(h, h[1:], scalar, app), nil
}

func (k *Key) unwrap(app, handle []byte) (*ecdsa.PrivateKey, error) {
	if len(handle) != handleSize || handle[0] != handleFormat {
		return nil, errNotOurs
	}
	scalar, err := k.aead().Open(nil, handle[1:1+nonceSize], handle[1+nonceSize:], app)
	if err != nil {
		return nil, errNotOurs
	}
	return ecdsa.ParseRawPrivateKey(elliptic.P256(), scalar)
}

func status(sw u2f.StatusError) []byte {
	return []byte{byte(sw >> 8), byte(sw)}
}

func ok(data []byte) []byte { return append(data, status(u2f.SWNoError)...) }

// u2f answers one U2F request (the data of a CTAPHID_MSG).
func (k *Key) u2f(req []byte) []byte {
	a, err := u2f.ParseAPDU(req)
	if err != nil {
		var ae *u2f.APDUError
		if errors.As(err, &ae) && ae.Byte == 0 {
			return status(u2f.SWClaNotSupported)
		}
		return status(u2f.SWWrongLength)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	switch a.Ins {
	case u2f.InsVersion:
		if len(a.Data) != 0 {
			return status(u2f.SWWrongLength)
		}
		return ok([]byte("U2F_V2"))
	case u2f.InsRegister:
		return k.register(a)
	case u2f.InsAuthenticate:
		return k.authenticate(a)
	}
	return status(u2f.SWInsNotSupported)
}

// present plays the user: the first request that needs a touch starts a
// wait of TouchDelay, during which the key answers 0x6985; the first
// request after it gets the touch, which is then used up.
func (k *Key) present() bool {
	if k.cfg.TouchDelay < 0 {
		return true
	}
	now := k.cfg.Clock.Now()
	p := &k.presence
	if !p.pending || now.Sub(p.lastPoll) > presenceForgotten {
		p.pending, p.since = true, now
		k.log.Info("waiting for a touch", "delay", k.cfg.TouchDelay)
	}
	p.lastPoll = now
	if now.Sub(p.since) < k.cfg.TouchDelay {
		return false
	}
	p.pending = false
	return true
}

// register: challenge parameter || application parameter in, a new
// credential out (§4).
func (k *Key) register(a u2f.APDU) []byte {
	if len(a.Data) != 2*u2f.ParamSize {
		return status(u2f.SWWrongLength)
	}
	if !k.present() {
		return status(u2f.SWConditionsNotSatisfied)
	}
	chal, app := a.Data[:u2f.ParamSize], a.Data[u2f.ParamSize:]
	priv, err := ecdsa.GenerateKey(elliptic.P256(), k.cfg.Rand)
	if err != nil {
		return k.internal("making credential key", err)
	}
	pub, err := priv.PublicKey.Bytes()
	if err != nil {
		return k.internal("encoding credential key", err)
	}
	handle, err := k.wrap(app, priv)
	if err != nil {
		return k.internal("wrapping credential key", err)
	}
	signed := make([]byte, 0, 1+2*u2f.ParamSize+len(handle)+len(pub))
	signed = append(signed, 0x00)
	signed = append(append(append(append(signed, app...), chal...), handle...), pub...)
	sig, err := k.sign(k.st.attKey, signed)
	if err != nil {
		return k.internal("signing registration", err)
	}
	resp := []byte{0x05}
	resp = append(resp, pub...)
	resp = append(resp, byte(len(handle)))
	resp = append(resp, handle...)
	resp = append(resp, k.st.attCert...)
	resp = append(resp, sig...)
	k.log.Info("registered", "application", hex.EncodeToString(app[:8]))
	return ok(resp)
}

// authenticate: challenge parameter || application parameter || L || key
// handle in; user presence, counter and signature out (§5).
func (k *Key) authenticate(a u2f.APDU) []byte {
	d := a.Data
	if len(d) < 2*u2f.ParamSize+1 || len(d) != 2*u2f.ParamSize+1+int(d[2*u2f.ParamSize]) {
		return status(u2f.SWWrongLength)
	}
	chal, app, handle := d[:u2f.ParamSize], d[u2f.ParamSize:2*u2f.ParamSize], d[2*u2f.ParamSize+1:]
	priv, err := k.unwrap(app, handle)
	if err != nil {
		return status(u2f.SWWrongData)
	}
	var flags byte
	switch a.P1 {
	case u2f.AuthCheckOnly:
		// §5: a key handle that is ours is answered "user presence required".
		return status(u2f.SWConditionsNotSatisfied)
	case u2f.AuthEnforcePresence:
		if !k.present() {
			return status(u2f.SWConditionsNotSatisfied)
		}
		flags = 0x01
	case u2f.AuthDontEnforce:
	default:
		return status(u2f.SWWrongData)
	}
	k.st.counter++
	if k.cfg.StatePath != "" {
		if err := k.st.save(k.cfg.StatePath); err != nil {
			// Never sign with a counter that a restart could repeat.
			k.st.counter--
			return k.internal("saving counter", err)
		}
	}
	signed := make([]byte, 0, 2*u2f.ParamSize+5)
	signed = append(append(signed, app...), flags)
	signed = binary.BigEndian.AppendUint32(signed, k.st.counter)
	signed = append(signed, chal...)
	sig, err := k.sign(priv, signed)
	if err != nil {
		return k.internal("signing authentication", err)
	}
	resp := []byte{flags}
	resp = binary.BigEndian.AppendUint32(resp, k.st.counter)
	k.log.Info("authenticated", "application", hex.EncodeToString(app[:8]), "counter", k.st.counter)
	return ok(append(resp, sig...))
}

func (k *Key) sign(priv *ecdsa.PrivateKey, data []byte) ([]byte, error) {
	digest := sha256.Sum256(data)
	return ecdsa.SignASN1(k.cfg.Rand, priv, digest[:])
}

func (k *Key) internal(what string, err error) []byte {
	k.log.Error(what, "err", err)
	return status(u2f.SWUnknown)
}
