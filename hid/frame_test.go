package hid

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/keydesk/keydesk/u2f"
)

func TestReportsRoundTrip(t *testing.T) {
	for _, n := range []int{0, 1, initData, initData + 1, initData + contData, initData + contData + 1, 1024, MaxMessage} {
		data := bytes.Repeat([]byte{0xa5}, n)
		for i := range data {
			data[i] = byte(i * 7)
		}
		reports, err := Message{Channel: 0x01020304, Command: CmdMsg, Data: data}.Reports()
		if err != nil {
			t.Fatalf("%d bytes: %v", n, err)
		}
		wantReports := 1
		if n > initData {
			wantReports += (n - initData + contData - 1) / contData
		}
		if len(reports) != wantReports {
			t.Errorf("%d bytes: %d reports, want %d", n, len(reports), wantReports)
		}
		var asm *Assembly
		for i, r := range reports {
			if len(r) != ReportSize {
				t.Fatalf("report %d has %d bytes", i, len(r))
			}
			p, err := ParsePacket(r)
			if err != nil {
				t.Fatal(err)
			}
			if i == 0 {
				if asm, err = NewAssembly(p); err != nil {
					t.Fatal(err)
				}
				continue
			}
			if asm.Complete() {
				t.Fatalf("%d bytes: complete after %d of %d reports", n, i, len(reports))
			}
			if err := asm.Add(p); err != nil {
				t.Fatal(err)
			}
		}
		if !asm.Complete() {
			t.Fatalf("%d bytes: incomplete", n)
		}
		m := asm.Message()
		if m.Channel != 0x01020304 || m.Command != CmdMsg || !bytes.Equal(m.Data, data) {
			t.Errorf("%d bytes: got %x %v %d bytes back", n, m.Channel, m.Command, len(m.Data))
		}
	}
}

func TestReportsTooLong(t *testing.T) {
	_, err := Message{Command: CmdMsg, Data: make([]byte, MaxMessage+1)}.Reports()
	if err == nil || !strings.Contains(err.Error(), "7610 bytes exceeds 7609") {
		t.Fatalf("got %v", err)
	}
}

func TestParsePacketWire(t *testing.T) {
	r := make([]byte, ReportSize)
	copy(r, []byte{0xff, 0xff, 0xff, 0xff, 0x86, 0x00, 0x08, 1, 2, 3, 4, 5, 6, 7, 8})
	p, err := ParsePacket(r)
	if err != nil {
		t.Fatal(err)
	}
	if p.Channel != BroadcastChannel || !p.Init || p.Command != CmdInit || p.Length != 8 || p.Data[0] != 1 {
		t.Errorf("got %+v", p)
	}
	if _, err := ParsePacket(r[:63]); err == nil {
		t.Error("63-byte report accepted")
	}
}

func TestAssemblyErrors(t *testing.T) {
	msg := Message{Channel: 7, Command: CmdMsg, Data: make([]byte, 200)}
	reports, _ := msg.Reports()
	packet := func(r []byte) Packet {
		p, err := ParsePacket(r)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name  string
		first []byte
		next  []byte
		want  string
	}{
		{"skipped sequence", reports[0], reports[2], "report 1 byte 4: sequence 1, want 0"},
		{"init inside", reports[0], reports[0], "initialization packet (MSG) inside a MSG message still missing 143 bytes"},
		{"other channel", reports[0], func() []byte { r := append([]byte(nil), reports[1]...); r[3] = 8; return r }(), "packet for channel 00000008"},
	}
	for _, tt := range tests {
		asm, err := NewAssembly(packet(tt.first))
		if err != nil {
			t.Fatal(err)
		}
		err = asm.Add(packet(tt.next))
		var fe *FrameError
		if !errors.As(err, &fe) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: got %v, want %q", tt.name, err, tt.want)
		}
	}

	if _, err := NewAssembly(packet(reports[1])); err == nil || !strings.Contains(err.Error(), "continuation packet (sequence 0)") {
		t.Errorf("continuation first: got %v", err)
	}
	big := append([]byte(nil), reports[0]...)
	big[5], big[6] = 0x1d, 0xba // 7610
	if _, err := NewAssembly(packet(big)); err == nil || !strings.Contains(err.Error(), "byte 5: declared length 7610 exceeds 7609") {
		t.Errorf("oversize: got %v", err)
	}

	short, _ := Message{Channel: 7, Command: CmdMsg, Data: []byte{1}}.Reports()
	asm, _ := NewAssembly(packet(short[0]))
	if err := asm.Add(packet(reports[1])); err == nil || !strings.Contains(err.Error(), "after the message was complete") {
		t.Errorf("extra continuation: got %v", err)
	}
}

// FuzzAssembly feeds arbitrary reports to an assembly: it must never panic,
// never hold more than it declared, and a complete message must be no
// longer than MaxMessage.
func FuzzAssembly(f *testing.F) {
	for _, n := range []int{0, 57, 58, 300} {
		reports, _ := Message{Channel: 1, Command: CmdMsg, Data: bytes.Repeat([]byte{9}, n)}.Reports()
		f.Add(bytes.Join(reports, nil))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var asm *Assembly
		for len(data) >= ReportSize {
			p, err := ParsePacket(data[:ReportSize])
			data = data[ReportSize:]
			if err != nil {
				t.Fatal(err)
			}
			if asm == nil {
				if asm, err = NewAssembly(p); err != nil {
					asm = nil
				}
				continue
			}
			if err := asm.Add(p); err != nil {
				return
			}
			m := asm.Message()
			if len(m.Data) > MaxMessage || len(m.Data) > asm.want {
				t.Fatalf("holds %d bytes of %d declared", len(m.Data), asm.want)
			}
		}
	})
}

// The messages package u2f bounds are the messages CTAPHID can carry.
func TestMaxMessageIsU2Fs(t *testing.T) {
	if MaxMessage != u2f.MaxMessage {
		t.Fatalf("hid carries %d bytes, u2f bounds %d", MaxMessage, u2f.MaxMessage)
	}
}
