package hid

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// gadgetWriteTimeout bounds a write the host does not collect: a host that
// stops reading halfway through an answer must not wedge the soft key.
const gadgetWriteTimeout = 5 * time.Second

// OpenGadget opens the device side of a Linux USB HID gadget, /dev/hidgN:
// each read and write there is one bare 64-byte report, no report ID.
func OpenGadget(path string) (Device, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("hid: opening gadget: %w", err)
	}
	return NewStreamDevice(f), nil
}

// NewStreamDevice makes a Device of a stream that carries bare 64-byte
// reports back to back: a gadget file, or one end of a socket.
func NewStreamDevice(rwc io.ReadWriteCloser) Device {
	return &stream{rwc: rwc, reports: make(chan readResult, 2*maxReports), done: make(chan struct{})}
}

type stream struct {
	rwc     io.ReadWriteCloser
	start   sync.Once
	reports chan readResult
	close   sync.Once
	done    chan struct{}
	wmu     sync.Mutex
}

func (s *stream) Write(report []byte) error {
	if len(report) != ReportSize {
		return fmt.Errorf("hid: report of %d bytes, want %d", len(report), ReportSize)
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if d, ok := s.rwc.(interface{ SetWriteDeadline(time.Time) error }); ok {
		_ = d.SetWriteDeadline(time.Now().Add(gadgetWriteTimeout)) // fails harmlessly on files without poll support
	}
	if _, err := s.rwc.Write(report); err != nil {
		return fmt.Errorf("hid: writing report: %w", err)
	}
	return nil
}

func (s *stream) Read(ctx context.Context) ([]byte, error) {
	s.start.Do(func() { go s.readLoop() })
	select {
	case rr, ok := <-s.reports:
		if !ok {
			return nil, ErrClosed
		}
		return rr.report, rr.err
	case <-s.done:
		return nil, ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (s *stream) readLoop() {
	defer close(s.reports)
	for {
		r := make([]byte, ReportSize)
		if _, err := io.ReadFull(s.rwc, r); err != nil {
			select {
			case <-s.done:
			default:
				s.reports <- readResult{err: fmt.Errorf("hid: reading report: %w", err)}
			}
			return
		}
		select {
		case s.reports <- readResult{report: r}:
		case <-s.done:
			return
		}
	}
}

func (s *stream) Close() error {
	var err error
	s.close.Do(func() {
		close(s.done)
		err = s.rwc.Close()
	})
	return err
}
