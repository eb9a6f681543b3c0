package server

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/md5"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/keydesk/keydesk/inventory"
	"layeh.com/radius"
	"layeh.com/radius/rfc2865"
)

var loopback = netip.MustParseAddrPort("127.0.0.1:40000")

// accessRequest builds an Access-Request; with ma it carries a
// Message-Authenticator computed under secret (RFC 3579 §3.2), first.
type accessRequest struct {
	code      radius.Code
	id        byte
	secret    string
	user      string
	password  string
	noMA      bool
	badMA     bool
	extra     []*radius.AVP
	noUser    bool
	noPass    bool
	authFirst byte
}

func (r accessRequest) encode(t testing.TB) []byte {
	t.Helper()
	if r.code == 0 {
		r.code = radius.CodeAccessRequest
	}
	if r.secret == "" {
		r.secret = radiusSecret
	}
	p := &radius.Packet{Code: r.code, Identifier: r.id, Secret: []byte(r.secret)}
	p.Authenticator = [16]byte{r.authFirst, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, r.id}
	if !r.noMA {
		p.Add(attrMessageAuth, make([]byte, 16))
	}
	if !r.noUser {
		rfc2865.UserName_SetString(p, r.user)
	}
	if !r.noPass {
		if err := rfc2865.UserPassword_SetString(p, r.password); err != nil {
			t.Fatal(err)
		}
	}
	p.Attributes = append(p.Attributes, r.extra...)
	raw, err := p.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if !r.noMA {
		m := hmac.New(md5.New, []byte(r.secret))
		m.Write(raw)
		copy(raw[22:38], m.Sum(nil))
		if r.badMA {
			raw[30] ^= 1
		}
	}
	return raw
}

// checkAnswer checks an answer's Response Authenticator (RFC 2865 §3) and
// Message-Authenticator (RFC 3579 §3.2), and returns it parsed.
func checkAnswer(t testing.TB, answer, req []byte, secret string) *radius.Packet {
	t.Helper()
	if !radius.IsAuthenticResponse(answer, req, []byte(secret)) {
		t.Fatal("the answer's Response Authenticator is wrong")
	}
	p, err := radius.Parse(answer, []byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Attributes) == 0 || p.Attributes[0].Type != attrMessageAuth || len(p.Attributes[0].Attribute) != 16 {
		t.Fatal("the answer's first attribute is not a Message-Authenticator")
	}
	check := bytes.Clone(answer)
	copy(check[4:20], req[4:20])
	clear(check[22:38])
	m := hmac.New(md5.New, []byte(secret))
	m.Write(check)
	if !hmac.Equal(m.Sum(nil), answer[22:38]) {
		t.Fatal("the answer's Message-Authenticator does not verify")
	}
	return p
}

func (fx *fixture) radius(t testing.TB) *radiusServer {
	return fx.srv.newRADIUSServer(nil)
}

func TestRADIUSDecides(t *testing.T) {
	fx := newFixture(t, Config{})
	fx.addUser(t, "alice")
	rs := fx.radius(t)
	code := fx.code("alice")
	for i, c := range []struct {
		name     string
		req      accessRequest
		accept   bool
		contains string
	}{
		{"right code", accessRequest{user: "alice", password: code}, true, "code accepted from fob LT-alice"},
		{"same code again", accessRequest{user: "alice", password: code}, false, "code already used"},
		{"wrong code", accessRequest{user: "alice", password: "000000"}, false, "wrong code"},
		{"unknown user", accessRequest{user: "mallory", password: code}, false, "unknown user"},
		{"no password", accessRequest{user: "alice", noPass: true}, false, "PAP only"},
		{"CHAP", accessRequest{user: "alice", noPass: true, extra: []*radius.AVP{{Type: attrCHAPPassword, Attribute: make([]byte, 17)}}}, false, "not CHAP or EAP"},
		{"no user", accessRequest{noUser: true, password: code}, false, "exactly one User-Name"},
		{"two users", accessRequest{user: "alice", password: code, extra: []*radius.AVP{{Type: attrUserName, Attribute: []byte("bob")}}}, false, "exactly one User-Name"},
		{"a tab in the passcode", accessRequest{user: "alice", password: "12\t345"}, false, "neither printable ASCII nor a space"},
		{"a right code read out with a space", accessRequest{user: "alice", password: code[:3] + " " + code[3:]}, false, "code already used"},
	} {
		c.req.id = byte(i)
		raw := c.req.encode(t)
		answer, why := rs.handle(context.Background(), raw, loopback)
		if why != "" {
			t.Errorf("%s: dropped (%s)", c.name, why)
			continue
		}
		p := checkAnswer(t, answer, raw, radiusSecret)
		wantCode := radius.CodeAccessReject
		if c.accept {
			wantCode = radius.CodeAccessAccept
		}
		msg := rfc2865.ReplyMessage_GetString(p)
		if p.Code != wantCode || p.Identifier != byte(i) || !strings.Contains(msg, c.contains) {
			t.Errorf("%s: %v %q; want %v containing %q", c.name, p.Code, msg, wantCode, c.contains)
		}
	}
}

// Each of these is dropped without an answer: a stranger learns nothing.
func TestRADIUSDrops(t *testing.T) {
	fx := newFixture(t, Config{})
	fx.addUser(t, "alice")
	rs := fx.radius(t)
	good := accessRequest{user: "alice", password: "123456"}.encode(t)
	short := bytes.Clone(good)
	short[3]++ // Length one past the datagram
	for _, c := range []struct {
		name string
		raw  []byte
		from netip.AddrPort
		why  string
	}{
		{"no Message-Authenticator", accessRequest{user: "alice", password: "123456", noMA: true}.encode(t), loopback, dropNoMessageAuthenticator},
		{"wrong Message-Authenticator", accessRequest{user: "alice", password: "123456", badMA: true}.encode(t), loopback, dropBadAuthenticator},
		{"wrong secret", accessRequest{user: "alice", password: "123456", secret: "another secret of enough length"}.encode(t), loopback, dropBadAuthenticator},
		{"unknown source", good, netip.MustParseAddrPort("192.0.2.1:1812"), dropUnknownClient},
		{"accounting", accessRequest{code: radius.CodeAccountingRequest, user: "alice", password: "1"}.encode(t), loopback, dropNotAccessRequest},
		{"two Message-Authenticators", accessRequest{user: "alice", password: "1", extra: []*radius.AVP{{Type: attrMessageAuth, Attribute: make([]byte, 16)}}}.encode(t), loopback, dropMalformed},
		{"short Message-Authenticator", accessRequest{user: "alice", password: "1", noMA: true, extra: []*radius.AVP{{Type: attrMessageAuth, Attribute: make([]byte, 4)}}}.encode(t), loopback, dropMalformed},
		{"too short", good[:19], loopback, dropMalformed},
		{"Length past the end", short, loopback, dropMalformed},
		{"bad attribute", append(bytes.Clone(good[:20]), 1, 1), loopback, dropMalformed},
	} {
		if c.name == "bad attribute" {
			c.raw[3] = 22
		}
		answer, why := rs.handle(context.Background(), c.raw, c.from)
		if answer != nil || why != c.why {
			t.Errorf("%s: answer %x, why %q; want dropped as %q", c.name, answer, why, c.why)
		}
	}
}

// A retransmission gets the answer already given, byte for byte, not a
// second decision (which would deny the code as replayed).
func TestRADIUSRetransmission(t *testing.T) {
	fx := newFixture(t, Config{RADIUSDuplicateTTL: Duration(10 * time.Second)})
	fx.addUser(t, "alice")
	rs := fx.radius(t)
	raw := accessRequest{id: 7, user: "alice", password: fx.code("alice")}.encode(t)
	first, why := rs.handle(context.Background(), raw, loopback)
	if why != "" {
		t.Fatal(why)
	}
	if p := checkAnswer(t, first, raw, radiusSecret); p.Code != radius.CodeAccessAccept {
		t.Fatalf("first answer %v", p.Code)
	}
	again, _ := rs.handle(context.Background(), raw, loopback)
	if !bytes.Equal(first, again) {
		t.Error("the retransmission got another answer")
	}
	// From another port it is another request, and the code is spent.
	other, _ := rs.handle(context.Background(), raw, netip.MustParseAddrPort("127.0.0.1:40001"))
	if p := checkAnswer(t, other, raw, radiusSecret); p.Code != radius.CodeAccessReject {
		t.Errorf("the same packet from another port: %v, want a reject (replay)", p.Code)
	}
	// Long after, the answer is forgotten and the request is decided
	// again.
	fx.clock.Advance(25 * time.Second)
	rs.dups.begin("rotate")
	fx.clock.Advance(25 * time.Second)
	late, _ := rs.handle(context.Background(), raw, loopback)
	if p := checkAnswer(t, late, raw, radiusSecret); p.Code != radius.CodeAccessReject {
		t.Errorf("after the duplicate window: %v, want a reject", p.Code)
	}
}

func TestRADIUSCopiesProxyState(t *testing.T) {
	fx := newFixture(t, Config{})
	rs := fx.radius(t)
	raw := accessRequest{user: "alice", password: "123456", extra: []*radius.AVP{
		{Type: attrProxyState, Attribute: []byte("hop1")}, {Type: attrProxyState, Attribute: []byte("hop2")}}}.encode(t)
	answer, _ := rs.handle(context.Background(), raw, loopback)
	p := checkAnswer(t, answer, raw, radiusSecret)
	var got []string
	for _, a := range attrValues(p.Attributes, attrProxyState) {
		got = append(got, string(a))
	}
	if strings.Join(got, ",") != "hop1,hop2" {
		t.Errorf("Proxy-State in the answer: %v", got)
	}
}

func TestSplitMessage(t *testing.T) {
	long := strings.Repeat("é", 300) // 600 bytes
	parts := splitMessage(long)
	if len(parts) != 3 || strings.Join(parts, "") != long {
		t.Fatalf("split into %d parts", len(parts))
	}
	for _, p := range parts {
		if len(p) > maxReplyMessage || !strings.HasPrefix(p, "é") {
			t.Errorf("part of %d bytes starts %q", len(p), p[:2])
		}
	}
	if got := splitMessage(strings.Repeat("x", 2000)); len(got) != maxReplyMessages {
		t.Errorf("%d parts", len(got))
	}
}

func TestRADIUSApplicationAddedThroughAPI(t *testing.T) {
	fx := newFixture(t, Config{})
	fx.addUser(t, "alice")
	rs := fx.radius(t)
	secret := "a new secret for the new client"
	from := netip.MustParseAddrPort("198.51.100.7:5000")
	raw := accessRequest{user: "alice", password: "000000", secret: secret}.encode(t)
	if _, why := rs.handle(context.Background(), raw, from); why != dropUnknownClient {
		t.Fatalf("before: %q", why)
	}
	status, m := fx.do(t, "POST", "/v1/admin/applications", fx.tokens["admin"], map[string]any{
		"name": "switch", "radius_secret": secret, "radius_sources": []string{"198.51.100.0/24"}})
	if status != 201 {
		t.Fatalf("%d %v", status, m)
	}
	answer, why := rs.handle(context.Background(), raw, from)
	if why != "" {
		t.Fatalf("after: dropped %q", why)
	}
	checkAnswer(t, answer, raw, secret)
}

func TestRADIUSUserRateLimit(t *testing.T) {
	fx := newFixture(t, Config{UserRate: 0.5, UserBurst: 2})
	fx.addUser(t, "alice")
	rs := fx.radius(t)
	var msgs []string
	for i := range 3 {
		raw := accessRequest{id: byte(i), user: "alice", password: "000000"}.encode(t)
		answer, why := rs.handle(context.Background(), raw, loopback)
		if why != "" {
			t.Fatalf("request %d dropped: %s", i, why)
		}
		msgs = append(msgs, rfc2865.ReplyMessage_GetString(checkAnswer(t, answer, raw, radiusSecret)))
	}
	if !strings.HasPrefix(msgs[0], "wrong code") || !strings.HasPrefix(msgs[1], "wrong code") || msgs[2] != "too many attempts for user alice; try again later" {
		t.Errorf("answers %q", msgs)
	}
}

// signRequest fills in the Message-Authenticator of raw, which holds one
// (zeroed) as its first attribute, under secret (RFC 3579 §3.2).
func signRequest(raw []byte, secret string) {
	at, _ := messageAuthOffset(raw)
	clear(raw[at : at+messageAuthLen])
	m := hmac.New(md5.New, []byte(secret))
	m.Write(raw)
	copy(raw[at:], m.Sum(nil))
}

// An application added through the API may be given its RADIUS mode and
// detailed reasons, as keydesk app add can; a mode without a secret, or
// one keydesk does not know, is refused.
func TestAddApplicationModeAndReasons(t *testing.T) {
	fx := newFixture(t, Config{})
	status, m := fx.do(t, "POST", "/v1/admin/applications", fx.tokens["admin"], map[string]any{
		"name": "vpn2", "radius_secret": "a new secret for the new client", "radius_sources": []string{"198.51.100.0/24"},
		"radius_mode": "password+otp", "detailed_reasons": true})
	app, _ := m["application"].(map[string]any)
	if status != 201 || app["radius_mode"] != "password+otp" || app["detailed_reasons"] != true {
		t.Fatalf("%d %v", status, m)
	}
	apps, err := fx.store.Applications(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range apps {
		if a.Name == "vpn2" && (a.RADIUSMode != inventory.ModePasswordOTP || !a.DetailedReasons) {
			t.Errorf("stored: %+v", a)
		}
	}
	for _, body := range []map[string]any{
		{"name": "web2", "radius_mode": "challenge"},
		{"name": "vpn3", "radius_secret": "a new secret for the new client", "radius_sources": []string{"198.51.100.0/24"}, "radius_mode": "pap"},
	} {
		if status, m := fx.do(t, "POST", "/v1/admin/applications", fx.tokens["admin"], body); status != 422 || !strings.Contains(fmt.Sprint(m), "radius_mode") {
			t.Errorf("%v: %d %v", body, status, m)
		}
	}
}
