package hid

import (
	"encoding/binary"
	"fmt"
)

// CTAPHID framing, CTAP 2.1 §11.2.4: a message travels as one
// initialization packet (channel, command with bit 7 set, 2-byte length,
// 57 data bytes) followed by continuation packets (channel, sequence 0..127
// with bit 7 clear, 59 data bytes).
const (
	initHeader = 7
	contHeader = 5
	initData   = ReportSize - initHeader // 57
	contData   = ReportSize - contHeader // 59
	maxSeq     = 128
	maxReports = 1 + maxSeq

	// MaxMessage is the longest CTAPHID message: 57 + 128×59 bytes.
	MaxMessage = initData + maxSeq*contData // 7609

	// BroadcastChannel is the channel on which INIT allocates a channel
	// (§11.2.3); channel 0 is reserved.
	BroadcastChannel uint32 = 0xffffffff
)

// Command is a CTAPHID command code, without the initialization bit.
type Command byte

// CTAPHID commands, CTAP 2.1 §11.2.9.
const (
	CmdPing      Command = 0x01
	CmdMsg       Command = 0x03
	CmdLock      Command = 0x04
	CmdInit      Command = 0x06
	CmdWink      Command = 0x08
	CmdCBOR      Command = 0x10
	CmdCancel    Command = 0x11
	CmdKeepalive Command = 0x3b
	CmdError     Command = 0x3f
)

func (c Command) String() string {
	switch c {
	case CmdPing:
		return "PING"
	case CmdMsg:
		return "MSG"
	case CmdLock:
		return "LOCK"
	case CmdInit:
		return "INIT"
	case CmdWink:
		return "WINK"
	case CmdCBOR:
		return "CBOR"
	case CmdCancel:
		return "CANCEL"
	case CmdKeepalive:
		return "KEEPALIVE"
	case CmdError:
		return "ERROR"
	}
	return fmt.Sprintf("command 0x%02x", byte(c))
}

// Packet is one report, decoded.
type Packet struct {
	Channel uint32
	Init    bool
	Command Command // initialization packets only
	Length  int     // message length declared by an initialization packet
	Seq     byte    // continuation packets only
	Data    []byte  // every data byte the report carries, padding included
}

// ParsePacket decodes one report. It fails only on a report of the wrong
// size; whether the packet makes sense is for [NewAssembly] and
// [Assembly.Add] to judge.
func ParsePacket(report []byte) (Packet, error) {
	if len(report) != ReportSize {
		return Packet{}, fmt.Errorf("hid: report of %d bytes, want %d", len(report), ReportSize)
	}
	p := Packet{Channel: binary.BigEndian.Uint32(report)}
	if report[4]&0x80 != 0 {
		p.Init = true
		p.Command = Command(report[4] &^ 0x80)
		p.Length = int(binary.BigEndian.Uint16(report[5:]))
		p.Data = report[initHeader:]
	} else {
		p.Seq = report[4]
		p.Data = report[contHeader:]
	}
	return p, nil
}

// Message is a whole CTAPHID request or response.
type Message struct {
	Channel uint32
	Command Command
	Data    []byte
}

// Reports cuts the message into reports, zero-padded.
func (m Message) Reports() ([][]byte, error) {
	if len(m.Data) > MaxMessage {
		return nil, fmt.Errorf("hid: %v message of %d bytes exceeds %d", m.Command, len(m.Data), MaxMessage)
	}
	first := make([]byte, ReportSize)
	binary.BigEndian.PutUint32(first, m.Channel)
	first[4] = byte(m.Command) | 0x80
	binary.BigEndian.PutUint16(first[5:], uint16(len(m.Data)))
	rest := m.Data[copy(first[initHeader:], m.Data):]
	reports := [][]byte{first}
	for seq := 0; len(rest) > 0; seq++ {
		r := make([]byte, ReportSize)
		binary.BigEndian.PutUint32(r, m.Channel)
		r[4] = byte(seq)
		rest = rest[copy(r[contHeader:], rest):]
		reports = append(reports, r)
	}
	return reports, nil
}

// FrameError reports a packet that breaks the framing rules. Report counts
// the packets of the message being assembled from 0 (the initialization
// packet); Byte is the offset within that report.
type FrameError struct {
	Channel uint32
	Report  int
	Byte    int
	Reason  string
}

func (e *FrameError) Error() string {
	return fmt.Sprintf("hid: bad frame on channel %08x, report %d byte %d: %s", e.Channel, e.Report, e.Byte, e.Reason)
}

// Assembly collects the packets of one message.
type Assembly struct {
	channel uint32
	command Command
	want    int
	data    []byte
	next    byte // sequence number expected next
}

// NewAssembly starts a message from its initialization packet.
func NewAssembly(p Packet) (*Assembly, error) {
	if !p.Init {
		return nil, &FrameError{Channel: p.Channel, Byte: 4, Reason: fmt.Sprintf("continuation packet (sequence %d) where an initialization packet was expected", p.Seq)}
	}
	if p.Length > MaxMessage {
		return nil, &FrameError{Channel: p.Channel, Byte: 5, Reason: fmt.Sprintf("declared length %d exceeds %d", p.Length, MaxMessage)}
	}
	a := &Assembly{channel: p.Channel, command: p.Command, want: p.Length, data: make([]byte, 0, p.Length)}
	a.take(p.Data)
	return a, nil
}

func (a *Assembly) take(data []byte) {
	n := min(len(data), a.want-len(a.data))
	a.data = append(a.data, data[:n]...)
}

// Add appends a continuation packet of the same channel. A packet out of
// sequence is an error (ERR_INVALID_SEQ, §11.2.4).
func (a *Assembly) Add(p Packet) error {
	switch {
	case p.Channel != a.channel:
		return &FrameError{Channel: p.Channel, Report: int(a.next) + 1, Reason: fmt.Sprintf("packet for channel %08x in a message on channel %08x", p.Channel, a.channel)}
	case p.Init:
		return &FrameError{Channel: p.Channel, Report: int(a.next) + 1, Byte: 4, Reason: fmt.Sprintf("initialization packet (%v) inside a %v message still missing %d bytes", p.Command, a.command, a.want-len(a.data))}
	case a.Complete():
		return &FrameError{Channel: p.Channel, Report: int(a.next) + 1, Byte: 4, Reason: "continuation packet after the message was complete"}
	case p.Seq != a.next:
		return &FrameError{Channel: p.Channel, Report: int(a.next) + 1, Byte: 4, Reason: fmt.Sprintf("sequence %d, want %d", p.Seq, a.next)}
	}
	a.next++
	a.take(p.Data)
	return nil
}

// Complete reports whether every declared byte has arrived.
func (a *Assembly) Complete() bool { return len(a.data) == a.want }

// Channel returns the channel of the message being assembled.
func (a *Assembly) Channel() uint32 { return a.channel }

// Message returns the message; it is whole only once Complete.
func (a *Assembly) Message() Message {
	return Message{Channel: a.channel, Command: a.command, Data: a.data}
}
