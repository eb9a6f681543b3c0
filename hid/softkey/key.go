// Package softkey is a virtual U2F and CTAP2 security key: the device
// side of CTAPHID, served on a Linux HID gadget (/dev/hidgN) or on an
// in-memory [hid.Pipe]. It answers INIT, PING, WINK, CANCEL, U2F requests
// over MSG and CTAP 2.1 requests over CBOR, and can misbehave on purpose
// so that clients can be tested against broken keys.
//
// Like a real key it stores nothing per site for non-resident
// credentials: each credential's private key travels inside its key
// handle or credential ID, sealed with AES-256-GCM under the device
// secret with the site as additional data. Resident (discoverable)
// credentials, the PIN's hash and its retries live in the state file.
//
// Over CTAP2 the key answers getInfo as model [AAGUID] and attests new
// credentials in the "packed" format with a certificate of its own (x5c
// of one self-signed certificate with the AAGUID extension; see
// [Key.PackedCertificate]). It has no built-in user verification: "uv"
// comes from the PIN only.
package softkey

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"sync"
	"time"

	"github.com/keydesk/keydesk/hid"
	"github.com/keydesk/keydesk/u2f"
)

// Config sets up a soft key. The zero value is a key that keeps its state
// in memory and sees a touch after one second.
type Config struct {
	// StatePath is the state file (device secret, attestation key and
	// certificate, counter), created on first use with mode 0600. Empty:
	// the state lives in memory and dies with the Key.
	StatePath string
	// TouchDelay is how long after the first request that needs a touch
	// the user "touches" the key; until then REGISTER and AUTHENTICATE
	// answer "user presence required" (0x6985), as a real key does while
	// it blinks, and a CTAP2 request that needs a touch sends KEEPALIVE
	// "user needed" every 100 ms. Default 1 s; negative: at once.
	TouchDelay time.Duration
	// MessageTimeout is how long the key waits for the rest of a message
	// before answering ERR_MSG_TIMEOUT (default 3 s).
	MessageTimeout time.Duration
	// Misbehave makes the key break the protocol on purpose.
	Misbehave Misbehavior
	// Protocols is what the key speaks: both U2F and CTAP2 (the zero
	// value), U2F only (no CAPABILITY_CBOR), or CTAP2 only
	// (CAPABILITY_NMSG, MSG refused).
	Protocols Protocols
	// ResetWindow is how long after New the key accepts
	// authenticatorReset, as real keys do after they are plugged in
	// (default 10 s).
	ResetWindow time.Duration
	// UserActionTimeout is how long a CTAP2 request waits for a touch
	// before it answers USER_ACTION_TIMEOUT (default 30 s).
	UserActionTimeout time.Duration
	// Version is the device version the INIT answer reports.
	Version [3]byte
	Clock   hid.Clock // default hid.SystemClock
	Rand    io.Reader // default crypto/rand.Reader
	Log     *slog.Logger
}

// Protocols chooses the protocols a soft key speaks.
type Protocols int

const (
	U2FAndCTAP2 Protocols = iota
	U2FOnly
	CTAP2Only
)

// AAGUID is the soft key's model (2a38d610-c3ca-4864-8900-ae3475146b6f),
// picked at random for keydesk; no other authenticator claims it.
var AAGUID = u2f.AAGUID{0x2a, 0x38, 0xd6, 0x10, 0xc3, 0xca, 0x48, 0x64, 0x89, 0x00, 0xae, 0x34, 0x75, 0x14, 0x6b, 0x6f}

// Key is a soft key.
type Key struct {
	cfg   Config
	log   *slog.Logger
	start time.Time // "power-up": New

	mu       sync.Mutex
	st       *state
	presence presence
	channels []uint32 // allocated, oldest first
	winks    int
	pin      pinState   // CTAP2 PIN state that a power cycle resets
	next     *iteration // what getNextAssertion or a GetNext subcommand continues
}

// presence is the pretend user in front of the key.
type presence struct {
	pending  bool
	since    time.Time // first request of this wait
	lastPoll time.Time
}

// presenceForgotten: a wait for a touch that nobody polled for this long
// is over, and the next request starts a new one.
const presenceForgotten = 5 * time.Second

// maxChannels bounds the channels the key remembers; the oldest goes first.
const maxChannels = 64

// New loads the key's state from cfg.StatePath, or makes and saves a new
// one if the file does not exist.
func New(cfg Config) (*Key, error) {
	if cfg.TouchDelay == 0 {
		cfg.TouchDelay = time.Second
	}
	if cfg.MessageTimeout <= 0 {
		cfg.MessageTimeout = 3 * time.Second
	}
	if cfg.Version == [3]byte{} {
		cfg.Version = [3]byte{1, 0, 0}
	}
	if cfg.Clock == nil {
		cfg.Clock = hid.SystemClock
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	if cfg.ResetWindow <= 0 {
		cfg.ResetWindow = 10 * time.Second
	}
	if cfg.UserActionTimeout <= 0 {
		cfg.UserActionTimeout = 30 * time.Second
	}
	if _, err := ParseMisbehavior(string(cfg.Misbehave)); err != nil {
		return nil, err
	}
	k := &Key{cfg: cfg, log: cfg.Log, start: cfg.Clock.Now()}
	if k.log == nil {
		k.log = slog.New(slog.DiscardHandler)
	}
	if err := k.powerUp(); err != nil {
		return nil, err
	}
	var err error
	if cfg.StatePath != "" {
		k.st, err = loadState(cfg.StatePath)
		if err == nil {
			return k, k.upgradeState()
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	}
	if k.st, err = newState(cfg.Rand, cfg.Clock.Now()); err != nil {
		return nil, err
	}
	if cfg.StatePath != "" {
		if err := k.st.save(cfg.StatePath); err != nil {
			return nil, err
		}
		k.log.Info("new soft key state", "file", cfg.StatePath)
	}
	return k, nil
}

// upgradeState gives a state file of a U2F-only key what CTAP2 needs.
func (k *Key) upgradeState() error {
	if k.st.packedCert != nil {
		return nil
	}
	c, err := packedCertificate(k.cfg.Rand, k.st.attKey, k.cfg.Clock.Now())
	if err != nil {
		return err
	}
	k.st.packedCert = c
	return k.save()
}

// save writes the state file, if there is one.
func (k *Key) save() error {
	if k.cfg.StatePath == "" {
		return nil
	}
	return k.st.save(k.cfg.StatePath)
}

// PackedCertificate returns the certificate of the key's packed
// attestations, DER: self-signed, Subject OU "Authenticator Attestation",
// with the AAGUID extension (WebAuthn §8.2.1).
func (k *Key) PackedCertificate() []byte {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]byte(nil), k.st.packedCert...)
}

// ResidentCredentials returns how many discoverable credentials the key
// holds.
func (k *Key) ResidentCredentials() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.st.creds)
}

// Counter returns the signature counter.
func (k *Key) Counter() uint32 {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.st.counter
}

// Certificate returns the attestation certificate, DER.
func (k *Key) Certificate() []byte {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]byte(nil), k.st.attCert...)
}

// Winks returns how many times the key was asked to wink.
func (k *Key) Winks() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.winks
}

type readResult struct {
	report []byte
	err    error
}

// Serve answers the host on dev until ctx is done (then it returns nil) or
// dev fails. It closes dev when it returns, which also frees a write that
// the host never collects.
func (k *Key) Serve(ctx context.Context, dev hid.Device) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(ctx, func() { dev.Close() })
	defer stop()
	defer dev.Close()

	reports := make(chan readResult)
	go func() {
		for {
			r, err := dev.Read(ctx)
			select {
			case reports <- readResult{r, err}:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	s := &session{k: k, dev: dev}
	defer s.abandon()
	for {
		var expired, tick <-chan time.Time
		if s.asm != nil {
			expired = s.timer.C()
		}
		if s.wait != nil {
			tick = s.wait.timer.C()
		}
		select {
		case <-tick:
			s.tick()
		case <-ctx.Done():
			return nil
		case rr := <-reports:
			if rr.err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return fmt.Errorf("softkey: reading from host: %w", rr.err)
			}
			s.report(rr.report)
		case <-expired:
			// §11.2.4: a message must be completed in time, else the
			// channel gets ERR_MSG_TIMEOUT and the device is free again.
			s.fail(s.asm.Channel(), hid.ErrMsgTimeout)
			s.asm = nil
		}
	}
}

// session is the device side of CTAPHID for one Serve.
type session struct {
	k     *Key
	dev   hid.Device
	asm   *hid.Assembly // message being received, if any
	timer hid.Timer
	wait  *touchWait // a CTAP2 request waiting for a touch, if any
}

func (s *session) report(r []byte) {
	p, err := hid.ParsePacket(r)
	if err != nil {
		s.k.log.Warn("dropped report", "err", err)
		return
	}
	if s.asm != nil {
		s.continueMessage(p)
		return
	}
	if !p.Init {
		return // §11.2.4: a spurious continuation packet is ignored
	}
	if s.wait != nil && !s.whileWaiting(p) {
		return
	}
	if p.Channel == 0 || (p.Channel == hid.BroadcastChannel && p.Command != hid.CmdInit) || (p.Channel != hid.BroadcastChannel && !s.k.allocated(p.Channel)) {
		s.fail(p.Channel, hid.ErrInvalidChannel)
		return
	}
	s.start(p)
}

func (s *session) start(p hid.Packet) {
	asm, err := hid.NewAssembly(p)
	if err != nil {
		s.fail(p.Channel, hid.ErrInvalidLen)
		return
	}
	if asm.Complete() {
		s.dispatch(asm.Message())
		return
	}
	s.asm = asm
	s.timer = s.k.cfg.Clock.NewTimer(s.k.cfg.MessageTimeout)
}

// continueMessage takes a packet while a message is being received.
func (s *session) continueMessage(p hid.Packet) {
	if p.Channel != s.asm.Channel() {
		if p.Init {
			// §11.2.6: the device is busy with one channel's message;
			// the others are told so and retry.
			s.fail(p.Channel, hid.ErrChannelBusy)
		}
		return
	}
	if p.Init && p.Command == hid.CmdInit {
		// §11.2.9.1.3: INIT on the channel aborts the transaction.
		s.drop()
		s.start(p)
		return
	}
	if err := s.asm.Add(p); err != nil {
		s.drop()
		s.fail(p.Channel, hid.ErrInvalidSeq)
		return
	}
	if s.asm.Complete() {
		m := s.asm.Message()
		s.drop()
		s.dispatch(m)
	}
}

func (s *session) drop() {
	s.timer.Stop()
	s.asm = nil
}

func (s *session) dispatch(m hid.Message) {
	switch m.Command {
	case hid.CmdInit:
		s.init(m)
	case hid.CmdPing:
		s.send(m)
	case hid.CmdMsg:
		if s.k.cfg.Protocols == CTAP2Only {
			s.fail(m.Channel, hid.ErrInvalidCmd)
			return
		}
		s.send(hid.Message{Channel: m.Channel, Command: hid.CmdMsg, Data: s.k.u2f(m.Data)})
	case hid.CmdCBOR:
		if s.k.cfg.Protocols == U2FOnly {
			s.fail(m.Channel, hid.ErrInvalidCmd)
			return
		}
		s.cbor(m)
	case hid.CmdWink:
		if len(m.Data) != 0 {
			s.fail(m.Channel, hid.ErrInvalidLen)
			return
		}
		s.k.mu.Lock()
		s.k.winks++
		s.k.mu.Unlock()
		s.k.log.Info("wink")
		s.send(hid.Message{Channel: m.Channel, Command: hid.CmdWink})
	case hid.CmdCancel:
		// §11.2.9.2.5: no answer. A CBOR request waiting for a touch is
		// cancelled in whileWaiting; otherwise there is nothing to cancel.
	default:
		s.fail(m.Channel, hid.ErrInvalidCmd)
	}
}

// init allocates a channel (INIT on the broadcast channel) or
// resynchronises one (INIT on an allocated channel), §11.2.9.1.3.
func (s *session) init(m hid.Message) {
	if len(m.Data) != 8 {
		s.fail(m.Channel, hid.ErrInvalidLen)
		return
	}
	cid := m.Channel
	if cid == hid.BroadcastChannel {
		var err error
		if cid, err = s.k.allocate(); err != nil {
			s.k.log.Error("allocating channel", "err", err)
			s.fail(m.Channel, hid.ErrOther)
			return
		}
	}
	v := s.k.cfg.Version
	caps := hid.CapWink
	switch s.k.cfg.Protocols {
	case U2FAndCTAP2:
		caps |= hid.CapCBOR
	case CTAP2Only:
		caps |= hid.CapCBOR | hid.CapNMSG
	}
	data := append(append([]byte(nil), m.Data...), 0, 0, 0, 0, 2, v[0], v[1], v[2], byte(caps))
	binary.BigEndian.PutUint32(data[8:], cid)
	s.k.log.Debug("init", "channel", fmt.Sprintf("%08x", cid))
	s.send(hid.Message{Channel: m.Channel, Command: hid.CmdInit, Data: data})
}

func (k *Key) allocate() (uint32, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	var b [4]byte
	for {
		if _, err := io.ReadFull(k.cfg.Rand, b[:]); err != nil {
			return 0, err
		}
		cid := binary.BigEndian.Uint32(b[:])
		if cid == 0 || cid == hid.BroadcastChannel || k.allocatedLocked(cid) {
			continue
		}
		if len(k.channels) == maxChannels {
			k.channels = k.channels[1:]
		}
		k.channels = append(k.channels, cid)
		return cid, nil
	}
}

func (k *Key) allocated(cid uint32) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.allocatedLocked(cid)
}

func (k *Key) allocatedLocked(cid uint32) bool {
	for _, c := range k.channels {
		if c == cid {
			return true
		}
	}
	return false
}

func (s *session) fail(cid uint32, code hid.ErrorCode) {
	s.send(hid.Message{Channel: cid, Command: hid.CmdError, Data: []byte{byte(code)}})
}

// send writes an answer, misbehaving as configured. A write that fails is
// logged: the host may have gone, and the next read will tell.
func (s *session) send(m hid.Message) {
	reports, err := s.k.mangle(m)
	if err != nil {
		s.k.log.Error("answer", "err", err)
		return
	}
	for _, r := range reports {
		if err := s.dev.Write(r); err != nil {
			s.k.log.Warn("answer not delivered", "command", m.Command.String(), "err", err)
			return
		}
	}
}
