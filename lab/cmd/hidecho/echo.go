package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// reportLen is the size of the FIDO HID input and output reports (CTAP 2.1
// §11.2.4: HID_RPT_SIZE is 64).
const reportLen = 64

// port is one side of the key: a hidraw or hidg node, or a fake in tests.
type port interface {
	io.ReadWriter
	SetReadDeadline(time.Time) error
}

// echo sends numbered reports across the gadget and checks them.
type echo struct {
	host, device port
	timeout      time.Duration
	now          func() time.Time
}

type stats struct {
	n          int
	total, max time.Duration
}

func (s stats) mean() time.Duration {
	if s.n == 0 {
		return 0
	}
	return s.total / time.Duration(s.n)
}

// pattern fills a report that no other round trip or direction shares, so a
// stale or misrouted report is caught, not just a corrupted one.
func pattern(i int, dir byte) []byte {
	b := make([]byte, reportLen)
	b[0], b[1], b[2] = dir, byte(i>>8), byte(i)
	for j := 3; j < len(b); j++ {
		b[j] = byte(j*7) ^ byte(i) ^ dir
	}
	return b
}

func (e echo) run(n int) (stats, error) {
	var st stats
	for i := 0; i < n; i++ {
		start := e.now()
		if err := e.out(i); err != nil {
			return st, fmt.Errorf("round trip %d, host to device: %w", i, err)
		}
		if err := e.in(i); err != nil {
			return st, fmt.Errorf("round trip %d, device to host: %w", i, err)
		}
		d := e.now().Sub(start)
		st.n++
		st.total += d
		st.max = max(st.max, d)
	}
	return st, nil
}

// out sends an output report from the host. hidraw takes the report number
// as the first byte of a write, and a device without report IDs wants 0
// there (Documentation/hid/hidraw.rst, write()); usbhid drops it before the
// transfer, so the device reads the 64 bytes alone.
func (e echo) out(i int) error {
	want := pattern(i, 'O')
	if err := writeAll(e.host, append([]byte{0}, want...)); err != nil {
		return fmt.Errorf("write host: %w", err)
	}
	return e.expect(e.device, "device", want)
}

// in sends an input report from the device; hidraw hands it to the host
// without a report number because the descriptor declares none.
func (e echo) in(i int) error {
	want := pattern(i, 'I')
	if err := writeAll(e.device, want); err != nil {
		return fmt.Errorf("write device: %w", err)
	}
	return e.expect(e.host, "host", want)
}

func (e echo) expect(p port, side string, want []byte) error {
	// Character devices that poll (hidraw, hidg) honour deadlines; fall back
	// on the caller's timeout wrapper where they do not.
	if err := p.SetReadDeadline(e.now().Add(e.timeout)); err != nil && !errors.Is(err, os.ErrNoDeadline) {
		return fmt.Errorf("set %s deadline: %w", side, err)
	}
	got := make([]byte, reportLen+1)
	k, err := p.Read(got)
	if err != nil {
		return fmt.Errorf("read %s: %w", side, err)
	}
	got = got[:k]
	if k != len(want) {
		return fmt.Errorf("read %s: got %d bytes, want %d", side, k, len(want))
	}
	for j := range want {
		if got[j] != want[j] {
			return fmt.Errorf("read %s: byte %d is %#02x, want %#02x", side, j, got[j], want[j])
		}
	}
	return nil
}

// writeAll writes b in one call: a HID report is one write, never split.
func writeAll(w io.Writer, b []byte) error {
	k, err := w.Write(b)
	if err != nil {
		return err
	}
	if k != len(b) {
		return fmt.Errorf("short write: %d of %d bytes", k, len(b))
	}
	return nil
}
