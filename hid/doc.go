// Package hid talks to FIDO security keys over USB HID: CTAPHID framing
// (CTAP 2.1 §11.2) on a small [Device] interface, and the U2F (CTAP1) and
// CTAP2 commands a help desk needs on top of it.
//
// A [Device] moves 64-byte reports. [OpenPath] opens a hidraw node through
// github.com/flynn/hid, [OpenGadget] the device side of a Linux HID gadget,
// and [Pipe] links two in memory. [Enumerate] finds the FIDO hidraw nodes
// through sysfs, which needs no permission on the nodes.
//
// [Open] allocates a channel and returns a [Client]:
//
//	dev, err := hid.OpenPath("/dev/hidraw0")
//	c, err := hid.Open(ctx, dev, hid.Options{OnTouch: func() { fmt.Println("Touch your key now") }})
//	defer c.Close()
//	reg, err := c.Register(ctx, challengeParam, appParam) // polls until touched
//	auth, err := c.Authenticate(ctx, challengeParam, appParam, reg.KeyHandle)
//
// CTAP2 keys (CTAP 2.1) are asked over CBOR: [Client.GetInfo],
// [Client.MakeCredential] and [Client.GetAssertion] (with a PIN token from
// [Client.PINTokenWithPermissions] when the key wants its PIN), the PIN
// itself ([Client.SetPIN], [Client.ChangePIN], [Client.PINRetries]),
// [Client.Reset], the discoverable credentials ([Client.ResidentRPs],
// [Client.ResidentCredentials], [Client.DeleteCredential]),
// [Client.Selection] and the key's settings ([Client.ToggleAlwaysUV],
// [Client.SetMinPINLength]). A key's refusal comes back wrapping its
// [u2f.CTAP2Error]: errors.Is(err, u2f.ErrPINInvalid).
//
// The client retries a busy device, follows KEEPALIVE, turns CTAPHID
// errors into [ErrorCode] values, times out every exchange (by
// [Options.Clock], so tests move time by hand), and sends CANCEL when its
// context is cancelled. It checks the framing of what it reads and no
// more: whether a signature verifies is for package verify, which gets the
// signed bytes from [Registration.SignedData] and
// [Authentication.SignedData].
//
// Package softkey is the other end: a virtual key that serves the same
// protocol.
package hid
