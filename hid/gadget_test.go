package hid

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

func TestStreamDevice(t *testing.T) {
	a, b := net.Pipe()
	dev := NewStreamDevice(a)
	defer dev.Close()

	report := bytes.Repeat([]byte{0x42}, ReportSize)
	go b.Write(append(append([]byte(nil), report...), report...)) // two reports in one write
	for i := 0; i < 2; i++ {
		got, err := dev.Read(context.Background())
		if err != nil || !bytes.Equal(got, report) {
			t.Fatalf("read %d: %x, %v", i, got, err)
		}
	}

	got := make([]byte, ReportSize)
	done := make(chan error)
	go func() { _, err := io.ReadFull(b, got); done <- err }()
	if err := dev.Write(report); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil || !bytes.Equal(got, report) {
		t.Fatalf("host got %x, %v", got, err)
	}
	if err := dev.Write(report[:10]); err == nil || !strings.Contains(err.Error(), "report of 10 bytes") {
		t.Errorf("short write: %v", err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	if _, err := dev.Read(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("read with nothing to read: %v", err)
	}

	b.Close() // the host goes away
	if _, err := dev.Read(context.Background()); err == nil || !strings.Contains(err.Error(), "reading report") {
		t.Errorf("read after the host left: %v", err)
	}
	dev.Close()
	if _, err := dev.Read(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("read after close: %v", err)
	}
}

func TestOpenPathRefusesNonHID(t *testing.T) {
	if _, err := OpenPath("/dev/null"); err == nil || !strings.Contains(err.Error(), "/dev/null") {
		t.Errorf("got %v", err)
	}
	if _, err := OpenGadget("/nonexistent/hidg0"); err == nil {
		t.Error("opened a gadget that does not exist")
	}
}
