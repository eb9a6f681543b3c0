package main

import (
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"
	"layeh.com/radius/rfc2869"
)

func newHTTPClient(conc int) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	// One kept-alive connection per client, as 64 application servers
	// would have.
	tr.MaxIdleConns, tr.MaxIdleConnsPerHost, tr.MaxConnsPerHost = conc, conc, conc
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

type httpSender struct {
	client   *http.Client
	url, key string
}

func (h *httpSender) send(user, code string) outcome {
	body, _ := json.Marshal(map[string]string{"username": user, "passcode": code})
	req, err := http.NewRequest("POST", h.url, bytes.NewReader(body))
	if err != nil {
		return outcome{err: err}
	}
	req.Header.Set("Authorization", "Bearer "+h.key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := h.client.Do(req)
	if err != nil {
		return outcome{err: err}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return outcome{err: err}
	}
	if resp.StatusCode != http.StatusOK {
		return outcome{err: fmt.Errorf("HTTP %d: %s", resp.StatusCode, bytes.TrimSpace(raw))}
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

// radiusSender is one RADIUS client: its own socket, one request at a time.
type radiusSender struct {
	conn   net.Conn
	secret []byte
	id     byte
	buf    []byte
	// passwordPrefix, when set, makes the User-Password what a
	// password+otp client sends: prefix+user, a comma, the code.
	passwordPrefix string
}

func newRADIUSSender(addr string, secret []byte, passwordPrefix string) (*radiusSender, error) {
	conn, err := net.Dial("udp", addr)
	if err != nil {
		return nil, err
	}
	return &radiusSender{conn: conn, secret: secret, buf: make([]byte, radius.MaxPacketLength), passwordPrefix: passwordPrefix}, nil
}

func (r *radiusSender) send(user, code string) outcome {
	r.id++
	p := radius.New(radius.CodeAccessRequest, r.secret)
	p.Identifier = r.id
	if _, err := rand.Read(p.Authenticator[:]); err != nil {
		return outcome{err: err}
	}
	rfc2869.MessageAuthenticator_Add(p, make([]byte, 16))
	rfc2865.UserName_SetString(p, user)
	if r.passwordPrefix != "" {
		code = r.passwordPrefix + user + "," + code
	}
	rfc2865.UserPassword_SetString(p, code)
	raw, err := p.Encode()
	if err != nil {
		return outcome{err: err}
	}
	// RFC 3579 §3.2: the Message-Authenticator, first attribute here.
	m := hmac.New(md5.New, r.secret)
	m.Write(raw)
	copy(raw[22:38], m.Sum(nil))
	r.conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := r.conn.Write(raw); err != nil {
		return outcome{err: err}
	}
	for {
		n, err := r.conn.Read(r.buf)
		if err != nil {
			return outcome{err: fmt.Errorf("no answer: %w", err)}
		}
		resp := r.buf[:n]
		if n < 20 || resp[1] != r.id {
			continue // a late answer to an earlier request
		}
		if !radius.IsAuthenticResponse(resp, raw, r.secret) {
			return outcome{err: errors.New("answer with a bad Response Authenticator")}
		}
		ans, err := radius.Parse(resp, r.secret)
		if err != nil {
			return outcome{err: err}
		}
		switch ans.Code {
		case radius.CodeAccessAccept:
			return outcome{allow: true}
		case radius.CodeAccessReject:
			// The Reply-Message starts with the reason ("wrong code: ...").
			reason, _, _ := strings.Cut(rfc2865.ReplyMessage_GetString(ans), ":")
			return outcome{reason: reason}
		}
		return outcome{err: fmt.Errorf("answer code %v", ans.Code)}
	}
}
