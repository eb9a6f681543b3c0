package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"time"
)

// rawHTTPSender speaks HTTP/1.1 on one kept-alive connection with as
// little work as the protocol allows, so that the load generator, which
// shares the machine with the server, leaves it the CPU. It sends
// exactly what net/http would for POST /v1/auth and reads the status,
// Content-Length and the JSON body.
type rawHTTPSender struct {
	addr, host, path, key string
	conn                  net.Conn
	r                     *bufio.Reader
	req                   bytes.Buffer
}

func newRawHTTPSender(base, key string) (*rawHTTPSender, error) {
	u, err := url.Parse(base)
	if err != nil || u.Scheme != "http" {
		return nil, fmt.Errorf("-http %q: the raw client speaks plain http:// only (use -client std for https)", base)
	}
	return &rawHTTPSender{addr: u.Host, host: u.Host, path: "/v1/auth", key: key}, nil
}

func (h *rawHTTPSender) send(user, code string) outcome {
	o := h.try(user, code)
	if o.err != nil && h.conn != nil {
		// The server may close an idle connection; one retry on a new one.
		h.conn.Close()
		h.conn = nil
		o = h.try(user, code)
	}
	return o
}

func (h *rawHTTPSender) try(user, code string) outcome {
	if h.conn == nil {
		c, err := net.Dial("tcp", h.addr)
		if err != nil {
			return outcome{err: err}
		}
		h.conn, h.r = c, bufio.NewReaderSize(c, 4096)
	}
	body := `{"username":"` + user + `","passcode":"` + code + `"}`
	h.req.Reset()
	fmt.Fprintf(&h.req, "POST %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
		h.path, h.host, h.key, len(body), body)
	h.conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := h.conn.Write(h.req.Bytes()); err != nil {
		return outcome{err: err}
	}
	status, n, err := h.readHead()
	if err != nil {
		return outcome{err: err}
	}
	raw := make([]byte, n)
	if _, err := io.ReadFull(h.r, raw); err != nil {
		return outcome{err: err}
	}
	if status != 200 {
		return outcome{err: fmt.Errorf("HTTP %d: %s", status, bytes.TrimSpace(raw))}
	}
	var a struct {
		Result     string `json:"result"`
		ReasonCode string `json:"reason_code"`
	}
	if err := json.Unmarshal(raw, &a); err != nil {
		return outcome{err: err}
	}
	return outcome{allow: a.Result == "allow", reason: a.ReasonCode}
}

// readHead reads the status line and headers, and returns the status and
// the Content-Length.
func (h *rawHTTPSender) readHead() (status, length int, err error) {
	line, err := h.r.ReadSlice('\n')
	if err != nil {
		return 0, 0, err
	}
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.1 ")) {
		return 0, 0, fmt.Errorf("not an HTTP/1.1 status line: %q", line)
	}
	if status, err = strconv.Atoi(string(line[9:12])); err != nil {
		return 0, 0, err
	}
	length = -1
	for {
		line, err := h.r.ReadSlice('\n')
		if err != nil {
			return 0, 0, err
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			break
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if ok && bytes.EqualFold(name, []byte("Content-Length")) {
			if length, err = strconv.Atoi(string(bytes.TrimSpace(value))); err != nil {
				return 0, 0, err
			}
		}
	}
	if length < 0 {
		return 0, 0, errors.New("the answer has no Content-Length")
	}
	return status, length, nil
}
