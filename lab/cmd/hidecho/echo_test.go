package main

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

// fakeGadget plays the kernel between hidraw and hidg and enforces its
// rules: a host write is a report number 0 and one 64-byte report, a device
// write is one 64-byte report. corrupt, if set, alters reports in flight;
// drop loses them all.
type fakeGadget struct {
	t        *testing.T
	toDevice chan []byte
	toHost   chan []byte
	corrupt  func([]byte)
	drop     bool
}

func newFakeGadget(t *testing.T) *fakeGadget {
	return &fakeGadget{t: t, toDevice: make(chan []byte, 4), toHost: make(chan []byte, 4)}
}

type fakePort struct {
	g    *fakeGadget
	host bool
}

func (p fakePort) Write(b []byte) (int, error) {
	// usbhid counts the report number it dropped in what write returns.
	n := len(b)
	if p.host {
		if len(b) != reportLen+1 || b[0] != 0 {
			p.g.t.Errorf("host wrote %d bytes starting %#x; hidraw wants report number 0 then %d bytes", len(b), b[0], reportLen)
			return 0, errors.New("EINVAL")
		}
		b = b[1:]
	} else if len(b) != reportLen {
		p.g.t.Errorf("device wrote %d bytes, want %d", len(b), reportLen)
		return 0, errors.New("EINVAL")
	}
	r := append([]byte(nil), b...)
	if p.g.corrupt != nil {
		p.g.corrupt(r)
	}
	switch {
	case p.g.drop:
	case p.host:
		p.g.toDevice <- r
	default:
		p.g.toHost <- r
	}
	return n, nil
}

func (p fakePort) Read(b []byte) (int, error) {
	ch := p.g.toHost
	if !p.host {
		ch = p.g.toDevice
	}
	select {
	case r := <-ch:
		return copy(b, r), nil
	default:
		// Nothing in flight: a real read would block until the deadline.
		return 0, os.ErrDeadlineExceeded
	}
}

func (fakePort) SetReadDeadline(time.Time) error { return nil }

// steppingClock advances one millisecond per reading.
func steppingClock() func() time.Time {
	t := time.Unix(0, 0)
	return func() time.Time {
		t = t.Add(time.Millisecond)
		return t
	}
}

func newEcho(g *fakeGadget) echo {
	return echo{host: fakePort{g, true}, device: fakePort{g, false}, timeout: time.Second, now: steppingClock()}
}

func TestEchoRoundTrips(t *testing.T) {
	g := newFakeGadget(t)
	st, err := newEcho(g).run(300)
	if err != nil {
		t.Fatal(err)
	}
	if st.n != 300 {
		t.Errorf("counted %d round trips, want 300", st.n)
	}
	// Each round trip reads the clock at its start, for its two read
	// deadlines and at its end: three steps.
	if st.mean() != 3*time.Millisecond || st.max != 3*time.Millisecond {
		t.Errorf("mean %v max %v, want 3ms both", st.mean(), st.max)
	}
}

func TestEchoCatchesCorruption(t *testing.T) {
	g := newFakeGadget(t)
	n := 0
	g.corrupt = func(r []byte) {
		n++
		if n == 7 { // round trip 3, host to device
			r[40] ^= 0x10
		}
	}
	_, err := newEcho(g).run(10)
	if err == nil || !strings.Contains(err.Error(), "round trip 3, host to device") || !strings.Contains(err.Error(), "byte 40") {
		t.Fatalf("got %v, want an error naming round trip 3 and byte 40", err)
	}
}

func TestEchoCatchesStaleReport(t *testing.T) {
	g := newFakeGadget(t)
	var last []byte
	g.corrupt = func(r []byte) {
		// The kernel replays the previous report instead of the new one.
		if last != nil && r[0] == 'I' && r[2] == 5 {
			copy(r, last)
		}
		if r[0] == 'I' {
			last = append([]byte(nil), r...)
		}
	}
	_, err := newEcho(g).run(10)
	if err == nil || !strings.Contains(err.Error(), "round trip 5, device to host") {
		t.Fatalf("got %v, want round trip 5 to fail", err)
	}
}

func TestEchoReportsMissingReport(t *testing.T) {
	g := newFakeGadget(t)
	g.drop = true
	_, err := newEcho(g).run(1)
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("got %v, want a deadline error", err)
	}
}

func TestPatternsDiffer(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 1000; i++ {
		for _, dir := range []byte{'O', 'I'} {
			p := string(pattern(i, dir))
			if seen[p] {
				t.Fatalf("pattern(%d, %c) repeats an earlier one", i, dir)
			}
			seen[p] = true
		}
	}
}
