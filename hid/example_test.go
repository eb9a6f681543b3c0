package hid_test

import (
	"context"
	"crypto/sha256"
	"fmt"

	"github.com/keydesk/keydesk/hid"
	"github.com/keydesk/keydesk/hid/softkey"
)

// A help-desk session with a key: here a soft key on an in-memory pipe; on
// a real machine the device comes from hid.OpenPath.
func Example() {
	key, err := softkey.New(softkey.Config{TouchDelay: -1})
	if err != nil {
		panic(err)
	}
	host, dev := hid.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go key.Serve(ctx, dev)

	c, err := hid.Open(ctx, host, hid.Options{OnTouch: func() { fmt.Println("Touch your key now") }})
	if err != nil {
		panic(err)
	}
	defer c.Close()
	fmt.Println("U2F:", c.Info().U2F(), "CTAP2:", c.Info().CTAP2())

	app := sha256.Sum256([]byte("https://keydesk.example"))
	challenge := sha256.Sum256([]byte("client data"))
	reg, err := c.Register(ctx, challenge, app)
	if err != nil {
		panic(err)
	}
	auth, err := c.Authenticate(ctx, challenge, app, reg.KeyHandle)
	if err != nil {
		panic(err)
	}
	fmt.Println("key handle:", len(reg.KeyHandle), "bytes; present:", auth.UserPresent(), "counter:", auth.Counter)
	// Output:
	// U2F: true CTAP2: true
	// key handle: 61 bytes; present: true counter: 1
}
