package hid

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// ReportSize is the size of every CTAPHID report: the FIDO report
// descriptor declares 64-byte input and output reports (CTAP 2.1 §11.2.8.1),
// the maximum for a full-speed interrupt endpoint.
const ReportSize = 64

// A Device moves whole 64-byte reports to and from one FIDO HID interface,
// without the report-ID byte: an implementation on hidraw adds the leading
// zero to writes itself.
type Device interface {
	// Write sends one report of exactly ReportSize bytes.
	Write(report []byte) error
	// Read returns the next report, waiting until one arrives, ctx is done
	// or the device is closed.
	Read(ctx context.Context) ([]byte, error)
	// Close releases the device; a Read in progress returns.
	Close() error
}

// ErrClosed is returned by a [Device] that was closed.
var ErrClosed = errors.New("hid: device closed")

// Clock is what the package needs of time; tests pass a manual one.
type Clock interface {
	Now() time.Time
	NewTimer(d time.Duration) Timer
}

// Timer is a [time.Timer] behind an interface.
type Timer interface {
	C() <-chan time.Time
	Stop() bool
}

// SystemClock is the real clock.
var SystemClock Clock = systemClock{}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

func (systemClock) NewTimer(d time.Duration) Timer { return sysTimer{time.NewTimer(d)} }

type sysTimer struct{ t *time.Timer }

func (t sysTimer) C() <-chan time.Time { return t.t.C }
func (t sysTimer) Stop() bool          { return t.t.Stop() }

// Pipe returns the two ends of an in-memory link: reports written to host
// are read from key and the other way round. It stands in for a USB cable in
// tests, and a soft key can serve on it. Closing either end closes both.
func Pipe() (host, key Device) {
	p := &pipe{closed: make(chan struct{})}
	toKey := make(chan []byte, 2*maxReports)
	toHost := make(chan []byte, 2*maxReports)
	return &pipeEnd{p: p, in: toHost, out: toKey}, &pipeEnd{p: p, in: toKey, out: toHost}
}

// TB is what [PipeT] needs of a test: testing.TB has it.
type TB interface {
	Helper()
	Errorf(format string, args ...any)
	Cleanup(func())
}

// PipeT is [Pipe] for a test that must read everything sent: when the
// test ends, a report left unread in either direction fails it, as a
// transfer left pending does with gousb's fake. A reply nobody read is a
// host that gave up too soon or a key that said more than asked.
func PipeT(t TB) (host, key Device) {
	t.Helper()
	host, key = Pipe()
	h := host.(*pipeEnd)
	t.Cleanup(func() {
		t.Helper()
		if n := len(h.in); n > 0 {
			t.Errorf("hid pipe: %d report(s) the key sent were never read by the host (first: % x)", n, head(<-h.in))
		}
		if n := len(h.out); n > 0 {
			t.Errorf("hid pipe: %d report(s) the host sent were never read by the key", n)
		}
	})
	return host, key
}

func head(r []byte) []byte { return r[:min(len(r), 8)] }

type pipe struct {
	once   sync.Once
	closed chan struct{}
}

type pipeEnd struct {
	p   *pipe
	in  chan []byte
	out chan []byte
}

func (e *pipeEnd) Write(report []byte) error {
	if len(report) != ReportSize {
		return fmt.Errorf("hid: report of %d bytes, want %d", len(report), ReportSize)
	}
	r := append([]byte(nil), report...)
	select {
	case <-e.p.closed:
		return ErrClosed
	default:
	}
	select {
	case e.out <- r:
		return nil
	case <-e.p.closed:
		return ErrClosed
	}
}

func (e *pipeEnd) Read(ctx context.Context) ([]byte, error) {
	select {
	case r := <-e.in:
		return r, nil
	case <-e.p.closed:
		return nil, ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (e *pipeEnd) Close() error {
	e.p.once.Do(func() { close(e.p.closed) })
	return nil
}
