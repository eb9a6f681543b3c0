//go:build linux && cgo

package hid

import (
	"context"
	"errors"
	"fmt"
	"os"

	fhid "github.com/flynn/hid"
)

// OpenPath opens a FIDO hidraw node, e.g. /dev/hidraw0, with
// github.com/flynn/hid. It refuses a node whose report descriptor is not
// the FIDO one, so that no CTAPHID packet reaches a keyboard.
func OpenPath(path string) (Device, error) {
	info, err := fhid.ByPath(path)
	if err != nil {
		return nil, fmt.Errorf("hid: opening %s: %w", path, err)
	}
	if info.UsagePage != FIDOUsagePage {
		return nil, fmt.Errorf("hid: %s is not a FIDO device (usage page 0x%04x)", path, info.UsagePage)
	}
	if info.InputReportLength != ReportSize || info.OutputReportLength != ReportSize {
		return nil, fmt.Errorf("hid: %s has %d-byte input and %d-byte output reports, want %d", path, info.InputReportLength, info.OutputReportLength, ReportSize)
	}
	d, err := info.Open()
	if err != nil {
		return nil, fmt.Errorf("hid: opening %s: %w", path, err)
	}
	return &hidraw{d: d, path: path}, nil
}

type hidraw struct {
	d    fhid.Device
	path string
}

// Write prefixes the report with report ID 0: FIDO devices use unnumbered
// reports, and hidraw wants the ID byte all the same.
func (h *hidraw) Write(report []byte) error {
	if len(report) != ReportSize {
		return fmt.Errorf("hid: report of %d bytes, want %d", len(report), ReportSize)
	}
	buf := make([]byte, 1+ReportSize)
	copy(buf[1:], report)
	if err := h.d.Write(buf); err != nil {
		return fmt.Errorf("hid: writing to %s: %w", h.path, err)
	}
	return nil
}

func (h *hidraw) Read(ctx context.Context) ([]byte, error) {
	select {
	case r, ok := <-h.d.ReadCh():
		if !ok {
			err := h.d.ReadError()
			if err == nil || errors.Is(err, os.ErrClosed) {
				return nil, ErrClosed
			}
			return nil, fmt.Errorf("hid: reading %s: %w", h.path, err)
		}
		if len(r) != ReportSize {
			return nil, fmt.Errorf("hid: %s gave a report of %d bytes, want %d", h.path, len(r), ReportSize)
		}
		return r, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (h *hidraw) Close() error {
	h.d.Close()
	return nil
}
