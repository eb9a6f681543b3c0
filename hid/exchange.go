package hid

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// request is one exchange to make.
type request struct {
	cid    uint32
	cmd    Command
	data   []byte
	accept func([]byte) bool // nil: any answer to cmd is ours
	flush  bool              // skip whole answers to other commands
}

// transact is one exchange, sent again while the device says it is busy
// with another channel (§11.2.6: the host retries later).
func (c *Client) transact(ctx context.Context, r request) ([]byte, error) {
	wait := c.opt.BusyBackoff
	for attempt := 0; ; attempt++ {
		resp, err := c.roundTrip(ctx, r)
		if !errors.Is(err, ErrChannelBusy) || attempt >= c.opt.BusyRetries {
			return resp, err
		}
		if err := c.sleep(ctx, wait); err != nil {
			return nil, fmt.Errorf("hid: %v: waiting for a busy device: %w", r.cmd, err)
		}
		wait *= 2
	}
}

func (c *Client) sleep(ctx context.Context, d time.Duration) error {
	t := c.opt.Clock.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C():
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// roundTrip makes one exchange, resynchronising the channel first if an
// earlier exchange was abandoned.
func (c *Client) roundTrip(ctx context.Context, r request) ([]byte, error) {
	if c.failed != nil {
		return nil, c.failed
	}
	if err := context.Cause(ctx); err != nil {
		return nil, fmt.Errorf("hid: %v: %w", r.cmd, err)
	}
	c.drain()
	if c.stale && r.cid != BroadcastChannel {
		c.stale = false
		info, err := c.init(ctx, r.cid)
		if err != nil {
			c.stale = true
			return nil, fmt.Errorf("hid: resynchronising channel %08x: %w", r.cid, err)
		}
		c.info.Channel = info.Channel
		r.cid = info.Channel
	}
	resp, err := c.exchange(ctx, r)
	var code ErrorCode
	if err != nil && !errors.As(err, &code) && r.cid != BroadcastChannel {
		// A timeout, a cancellation or a broken frame may leave the rest
		// of an answer on its way; the next exchange must not take it for
		// its own.
		c.stale = true
	}
	return resp, err
}

// exchange sends one request and receives its answer.
func (c *Client) exchange(ctx context.Context, r request) ([]byte, error) {
	reports, err := Message{Channel: r.cid, Command: r.cmd, Data: r.data}.Reports()
	if err != nil {
		return nil, err
	}
	for i, rep := range reports {
		if err := c.dev.Write(rep); err != nil {
			return nil, fmt.Errorf("hid: sending %v, report %d of %d: %w", r.cmd, i+1, len(reports), err)
		}
	}
	return c.receive(ctx, r)
}

// drain drops reports that arrived between exchanges (a late answer after
// a timeout), so they are not taken for the answer to the next one.
func (c *Client) drain() {
	for {
		select {
		case rr := <-c.reports:
			if rr.err != nil {
				c.failed = fmt.Errorf("hid: reading from device: %w", rr.err)
				return
			}
		default:
			return
		}
	}
}

// receiving is the state of one receive.
type receiving struct {
	asm        *Assembly
	skip       bool // asm is an answer to another command, to be dropped
	ignored    int
	note       string
	userNeeded bool // a KEEPALIVE said the key waits for a touch
}

// receive reassembles the answer to r on its channel (§11.2.4): packets
// of other channels and continuation packets without an initialization
// packet are ignored; KEEPALIVE restarts the timer; ERROR ends the
// exchange with its code.
func (c *Client) receive(ctx context.Context, r request) ([]byte, error) {
	timer := c.opt.Clock.NewTimer(c.opt.Timeout)
	defer func() { timer.Stop() }()
	// A CTAP2 key waits for a touch inside one exchange, saying so in
	// KEEPALIVEs (§11.2.9.1.7); TouchTimeout bounds that wait from the
	// first of them, and CANCEL tells the key to give up.
	var touch Timer
	var touchC <-chan time.Time
	defer func() {
		if touch != nil {
			touch.Stop()
		}
	}()
	var st receiving
	expired := false // the timer fired: only reports already read count
	for {
		var rr readResult
		if expired {
			select {
			case rr = <-c.reports:
			default:
				return nil, &TimeoutError{Command: r.cmd, After: c.opt.Timeout, Ignored: st.ignored, Note: st.note}
			}
		} else {
			select {
			case rr = <-c.reports:
			case <-timer.C():
				expired = true
				continue
			case <-touchC:
				c.cancel(r.cid)
				return nil, fmt.Errorf("hid: %v: %w (waited %v)", r.cmd, ErrTouchTimeout, c.opt.TouchTimeout)
			case <-ctx.Done():
				if r.cid != BroadcastChannel {
					c.cancel(r.cid)
				}
				return nil, fmt.Errorf("hid: %v: %w", r.cmd, context.Cause(ctx))
			}
		}
		if rr.err != nil {
			c.failed = fmt.Errorf("hid: reading from device: %w", rr.err)
			return nil, c.failed
		}
		data, done, keepalive, err := c.take(r, &st, rr.report)
		if err != nil || done {
			return data, err
		}
		if keepalive {
			timer.Stop()
			timer = c.opt.Clock.NewTimer(c.opt.Timeout)
			expired = false
			if st.userNeeded && touch == nil {
				touch = c.opt.Clock.NewTimer(c.opt.TouchTimeout)
				touchC = touch.C()
			}
		}
	}
}

// take handles one report of a receive; done is true when the answer is
// whole.
func (c *Client) take(r request, st *receiving, report []byte) (data []byte, done, keepalive bool, err error) {
	p, err := ParsePacket(report)
	if err != nil {
		return nil, false, false, err
	}
	if p.Channel != r.cid {
		st.ignored++
		return nil, false, false, nil
	}
	if st.asm == nil {
		if !p.Init {
			st.ignored++
			st.note = "continuation packets without an initialization packet"
			return nil, false, false, nil
		}
		switch p.Command {
		case CmdKeepalive:
			if c.keepalive(p) == KeepaliveUserNeeded {
				st.userNeeded = true
			}
			return nil, false, true, nil
		case CmdError:
			code := ErrOther
			if p.Length >= 1 {
				code = ErrorCode(p.Data[0])
			}
			return nil, false, false, fmt.Errorf("hid: %v on channel %08x: %w", r.cmd, r.cid, code)
		case r.cmd:
			st.skip = false
		default:
			if !r.flush {
				return nil, false, false, &FrameError{Channel: r.cid, Byte: 4, Reason: fmt.Sprintf("answer %v to the %v request", p.Command, r.cmd)}
			}
			st.skip = true
		}
		if st.asm, err = NewAssembly(p); err != nil {
			return nil, false, false, err
		}
	} else if err := st.asm.Add(p); err != nil {
		return nil, false, false, err
	}
	if !st.asm.Complete() {
		return nil, false, false, nil
	}
	data = st.asm.Message().Data
	st.asm = nil
	switch {
	case st.skip:
		st.ignored++
		st.note = "answers left by an abandoned exchange"
	case r.accept != nil && !r.accept(data):
		st.ignored++
		st.note = fmt.Sprintf("%v answers with a wrong nonce, not ours", r.cmd)
	default:
		return data, true, false, nil
	}
	return nil, false, false, nil
}

func (c *Client) keepalive(p Packet) KeepaliveStatus {
	status := KeepaliveProcessing
	if p.Length >= 1 {
		status = KeepaliveStatus(p.Data[0])
	}
	if c.opt.OnKeepalive != nil {
		c.opt.OnKeepalive(status)
	}
	if status == KeepaliveUserNeeded {
		c.touch()
	}
	return status
}

func (c *Client) touch() {
	if !c.touched && c.opt.OnTouch != nil {
		c.opt.OnTouch()
	}
	c.touched = true
}

// cancel sends CANCEL, which has no answer (§11.2.9.2.5); it is best
// effort, as the caller is already leaving.
func (c *Client) cancel(cid uint32) {
	reports, _ := Message{Channel: cid, Command: CmdCancel}.Reports()
	_ = c.dev.Write(reports[0])
}
