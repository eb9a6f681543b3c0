package hid

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"
)

// Options tune a [Client]. The zero value is usable: every zero field takes
// the default named in its comment.
type Options struct {
	// Timeout is how long an exchange waits for the device to answer
	// (default 3 s). Each KEEPALIVE restarts it: the key is alive, and
	// waiting for a person is bounded by TouchTimeout and the context.
	Timeout time.Duration
	// TouchTimeout bounds the wait for a touch (default 30 s): U2F
	// requests stop polling, and a CTAP2 request whose key keeps saying
	// KEEPALIVE "user needed" is cancelled with CANCEL.
	TouchTimeout time.Duration
	// PollInterval is the pause between U2F requests while the key asks
	// for a touch (default 200 ms).
	PollInterval time.Duration
	// BusyRetries is how many times a request answered ERR_CHANNEL_BUSY
	// is sent again (default 5; negative: never), after BusyBackoff
	// (default 50 ms), doubled at each retry.
	BusyRetries int
	BusyBackoff time.Duration
	// Clock and Rand default to the system's.
	Clock Clock
	Rand  io.Reader
	// OnTouch, if set, is called once per operation when the key waits
	// for a touch, so the caller can say "Touch your key now".
	OnTouch func()
	// OnKeepalive, if set, sees every KEEPALIVE status.
	OnKeepalive func(KeepaliveStatus)
}

func (o Options) withDefaults() Options {
	if o.Timeout <= 0 {
		o.Timeout = 3 * time.Second
	}
	if o.TouchTimeout <= 0 {
		o.TouchTimeout = 30 * time.Second
	}
	if o.PollInterval <= 0 {
		o.PollInterval = 200 * time.Millisecond
	}
	if o.BusyRetries == 0 {
		o.BusyRetries = 5
	}
	if o.BusyBackoff <= 0 {
		o.BusyBackoff = 50 * time.Millisecond
	}
	if o.Clock == nil {
		o.Clock = SystemClock
	}
	if o.Rand == nil {
		o.Rand = rand.Reader
	}
	return o
}

// KeepaliveStatus is the status byte of a KEEPALIVE (CTAP 2.1 §11.2.9.1.7).
type KeepaliveStatus byte

const (
	KeepaliveProcessing KeepaliveStatus = 1
	KeepaliveUserNeeded KeepaliveStatus = 2
)

// Capabilities are the flags of the INIT answer (§11.2.9.1.3).
type Capabilities byte

const (
	CapWink Capabilities = 0x01
	CapCBOR Capabilities = 0x04
	CapNMSG Capabilities = 0x08 // the device does NOT implement MSG
)

// Has reports whether every flag of f is set.
func (c Capabilities) Has(f Capabilities) bool { return c&f == f }

// Info is what the device said about itself when the channel was allocated.
type Info struct {
	Channel      uint32       `json:"channel"`
	Protocol     byte         `json:"protocol"` // CTAPHID protocol version, 2
	Major        byte         `json:"major"`
	Minor        byte         `json:"minor"`
	Build        byte         `json:"build"`
	Capabilities Capabilities `json:"capabilities"`
}

// U2F reports whether the device speaks U2F (CTAP1) over MSG.
func (i Info) U2F() bool { return !i.Capabilities.Has(CapNMSG) }

// CTAP2 reports whether the device speaks CTAP2 over CBOR.
func (i Info) CTAP2() bool { return i.Capabilities.Has(CapCBOR) }

// Version returns the device version as "major.minor.build".
func (i Info) Version() string { return fmt.Sprintf("%d.%d.%d", i.Major, i.Minor, i.Build) }

// Client talks CTAPHID to one device on a channel of its own. Its methods
// may be called from several goroutines; exchanges take turns.
type Client struct {
	dev  Device
	opt  Options
	info Info

	mu      sync.Mutex
	touched bool  // OnTouch already called in this operation
	failed  error // the device can no longer be read
	stale   bool  // an exchange was abandoned: resynchronise first

	reports    chan readResult
	stopReader context.CancelFunc
	readerDone chan struct{}
}

type readResult struct {
	report []byte
	err    error
}

// Open allocates a channel on dev with INIT on the broadcast channel
// (§11.2.9.1.3) and returns a client for it. The client owns dev from
// then on; if Open fails, dev is left open for the caller to close.
func Open(ctx context.Context, dev Device, opt Options) (*Client, error) {
	c := &Client{dev: dev, opt: opt.withDefaults(), reports: make(chan readResult, 2*maxReports), readerDone: make(chan struct{})}
	rctx, cancel := context.WithCancel(context.Background())
	c.stopReader = cancel
	go c.readLoop(rctx)
	c.mu.Lock()
	info, err := c.init(ctx, BroadcastChannel)
	c.mu.Unlock()
	if err != nil {
		c.stop()
		return nil, err
	}
	c.info = info
	return c, nil
}

// Info returns what the device said when the channel was allocated.
func (c *Client) Info() Info {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.info
}

// Close stops the client and closes the device.
func (c *Client) Close() error {
	c.stop()
	return c.dev.Close()
}

func (c *Client) stop() {
	c.stopReader()
	<-c.readerDone
}

// readLoop turns Device.Read into a channel, so that an exchange can wait
// for a report, its timer and its context at once.
func (c *Client) readLoop(ctx context.Context) {
	defer close(c.readerDone)
	for {
		r, err := c.dev.Read(ctx)
		if ctx.Err() != nil {
			return
		}
		select {
		case c.reports <- readResult{r, err}:
		case <-ctx.Done():
			return
		}
		if err != nil {
			return
		}
	}
}

// init sends INIT on cid. On the broadcast channel it allocates a channel;
// on our own it resynchronises the channel (§11.2.9.1.3), and since the
// device answers in order, the answer with our nonce also flushes whatever
// an abandoned exchange left on its way. The caller holds c.mu.
func (c *Client) init(ctx context.Context, cid uint32) (Info, error) {
	nonce := make([]byte, 8)
	if _, err := io.ReadFull(c.opt.Rand, nonce); err != nil {
		return Info{}, fmt.Errorf("hid: making INIT nonce: %w", err)
	}
	// §11.2.9.1.3: an answer whose nonce is not ours belongs to another
	// application's INIT and is ignored.
	ours := func(d []byte) bool { return len(d) >= len(nonce) && bytes.Equal(d[:len(nonce)], nonce) }
	// Resynchronising skips whole answers to other commands: they are
	// what an abandoned exchange left behind.
	resp, err := c.transact(ctx, request{cid: cid, cmd: CmdInit, data: nonce, accept: ours, flush: cid != BroadcastChannel})
	if err != nil {
		return Info{}, err
	}
	if len(resp) < 17 {
		return Info{}, fmt.Errorf("hid: INIT answer of %d bytes, want at least 17", len(resp))
	}
	info := Info{
		Channel:      binary.BigEndian.Uint32(resp[8:]),
		Protocol:     resp[12],
		Major:        resp[13],
		Minor:        resp[14],
		Build:        resp[15],
		Capabilities: Capabilities(resp[16]),
	}
	if info.Channel == 0 || info.Channel == BroadcastChannel {
		return Info{}, fmt.Errorf("hid: INIT allocated reserved channel %08x", info.Channel)
	}
	return info, nil
}

// Transact sends one request on the client's channel and returns the data
// of the answer.
func (c *Client) Transact(ctx context.Context, cmd Command, data []byte) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.touched = false
	return c.transact(ctx, request{cid: c.info.Channel, cmd: cmd, data: data})
}

// Ping sends data and checks that the device echoes it.
func (c *Client) Ping(ctx context.Context, data []byte) error {
	resp, err := c.Transact(ctx, CmdPing, data)
	if err != nil {
		return err
	}
	if !bytes.Equal(resp, data) {
		return fmt.Errorf("hid: PING echoed %d different bytes", len(resp))
	}
	return nil
}

// ErrNoWink is returned by [Client.Wink] for a device without CAPABILITY_WINK.
var ErrNoWink = errors.New("hid: device cannot wink")

// Wink asks the device to show itself, e.g. by blinking its light.
func (c *Client) Wink(ctx context.Context) error {
	if !c.info.Capabilities.Has(CapWink) {
		return ErrNoWink
	}
	_, err := c.Transact(ctx, CmdWink, nil)
	return err
}
