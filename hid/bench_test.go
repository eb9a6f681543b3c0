package hid

import (
	"testing"
)

// BenchmarkFrames cuts the longest message into reports and reassembles it.
func BenchmarkFrames(b *testing.B) {
	m := Message{Channel: 1, Command: CmdMsg, Data: make([]byte, MaxMessage)}
	b.SetBytes(MaxMessage)
	for b.Loop() {
		reports, err := m.Reports()
		if err != nil {
			b.Fatal(err)
		}
		p, _ := ParsePacket(reports[0])
		asm, err := NewAssembly(p)
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range reports[1:] {
			p, _ := ParsePacket(r)
			if err := asm.Add(p); err != nil {
				b.Fatal(err)
			}
		}
		if !asm.Complete() {
			b.Fatal("incomplete")
		}
	}
}
