package hid

import (
	"context"
	"encoding/hex"
	"errors"
	"testing"
)

func TestGetInfoOverCBOR(t *testing.T) {
	host, _ := startKey(t, func(m Message) [][]byte {
		switch m.Command {
		case CmdInit:
			return initAnswer(m, CapCBOR|CapNMSG)
		case CmdCBOR:
			if len(m.Data) == 1 && m.Data[0] == 0x04 {
				return reportsOf(Message{Channel: m.Channel, Command: CmdCBOR, Data: append([]byte{0}, unhex(t, specGetInfo)...)})
			}
			return reportsOf(Message{Channel: m.Channel, Command: CmdCBOR, Data: []byte{0x01}})
		}
		return nil
	})
	c, err := Open(context.Background(), host, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if c.Info().U2F() || !c.Info().CTAP2() {
		t.Errorf("capabilities %+v", c.Info())
	}
	info, err := c.GetInfo(context.Background())
	if err != nil || info.MaxMsgSize != 1200 {
		t.Fatalf("%+v, %v", info, err)
	}
	_, err = c.U2FVersion(context.Background())
	if !errors.Is(err, ErrNoU2F) {
		t.Errorf("U2F on a CTAP2-only key: %v", err)
	}
}

// specGetInfo is CTAP 2.0 §5.4's getInfo example answer (package u2f
// tests its parsing); here it only needs to arrive whole.
const specGetInfo = "a60182665532465f5632684649444f5f325f3002826375766d6b686d61632d7365637265740350f8a011f38c0a4d15800617111f9edc7d04a462726bf5627570f564706c6174f469636c69656e7450696ef4051904b0068101"

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
