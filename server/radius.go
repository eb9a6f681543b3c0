package server

// RADIUS Access-Request handling (RFC 2865), with the Blast-RADIUS
// hardening: a Message-Authenticator (RFC 3579 §3.2) is required on every
// request and sent first in every answer.

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/md5"
	"encoding/binary"
	"errors"
	"net/netip"
	"strings"
	"time"
	"unicode/utf8"

	"layeh.com/radius"

	"github.com/keydesk/keydesk/inventory"
	"github.com/keydesk/keydesk/verify"
)

// RADIUS packet codes and attribute types used here (RFC 2865 §4, §5;
// RFC 2869 §5).
const (
	codeAccessRequest = radius.CodeAccessRequest

	attrUserName     radius.Type = 1
	attrUserPassword radius.Type = 2
	attrCHAPPassword radius.Type = 3
	attrReplyMessage radius.Type = 18
	attrProxyState   radius.Type = 33
	attrEAPMessage   radius.Type = 79
	attrMessageAuth  radius.Type = 80
)

// Sizes: RFC 2865 §3 (header, packet), §5 (an attribute's value).
const (
	headerLen        = 20
	messageAuthLen   = 16
	maxRADIUSPacket  = radius.MaxPacketLength
	maxReplyMessage  = 253
	maxReplyMessages = 3
	maxUserName      = 253
)

// Why a datagram is dropped unanswered, as the metrics name it.
const (
	radiusTransport            = "radius"
	dropMalformed              = "malformed"
	dropNotAccessRequest       = "not_access_request"
	dropUnknownClient          = "unknown_client"
	dropNoMessageAuthenticator = "no_message_authenticator"
	dropBadAuthenticator       = "bad_authenticator"
	dropDuplicate              = "duplicate_in_flight"
	dropNoDecision             = "no_decision"
	dropBusy                   = "busy"
	dropRateLimited            = "rate_limited"
	dropAnswerTooLarge         = "answer_too_large"
	dropPanic                  = "panic"
)

// radiusRequest is an Access-Request that passed its checks.
type radiusRequest struct {
	raw    []byte // the packet, cut to its Length
	attrs  radius.Attributes
	client radiusClient
	src    netip.AddrPort
}

// handle decides on one datagram from src and returns the answer to send,
// or nil when the datagram is dropped; why names the drop. The socket
// loop does the same in two steps: authenticate as it reads, and process
// in a worker.
func (rs *radiusServer) handle(ctx context.Context, b []byte, src netip.AddrPort) (answer []byte, why string) {
	req, why := rs.authenticate(ctx, b, src)
	if why != "" {
		return nil, why
	}
	return rs.process(ctx, req, src, time.Now())
}

// process decides on an authentic request and returns the answer.
func (rs *radiusServer) process(ctx context.Context, req radiusRequest, src netip.AddrPort, start time.Time) (answer []byte, why string) {
	s := rs.s
	// RFC 5080 §2.2.2: a retransmission (same source, Identifier and
	// Request Authenticator) gets the answer already given. Deciding
	// again would deny the passcode as a replay.
	key := dupKey(src, req.raw)
	cached, fresh := rs.dups.begin(key)
	switch {
	case cached != nil:
		return cached, ""
	case !fresh:
		return nil, dropDuplicate
	}
	done := false
	defer func() {
		if !done {
			rs.dups.forget(key)
		}
	}()
	r, err := rs.decide(ctx, req, start)
	if err != nil {
		s.log.Error("no decision", "transport", radiusTransport, "client", req.client.name, "err", err)
		return nil, dropNoDecision
	}
	answer, err = encodeAnswer(req, r)
	if err != nil {
		s.log.Warn("radius answer too large to send; request dropped", "client", req.client.name, "err", err)
		return nil, dropAnswerTooLarge
	}
	rs.dups.finish(key, answer)
	done = true
	s.log.Debug("answer", "transport", radiusTransport, "client", req.client.name, "code", r.code, "took", time.Since(start))
	return answer, ""
}

// authenticate finds which client sent b and proves it: the source must be
// one a client allows, and the Message-Authenticator must verify under
// that client's secret. Anything else is dropped unanswered, so that a
// stranger learns nothing, not even that a server is here.
func (rs *radiusServer) authenticate(ctx context.Context, b []byte, src netip.AddrPort) (radiusRequest, string) {
	if len(b) < headerLen || len(b) > maxRADIUSPacket {
		return radiusRequest{}, dropMalformed
	}
	// RFC 2865 §3: octets past Length are padding, to be ignored; a
	// packet shorter than its Length is silently discarded.
	n := int(binary.BigEndian.Uint16(b[2:4]))
	if n < headerLen || n > len(b) {
		return radiusRequest{}, dropMalformed
	}
	b = b[:n]
	if radius.Code(b[0]) != codeAccessRequest {
		return radiusRequest{}, dropNotAccessRequest
	}
	attrs, err := radius.ParseAttributes(b[headerLen:])
	if err != nil {
		return radiusRequest{}, dropMalformed
	}
	at, count := messageAuthOffset(b)
	switch {
	case count == 0:
		return radiusRequest{}, dropNoMessageAuthenticator
	case count > 1 || at < 0:
		return radiusRequest{}, dropMalformed
	}
	clients, err := rs.s.radius.from(ctx, rs.s.deps.Callers, src.Addr())
	if err != nil {
		rs.s.log.Error("cannot read the RADIUS clients", "err", err)
		return radiusRequest{}, dropNoDecision
	}
	if len(clients) == 0 {
		return radiusRequest{}, dropUnknownClient
	}
	// RFC 3579 §3.2: HMAC-MD5 over the whole packet with the
	// Message-Authenticator's value taken as sixteen zero octets.
	zeroed := bytes.Clone(b)
	clear(zeroed[at : at+messageAuthLen])
	got := b[at : at+messageAuthLen]
	for _, c := range clients {
		m := hmac.New(md5.New, c.secret)
		m.Write(zeroed)
		if hmac.Equal(m.Sum(nil), got) {
			return radiusRequest{raw: b, attrs: attrs, client: c, src: src}, ""
		}
	}
	return radiusRequest{}, dropBadAuthenticator
}

// messageAuthOffset is where the value of the Message-Authenticator
// starts in packet b, and how many there are; -1 if the one there is not
// 16 octets. b's attributes are known to be well formed.
func messageAuthOffset(b []byte) (at, count int) {
	at = -1
	for i := headerLen; i+2 <= len(b); i += int(b[i+1]) {
		if radius.Type(b[i]) == attrMessageAuth {
			count++
			if int(b[i+1]) == 2+messageAuthLen {
				at = i + 2
			} else {
				at = -1
			}
		}
		if b[i+1] < 2 {
			break
		}
	}
	return at, count
}

var (
	errNoPassword = errors.New("the request has no User-Password; keydesk checks passcodes with PAP only")
	errNotPAP     = errors.New("keydesk checks passcodes with PAP (User-Password) only, not CHAP or EAP")
	errUserName   = errors.New("the request needs exactly one User-Name naming a user")
)

// credentials are the User-Name and the User-Password, decrypted (RFC
// 2865 §5.2), or why they cannot be had. What the password holds (the
// passcode, or a directory password with or without it) is the mode's to
// read.
func credentials(req radiusRequest) (user, password string, refusal error) {
	names := attrValues(req.attrs, attrUserName)
	if len(names) != 1 || len(names[0]) > maxUserName || inventory.CheckUserName(string(names[0])) != nil {
		return "", "", errUserName
	}
	pw := attrValues(req.attrs, attrUserPassword)
	switch {
	case len(pw) == 0 && (len(attrValues(req.attrs, attrCHAPPassword)) > 0 || len(attrValues(req.attrs, attrEAPMessage)) > 0):
		return "", "", errNotPAP
	case len(pw) != 1:
		return "", "", errNoPassword
	}
	plain, err := radius.UserPassword(pw[0], req.client.secret, req.raw[4:headerLen])
	if err != nil || len(plain) > maxUserPassword {
		return "", "", errors.New("the User-Password attribute is malformed (RFC 2865 §5.2)")
	}
	return string(names[0]), string(plain), nil
}

// maxUserPassword is the longest User-Password RFC 2865 §5.2 allows.
const maxUserPassword = 128

func attrValues(attrs radius.Attributes, t radius.Type) []radius.Attribute {
	var out []radius.Attribute
	for _, a := range attrs {
		if a.Type == t {
			out = append(out, a.Attribute)
		}
	}
	return out
}

// errAnswerTooLarge is an answer that cannot be made to fit a RADIUS
// packet even without its Reply-Message.
var errAnswerTooLarge = errors.New("the Proxy-State attributes to copy back leave no room for an answer within 4096 octets")

// encodeAnswer builds the answer to req: an Access-Accept,
// Access-Reject or Access-Challenge with the reply's message and
// attributes. The Message-Authenticator comes first (the Blast-RADIUS
// advice: a forger cannot then shape the attributes before it) and is
// computed with the request's authenticator in the header (RFC 3579
// §3.2); then the Response Authenticator covers it all (RFC 2865 §3).
// Proxy-State is copied back whole and in order, as RFC 2865 §5.33 asks;
// when that, the attributes and the message would pass the 4096 octets a
// packet may hold (§3), the message is shortened, then dropped, and if
// even that is not enough the answer is not made at all.
func encodeAnswer(req radiusRequest, r reply) ([]byte, error) {
	proxy := attrValues(req.attrs, attrProxyState)
	room := maxRADIUSPacket - headerLen - (2 + messageAuthLen)
	for _, ps := range proxy {
		room -= 2 + len(ps)
	}
	for _, a := range r.attrs {
		room -= 2 + len(a.Attribute)
	}
	if room < 0 {
		return nil, errAnswerTooLarge
	}
	p := &radius.Packet{Code: r.code, Identifier: req.raw[1], Secret: req.client.secret}
	copy(p.Authenticator[:], req.raw[4:headerLen])
	p.Add(attrMessageAuth, make(radius.Attribute, messageAuthLen))
	for _, part := range splitMessage(r.message) {
		if room < 2+len(part) {
			break
		}
		room -= 2 + len(part)
		p.Add(attrReplyMessage, radius.Attribute(part))
	}
	p.Attributes = append(p.Attributes, r.attrs...)
	for _, ps := range proxy {
		p.Add(attrProxyState, ps)
	}
	raw, err := p.MarshalBinary()
	if err != nil {
		return nil, err
	}
	m := hmac.New(md5.New, req.client.secret)
	m.Write(raw)
	copy(raw[headerLen+2:], m.Sum(nil))
	h := md5.New()
	h.Write(raw)
	h.Write(req.client.secret)
	copy(raw[4:headerLen], h.Sum(nil))
	return raw, nil
}

// splitMessage cuts a Reply-Message into attribute-sized parts at
// character boundaries, at most maxReplyMessages of them.
func splitMessage(msg string) []string {
	var parts []string
	for msg != "" && len(parts) < maxReplyMessages {
		n := min(len(msg), maxReplyMessage)
		for n < len(msg) && n > 0 && !utf8.RuneStart(msg[n]) {
			n--
		}
		parts = append(parts, msg[:n])
		msg = msg[n:]
	}
	return parts
}

// dupKey names a request for duplicate detection.
func dupKey(src netip.AddrPort, raw []byte) string {
	return src.String() + "\x00" + string(raw[1:2]) + string(raw[4:headerLen])
}

// RADIUS attributes that say where a request comes from (RFC 2865 §5.4,
// §5.31, §5.32).
const (
	attrNASIPAddress     radius.Type = 4
	attrCallingStationID radius.Type = 31
	attrNASIdentifier    radius.Type = 32
)

// origin is where an authentic request comes from, for the
// authentication log: the client, the NAS as it names itself, and the
// user's station.
func (req radiusRequest) origin() verify.Origin {
	o := verify.Origin{Transport: radiusTransport, App: req.client.name, Source: req.src.Addr().Unmap().String()}
	if v := attrValues(req.attrs, attrNASIdentifier); len(v) == 1 {
		o.NASIdentifier = printable(v[0])
	}
	if v := attrValues(req.attrs, attrNASIPAddress); len(v) == 1 && len(v[0]) == 4 {
		o.NASIP = netip.AddrFrom4([4]byte(v[0])).String()
	}
	if v := attrValues(req.attrs, attrCallingStationID); len(v) == 1 {
		o.CallingStation = printable(v[0])
	}
	return o
}

// printable is an attribute's text with what is not printable ASCII
// replaced: it comes from the network and goes to logs.
func printable(b []byte) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e {
			return '?'
		}
		return r
	}, string(b))
}
