package softkey

import (
	"bytes"
	"context"
	"encoding/binary"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/keydesk/keydesk/hid"
	"github.com/keydesk/keydesk/internal/testclock"
	"github.com/keydesk/keydesk/u2f"
)

// wire drives a soft key with raw reports, as a host (or a fuzzer) would.
type wire struct {
	t   *testing.T
	r   *rig
	cid uint32
}

func newWire(t *testing.T) *wire {
	// A seeded Rand makes the channel numbers, and so a fuzz run, repeatable.
	w := &wire{t: t, r: newRig(t, Config{TouchDelay: -1, Rand: rand.NewChaCha8([32]byte{})})}
	ans := w.roundTrip(hid.Message{Channel: hid.BroadcastChannel, Command: hid.CmdInit, Data: []byte("12345678")})
	w.cid = binary.BigEndian.Uint32(ans.Data[8:])
	return w
}

func (w *wire) write(reports ...[]byte) {
	w.t.Helper()
	for _, r := range reports {
		if err := w.r.host.Write(r); err != nil {
			w.t.Fatal(err)
		}
	}
}

func (w *wire) send(m hid.Message) {
	w.t.Helper()
	reports, err := m.Reports()
	if err != nil {
		w.t.Fatal(err)
	}
	w.write(reports...)
}

// read reassembles the key's next answer.
func (w *wire) read() hid.Message {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var asm *hid.Assembly
	for {
		r, err := w.r.host.Read(ctx)
		if err != nil {
			w.t.Fatalf("reading the answer: %v", err)
		}
		p, _ := hid.ParsePacket(r)
		if asm == nil {
			asm, err = hid.NewAssembly(p)
		} else {
			err = asm.Add(p)
		}
		if err != nil {
			w.t.Fatal(err)
		}
		if asm.Complete() {
			return asm.Message()
		}
	}
}

func (w *wire) roundTrip(m hid.Message) hid.Message {
	w.t.Helper()
	w.send(m)
	return w.read()
}

// expectError checks that the next answer is ERROR code on channel cid.
func (w *wire) expectError(cid uint32, code hid.ErrorCode) {
	w.t.Helper()
	m := w.read()
	if m.Command != hid.CmdError || m.Channel != cid || len(m.Data) != 1 || hid.ErrorCode(m.Data[0]) != code {
		w.t.Errorf("got %v %x on %08x, want %v on %08x", m.Command, m.Data, m.Channel, code, cid)
	}
}

// expectPing checks that the key answers a PING next, so that nothing was
// answered before it.
func (w *wire) expectPing() {
	w.t.Helper()
	m := w.roundTrip(hid.Message{Channel: w.cid, Command: hid.CmdPing, Data: []byte("still here")})
	if m.Command != hid.CmdPing || string(m.Data) != "still here" {
		w.t.Errorf("got %v %q, want the PING echoed", m.Command, m.Data)
	}
}

func TestChannels(t *testing.T) {
	w := newWire(t)
	if w.cid == 0 || w.cid == hid.BroadcastChannel {
		t.Fatalf("allocated %08x", w.cid)
	}
	// INIT on an allocated channel keeps it (resynchronisation).
	ans := w.roundTrip(hid.Message{Channel: w.cid, Command: hid.CmdInit, Data: []byte("abcdefgh")})
	if ans.Channel != w.cid || !bytes.Equal(ans.Data[:8], []byte("abcdefgh")) || binary.BigEndian.Uint32(ans.Data[8:]) != w.cid {
		t.Errorf("resync answer %x", ans.Data)
	}
	w.send(hid.Message{Channel: 0x0badcafe, Command: hid.CmdPing})
	w.expectError(0x0badcafe, hid.ErrInvalidChannel)
	w.send(hid.Message{Channel: 0, Command: hid.CmdInit, Data: []byte("12345678")})
	w.expectError(0, hid.ErrInvalidChannel)
	w.send(hid.Message{Channel: hid.BroadcastChannel, Command: hid.CmdPing})
	w.expectError(hid.BroadcastChannel, hid.ErrInvalidChannel)
	w.send(hid.Message{Channel: hid.BroadcastChannel, Command: hid.CmdInit, Data: []byte("1234567")})
	w.expectError(hid.BroadcastChannel, hid.ErrInvalidLen)
}

func TestCommandsOtherThanU2F(t *testing.T) {
	w := newWire(t)
	for _, cmd := range []hid.Command{hid.CmdLock, 0x42} {
		w.send(hid.Message{Channel: w.cid, Command: cmd, Data: []byte{1}})
		w.expectError(w.cid, hid.ErrInvalidCmd)
	}
	w.send(hid.Message{Channel: w.cid, Command: hid.CmdWink, Data: []byte{1}})
	w.expectError(w.cid, hid.ErrInvalidLen)
	w.send(hid.Message{Channel: w.cid, Command: hid.CmdCancel})
	w.expectPing() // CANCEL has no answer
}

func TestFraming(t *testing.T) {
	w := newWire(t)
	long, _ := hid.Message{Channel: w.cid, Command: hid.CmdPing, Data: make([]byte, 200)}.Reports()

	// Busy: a message on our channel is half in; INIT from elsewhere is
	// told to wait, then our message completes.
	w.write(long[0])
	w.send(hid.Message{Channel: hid.BroadcastChannel, Command: hid.CmdInit, Data: []byte("12345678")})
	w.expectError(hid.BroadcastChannel, hid.ErrChannelBusy)
	w.write(long[1:]...)
	if m := w.read(); m.Command != hid.CmdPing || len(m.Data) != 200 {
		t.Errorf("got %v of %d bytes after the busy answer", m.Command, len(m.Data))
	}

	// Out of sequence.
	w.write(long[0], long[2])
	w.expectError(w.cid, hid.ErrInvalidSeq)

	// A spurious continuation packet is ignored.
	w.write(long[1])
	w.expectPing()

	// Declared too long.
	big := append([]byte(nil), long[0]...)
	binary.BigEndian.PutUint16(big[5:], hid.MaxMessage+1)
	w.write(big)
	w.expectError(w.cid, hid.ErrInvalidLen)

	// Never finished: the key gives up after MessageTimeout.
	w.write(long[0])
	w.r.clk.BlockUntil(nil, testclock.Has(3*time.Second))
	w.r.clk.Advance(3 * time.Second)
	w.expectError(w.cid, hid.ErrMsgTimeout)
	w.expectPing()
}

func TestU2FStatusWords(t *testing.T) {
	w := newWire(t)
	msg := func(apdu []byte) u2f.StatusError {
		t.Helper()
		m := w.roundTrip(hid.Message{Channel: w.cid, Command: hid.CmdMsg, Data: apdu})
		if m.Command != hid.CmdMsg || len(m.Data) < 2 {
			t.Fatalf("got %v %x", m.Command, m.Data)
		}
		return u2f.StatusError(binary.BigEndian.Uint16(m.Data[len(m.Data)-2:]))
	}
	authData := append(append(make([]byte, 64), 61), make([]byte, 61)...)
	for _, tt := range []struct {
		name string
		apdu []byte
		want u2f.StatusError
	}{
		{"version", u2f.APDU{Ins: u2f.InsVersion}.Encode(), u2f.SWNoError},
		{"version, short encoding", []byte{0, 3, 0, 0, 0}, u2f.SWNoError},
		{"class", []byte{0x80, 3, 0, 0, 0, 0, 0}, u2f.SWClaNotSupported},
		{"instruction", u2f.APDU{Ins: 0x40}.Encode(), u2f.SWInsNotSupported},
		{"truncated", []byte{0, 1, 0}, u2f.SWWrongLength},
		{"register, short data", u2f.APDU{Ins: u2f.InsRegister, Data: make([]byte, 63)}.Encode(), u2f.SWWrongLength},
		{"authenticate, bad handle length", u2f.APDU{Ins: u2f.InsAuthenticate, P1: 3, Data: append(make([]byte, 64), 5, 1)}.Encode(), u2f.SWWrongLength},
		{"authenticate, foreign handle", u2f.APDU{Ins: u2f.InsAuthenticate, P1: 3, Data: authData}.Encode(), u2f.SWWrongData},
		{"check-only, foreign handle", u2f.APDU{Ins: u2f.InsAuthenticate, P1: 7, Data: authData}.Encode(), u2f.SWWrongData},
	} {
		if got := msg(tt.apdu); got != tt.want {
			t.Errorf("%s: 0x%04x, want 0x%04x", tt.name, uint16(got), uint16(tt.want))
		}
	}
}

// FuzzServe sends arbitrary reports to the key: it must neither panic nor
// stop answering.
func FuzzServe(f *testing.F) {
	init, _ := hid.Message{Channel: hid.BroadcastChannel, Command: hid.CmdInit, Data: []byte("12345678")}.Reports()
	f.Add(init[0])
	reg, _ := hid.Message{Channel: hid.BroadcastChannel, Command: hid.CmdMsg, Data: u2f.APDU{Ins: u2f.InsRegister, Data: make([]byte, 64)}.Encode()}.Reports()
	f.Add(bytes.Join(reg, nil))
	info, _ := hid.Message{Channel: hid.BroadcastChannel, Command: hid.CmdCBOR, Data: []byte{u2f.CmdGetInfo}}.Reports()
	f.Add(bytes.Join(info, nil))
	mc, _ := (&u2f.MakeCredentialRequest{ClientDataHash: make([]byte, 32), RP: u2f.RelyingParty{ID: "a"}, User: u2f.User{ID: []byte{1}},
		PubKeyCredParams: []u2f.CredentialParameter{{Type: u2f.CredentialType, Alg: u2f.ES256}}}).Marshal()
	mcReports, _ := hid.Message{Channel: hid.BroadcastChannel, Command: hid.CmdCBOR, Data: append([]byte{u2f.CmdMakeCredential}, mc...)}.Reports()
	f.Add(bytes.Join(mcReports, nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > 20*hid.ReportSize {
			return
		}
		w := newWire(t)
		for len(b) > 0 {
			r := make([]byte, hid.ReportSize)
			b = b[copy(r, b):]
			w.write(r)
		}
		// Resynchronise as a host would after garbage: INIT on our channel
		// aborts a half message of ours; one on another channel keeps the
		// key busy until the key gives up on it.
		for resynced := false; !resynced; {
			w.send(hid.Message{Channel: w.cid, Command: hid.CmdInit, Data: []byte("resync!!")})
			for {
				m := w.read()
				if m.Command == hid.CmdInit && m.Channel == w.cid && bytes.Equal(m.Data[:8], []byte("resync!!")) {
					resynced = true
					break
				}
				if m.Command == hid.CmdError && m.Channel == w.cid && hid.ErrorCode(m.Data[0]) == hid.ErrChannelBusy {
					w.r.clk.Advance(3 * time.Second)
					break
				}
			}
		}
		w.expectPing()
	})
}

func TestCBORStatusCodes(t *testing.T) {
	w := newWire(t)
	for _, tt := range []struct {
		name string
		req  []byte
		want u2f.CTAP2Error
	}{
		{"empty", nil, u2f.ErrInvalidLength},
		{"unknown command", []byte{0x42}, u2f.ErrInvalidCommand},
		{"makeCredential, not CBOR", []byte{u2f.CmdMakeCredential, 0xff}, u2f.ErrInvalidCBOR},
		{"makeCredential, empty map", []byte{u2f.CmdMakeCredential, 0xa0}, u2f.ErrMissingParameter},
		{"getNextAssertion, nothing to continue", []byte{u2f.CmdGetNextAssertion}, u2f.ErrNotAllowed},
		{"clientPIN, UV retries (no built-in UV)", []byte{u2f.CmdClientPIN, 0xa1, 0x02, 0x07}, u2f.ErrInvalidSubcommand},
		{"credentialManagement without a token", []byte{u2f.CmdCredentialManagement, 0xa1, 0x01, 0x01}, u2f.ErrPUATRequired},
	} {
		m := w.roundTrip(hid.Message{Channel: w.cid, Command: hid.CmdCBOR, Data: tt.req})
		if m.Command != hid.CmdCBOR || len(m.Data) != 1 || u2f.CTAP2Error(m.Data[0]) != tt.want {
			t.Errorf("%s: %v %x, want %v", tt.name, m.Command, m.Data, tt.want)
		}
	}
}
