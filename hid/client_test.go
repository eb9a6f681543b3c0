package hid

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keydesk/keydesk/internal/testclock"
)

// scriptedKey is a fake device: it reassembles each request and lets the
// test answer with whole reports.
type scriptedKey struct {
	t      *testing.T
	dev    Device
	answer func(m Message) [][]byte

	mu       sync.Mutex
	requests []Message
	arrived  chan struct{} // one token per request
}

const testChannel = 0x11223344

func startKey(t *testing.T, answer func(m Message) [][]byte) (Device, *scriptedKey) {
	host, key := PipeT(t)
	return startKeyOn(t, host, key, answer)
}

// startKeyOn is startKey on a pipe of the test's choosing: a plain Pipe
// for a test in which an answer may come after the host stopped reading.
func startKeyOn(t *testing.T, host, key Device, answer func(m Message) [][]byte) (Device, *scriptedKey) {
	k := &scriptedKey{t: t, dev: key, answer: answer, arrived: make(chan struct{}, 1000)}
	go k.run()
	t.Cleanup(func() { host.Close() })
	return host, k
}

func (k *scriptedKey) run() {
	var asm *Assembly
	for {
		r, err := k.dev.Read(context.Background())
		if err != nil {
			return
		}
		p, _ := ParsePacket(r)
		if asm == nil {
			if asm, err = NewAssembly(p); err != nil {
				asm = nil
				continue
			}
		} else if err := asm.Add(p); err != nil {
			asm = nil
			continue
		}
		if !asm.Complete() {
			continue
		}
		m := asm.Message()
		asm = nil
		k.mu.Lock()
		k.requests = append(k.requests, m)
		k.mu.Unlock()
		k.arrived <- struct{}{}
		for _, out := range k.answer(m) {
			if k.dev.Write(out) != nil {
				return
			}
		}
	}
}

// waitFor blocks until the key has seen n requests since it started.
func (k *scriptedKey) waitFor(n int) {
	for len(k.seen()) < n {
		<-k.arrived
	}
}

func (k *scriptedKey) seen() []Message {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]Message(nil), k.requests...)
}

func reportsOf(m Message) [][]byte {
	r, err := m.Reports()
	if err != nil {
		panic(err)
	}
	return r
}

// initAnswer is a well-behaved INIT answer allocating testChannel.
func initAnswer(m Message, caps Capabilities) [][]byte {
	data := append(append([]byte(nil), m.Data...), 0, 0, 0, 0, 2, 5, 4, 3, byte(caps))
	binary.BigEndian.PutUint32(data[8:], testChannel)
	cid := m.Channel
	if cid == 0 {
		cid = BroadcastChannel
	}
	return reportsOf(Message{Channel: cid, Command: CmdInit, Data: data})
}

// echoKey answers INIT and echoes everything else, after calling more.
func echoKey(more func(m Message) [][]byte) func(Message) [][]byte {
	return func(m Message) [][]byte {
		if m.Command == CmdInit {
			return initAnswer(m, CapWink|CapCBOR)
		}
		if more != nil {
			if r := more(m); r != nil {
				return r
			}
		}
		return reportsOf(m)
	}
}

func errorReport(cid uint32, code ErrorCode) []byte {
	return reportsOf(Message{Channel: cid, Command: CmdError, Data: []byte{byte(code)}})[0]
}

func TestOpenAndPing(t *testing.T) {
	host, key := startKey(t, echoKey(nil))
	c, err := Open(context.Background(), host, Options{})
	if err != nil {
		t.Fatal(err)
	}
	info := c.Info()
	if info.Channel != testChannel || info.Protocol != 2 || info.Version() != "5.4.3" || !info.CTAP2() || !info.U2F() {
		t.Errorf("info %+v", info)
	}
	big := bytes.Repeat([]byte("keydesk "), 900) // 7200 bytes: 123 reports each way
	if err := c.Ping(context.Background(), big); err != nil {
		t.Fatal(err)
	}
	if err := c.Wink(context.Background()); err != nil {
		t.Fatal(err)
	}
	reqs := key.seen()
	if len(reqs) != 3 || reqs[0].Channel != BroadcastChannel || len(reqs[0].Data) != 8 || reqs[1].Channel != testChannel {
		t.Errorf("requests %v", reqs)
	}
}

func TestWrongNonceAndOtherChannelsIgnored(t *testing.T) {
	host, _ := startKey(t, func(m Message) [][]byte {
		other := append([]byte(nil), m.Data...)
		other[0] ^= 0xff
		var out [][]byte
		out = append(out, initAnswer(Message{Data: other}, 0)...)                                    // someone else's INIT
		out = append(out, reportsOf(Message{Channel: 0x55, Command: CmdMsg, Data: []byte{1, 2}})...) // another channel
		cont := make([]byte, ReportSize)
		binary.BigEndian.PutUint32(cont, BroadcastChannel) // a spurious continuation packet
		out = append(out, cont)
		return append(out, initAnswer(m, CapWink)...)
	})
	c, err := Open(context.Background(), host, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if c.Info().Channel != testChannel {
		t.Errorf("channel %08x", c.Info().Channel)
	}
}

func TestDeviceErrors(t *testing.T) {
	for _, code := range []ErrorCode{ErrInvalidCmd, ErrInvalidPar, ErrInvalidLen, ErrInvalidSeq, ErrMsgTimeout, ErrLockRequired, ErrInvalidChannel, ErrOther} {
		host, _ := startKey(t, echoKey(func(m Message) [][]byte { return [][]byte{errorReport(m.Channel, code)} }))
		c, err := Open(context.Background(), host, Options{})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Transact(context.Background(), CmdPing, []byte{1})
		if !errors.Is(err, code) || !strings.Contains(err.Error(), "PING on channel 11223344: device error") {
			t.Errorf("0x%02x: got %v", byte(code), err)
		}
	}
}

func TestChannelBusyRetried(t *testing.T) {
	clk := testclock.At(time.Unix(0, 0))
	busy := 3
	host, key := startKey(t, echoKey(func(m Message) [][]byte {
		if busy > 0 {
			busy--
			return [][]byte{errorReport(m.Channel, ErrChannelBusy)}
		}
		return nil
	}))
	c, err := Open(context.Background(), host, Options{Clock: testClock{clk}, BusyBackoff: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error)
	go func() { done <- c.Ping(context.Background(), []byte("hi")) }()
	for _, wait := range []time.Duration{10 * time.Millisecond, 20 * time.Millisecond, 40 * time.Millisecond} {
		clk.BlockUntil(nil, testclock.Has(wait)) // backoff doubles
		clk.Advance(wait)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := len(key.seen()); n != 5 {
		t.Errorf("%d requests, want INIT + 4 PINGs", n)
	}

	host, _ = startKey(t, echoKey(func(m Message) [][]byte { return [][]byte{errorReport(m.Channel, ErrChannelBusy)} }))
	c, err = Open(context.Background(), host, Options{BusyRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Ping(context.Background(), []byte("hi")); !errors.Is(err, ErrChannelBusy) {
		t.Errorf("no retries: got %v", err)
	}
}

func TestTimeout(t *testing.T) {
	clk := testclock.At(time.Unix(0, 0))
	// The wrong-nonce answer may come after the host gave up: a plain pipe.
	h, kd := Pipe()
	host, _ := startKeyOn(t, h, kd, func(m Message) [][]byte {
		// Only an answer with someone else's nonce: ours never comes.
		other := append([]byte(nil), m.Data...)
		other[7]++
		return initAnswer(Message{Data: other}, 0)
	})
	done := make(chan error)
	go func() {
		_, err := Open(context.Background(), host, Options{Clock: testClock{clk}, Timeout: 2 * time.Second})
		done <- err
	}()
	clk.BlockUntil(nil, testclock.Has(2*time.Second))
	clk.Advance(2 * time.Second)
	err := <-done
	var te *TimeoutError
	if !errors.Is(err, ErrTimeout) || !errors.As(err, &te) {
		t.Fatalf("got %v", err)
	}
	// The wrong-nonce answer may or may not have arrived before the timer.
	if te.Ignored > 0 && !strings.Contains(err.Error(), "wrong nonce") {
		t.Errorf("message %q does not explain the ignored packet", err)
	}
}

func TestKeepaliveRestartsTimer(t *testing.T) {
	t0 := time.Unix(0, 0)
	clk := testclock.At(t0)
	step := make(chan struct{})
	var statuses []KeepaliveStatus
	touched := 0
	var (
		host Device
		key  *scriptedKey
	)
	host, key = startKey(t, echoKey(func(m Message) [][]byte {
		if m.Command != CmdCBOR {
			return nil
		}
		go func() {
			// One keepalive, then the answer, each when the test says.
			<-step
			host := reportsOf(Message{Channel: m.Channel, Command: CmdKeepalive, Data: []byte{byte(KeepaliveUserNeeded)}})
			_ = key.dev.Write(host[0])
			<-step
			_ = key.dev.Write(reportsOf(Message{Channel: m.Channel, Command: CmdCBOR, Data: []byte{0}})[0])
		}()
		return [][]byte{}
	}))
	c, err := Open(context.Background(), host, Options{
		Clock: testClock{clk}, Timeout: time.Second,
		OnKeepalive: func(s KeepaliveStatus) { statuses = append(statuses, s) },
		OnTouch:     func() { touched++ },
	})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error)
	go func() {
		_, err := c.Transact(context.Background(), CmdCBOR, []byte{4})
		done <- err
	}()
	// 0.9 s pass, a keepalive comes, 0.9 s more pass: without the restart
	// the first timer (due at 1 s) would have fired.
	clk.BlockUntil(nil, testclock.Due(t0.Add(time.Second)))
	clk.Advance(900 * time.Millisecond)
	step <- struct{}{}
	clk.BlockUntil(nil, testclock.Due(t0.Add(1900*time.Millisecond)))
	clk.Advance(900 * time.Millisecond)
	step <- struct{}{}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if len(statuses) != 1 || statuses[0] != KeepaliveUserNeeded || touched != 1 {
		t.Errorf("keepalives %v, touch hook called %d times", statuses, touched)
	}
}

func TestCancelSendsCancel(t *testing.T) {
	host, key := startKey(t, echoKey(func(m Message) [][]byte {
		if m.Command == CmdCBOR {
			return [][]byte{} // never answers
		}
		return nil
	}))
	c, err := Open(context.Background(), host, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		_, err := c.Transact(ctx, CmdCBOR, []byte{1})
		done <- err
	}()
	key.waitFor(2) // INIT and the CBOR request
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v", err)
	}
	key.waitFor(3)
	if m := key.seen()[2]; m.Command != CmdCancel || m.Channel != testChannel {
		t.Errorf("after cancel the key saw %v on %08x", m.Command, m.Channel)
	}
}

func TestBadFramesFailFast(t *testing.T) {
	tests := []struct {
		name   string
		answer func(m Message) [][]byte
		want   string
	}{
		{"bad sequence", func(m Message) [][]byte {
			r := reportsOf(Message{Channel: m.Channel, Command: m.Command, Data: make([]byte, 100)})
			r[1][4] = 3
			return r
		}, "report 1 byte 4: sequence 3, want 0"},
		{"oversize", func(m Message) [][]byte {
			r := reportsOf(Message{Channel: m.Channel, Command: m.Command})
			binary.BigEndian.PutUint16(r[0][5:], 9000)
			return r
		}, "declared length 9000 exceeds 7609"},
		{"wrong command", func(m Message) [][]byte {
			return reportsOf(Message{Channel: m.Channel, Command: CmdWink})
		}, "answer WINK to the PING request"},
		{"init inside", func(m Message) [][]byte {
			r := reportsOf(Message{Channel: m.Channel, Command: m.Command, Data: make([]byte, 100)})
			return [][]byte{r[0], r[0]}
		}, "initialization packet (PING) inside a PING message"},
	}
	for _, tt := range tests {
		host, _ := startKey(t, echoKey(tt.answer))
		c, err := Open(context.Background(), host, Options{})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Transact(context.Background(), CmdPing, []byte{1})
		var fe *FrameError
		if !errors.As(err, &fe) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: got %v, want %q", tt.name, err, tt.want)
		}
	}
}

func TestDeviceGone(t *testing.T) {
	host, key := startKey(t, echoKey(nil))
	c, err := Open(context.Background(), host, Options{})
	if err != nil {
		t.Fatal(err)
	}
	key.dev.Close()
	for i := 0; i < 2; i++ {
		if _, err := c.Transact(context.Background(), CmdPing, nil); !errors.Is(err, ErrClosed) {
			t.Errorf("try %d: got %v", i, err)
		}
	}
}

func TestWinkNeedsCapability(t *testing.T) {
	host, _ := startKey(t, func(m Message) [][]byte { return initAnswer(m, CapNMSG) })
	c, err := Open(context.Background(), host, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Wink(context.Background()); !errors.Is(err, ErrNoWink) {
		t.Errorf("wink: %v", err)
	}
	if _, err := c.U2FVersion(context.Background()); !errors.Is(err, ErrNoU2F) {
		t.Errorf("version: %v", err)
	}
	if _, err := c.GetInfo(context.Background()); !errors.Is(err, ErrNoCTAP2) {
		t.Errorf("getInfo: %v", err)
	}
}

// FuzzReceive gives the client arbitrary reports as the answer to a MSG:
// it must return an answer or an error, never panic nor hang.
func FuzzReceive(f *testing.F) {
	for _, tr := range loadTranscripts(f) {
		var b []byte
		for _, r := range tr.Reports {
			if !r.ToKey {
				b = append(b, r.Data...)
			}
		}
		f.Add(b)
	}
	f.Add(bytes.Join(reportsOf(Message{Channel: testChannel, Command: CmdMsg, Data: make([]byte, 500)}), nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		c := &Client{opt: Options{}.withDefaults(), reports: make(chan readResult, len(b)/ReportSize+2)}
		c.opt.Clock = testClock{testclock.At(time.Unix(0, 0))}
		for len(b) > 0 {
			r := make([]byte, ReportSize)
			b = b[copy(r, b):]
			c.reports <- readResult{report: r}
		}
		c.reports <- readResult{err: ErrClosed}
		resp, err := c.receive(context.Background(), request{cid: testChannel, cmd: CmdMsg})
		if err == nil && len(resp) > MaxMessage {
			t.Fatalf("answer of %d bytes", len(resp))
		}
	})
}

// testClock makes a testclock.Clock a Clock.
type testClock struct{ *testclock.Clock }

func (c testClock) NewTimer(d time.Duration) Timer { return c.Clock.NewTimer(d) }

// TestResyncAfterTimeout: the key answers a timed-out PING late. The next
// exchange first resynchronises the channel with INIT, skips the late
// answer, and gets its own.
func TestResyncAfterTimeout(t *testing.T) {
	clk := testclock.At(time.Unix(0, 0))
	var late []byte
	host, key := startKey(t, func(m Message) [][]byte {
		switch {
		case m.Command == CmdPing && late == nil:
			late = m.Data
			return [][]byte{} // too slow: answered below
		case m.Command == CmdInit && m.Channel == testChannel:
			out := reportsOf(Message{Channel: testChannel, Command: CmdPing, Data: late})
			return append(out, initAnswer(m, CapWink)...)
		case m.Command == CmdInit:
			return initAnswer(m, CapWink)
		}
		return reportsOf(m)
	})
	c, err := Open(context.Background(), host, Options{Clock: testClock{clk}})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error)
	go func() { done <- c.Ping(context.Background(), bytes.Repeat([]byte("one "), 50)) }()
	clk.BlockUntil(nil, testclock.Has(3*time.Second))
	clk.Advance(3 * time.Second)
	if err := <-done; !errors.Is(err, ErrTimeout) {
		t.Fatalf("first ping: %v", err)
	}
	if err := c.Ping(context.Background(), []byte("two")); err != nil {
		t.Fatalf("second ping: %v", err)
	}
	reqs := key.seen()
	if len(reqs) != 4 || reqs[2].Command != CmdInit || reqs[2].Channel != testChannel {
		t.Errorf("requests after the timeout: %v", reqs[2:])
	}
}

// recorder is a TB that keeps what PipeT says at cleanup.
type recorder struct {
	errs     []string
	cleanups []func()
}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}
func (r *recorder) Cleanup(fn func()) { r.cleanups = append(r.cleanups, fn) }

// A reply left unread at the end of a test fails it; one read does not.
func TestPipeTReportsUnread(t *testing.T) {
	for _, read := range []bool{true, false} {
		r := &recorder{}
		host, key := PipeT(r)
		report := make([]byte, ReportSize)
		report[0] = 0x42
		if err := key.Write(report); err != nil {
			t.Fatal(err)
		}
		if read {
			if _, err := host.Read(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		for _, fn := range r.cleanups {
			fn()
		}
		if got := len(r.errs) > 0; got == read || (!read && !strings.Contains(r.errs[0], "never read by the host (first: 42")) {
			t.Errorf("read %v: %q", read, r.errs)
		}
	}
}
