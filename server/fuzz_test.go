package server

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"layeh.com/radius"
)

// checkDecode decodes data as a T and checks the decoder's promises: an
// error leaves nothing half-filled and is a 4xx in the error shape; a
// success validates, and survives encoding and decoding again.
func checkDecode[T any, P interface {
	*T
	request
}](t *testing.T, data []byte) {
	v, err := decodeJSON[T, P](bytes.NewReader(data))
	var zero T
	if err != nil {
		if !reflect.DeepEqual(v, zero) {
			t.Fatalf("error %v with a half-filled result %+v", err, v)
		}
		e := classify(err)
		if e.Status < 400 || e.Status > 499 || e.Code == "" || e.Message == "" {
			t.Fatalf("error %v answered %d %q", err, e.Status, e.Code)
		}
		return
	}
	if err := P(&v).Validate(); err != nil {
		t.Fatalf("decoded %+v does not validate: %v", v, err)
	}
	again, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	w, err := decodeJSON[T, P](bytes.NewReader(again))
	if err != nil || !reflect.DeepEqual(v, w) {
		t.Fatalf("%s decoded as %+v, re-encoded as %s, decoded again as %+v (%v)", data, v, again, w, err)
	}
}

func FuzzAuthBody(f *testing.F) {
	for _, s := range []string{
		`{"username":"alice","passcode":"287082"}`,
		`{"username":"alice","passcode":"ccccccbtnvfbdbjhntfukbrtekngleclclnhtrdrluhr"}`,
		`{"username":"bob","passcode":"123456789"}`,
		`{"username":"alice","passcode":"287082","extra":1}`,
		`{"username":"","passcode":""}`, `{"username":"a b","passcode":"1"}`, `[]`, `null`, `{"username":1}`,
		`{"username":"alice","passcode":"287082"} x`, "{\"username\":\"\u00e9\",\"passcode\":\"\\u0000\"}",
		`{"username":"carol","passcode":"1","username":"alice"}`, `{"USERNAME":"alice","passcode":"1"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkDecode[authRequest](t, data)
	})
}

// FuzzAdminBody decodes data as the body of one of the admin routes that
// take one, chosen by kind.
func FuzzAdminBody(f *testing.F) {
	seeds := []string{
		`{"name":"alice","full_name":"Alice Liddell","email":"alice@example.edu"}`,
		`{"user":"alice"}`,
		`{"code1":"755224","code2":"287082"}`,
		`{"uses":3,"ttl":"2h","count":5}`,
		`{"name":"vpn","radius_secret":"sixteen or more bytes","radius_sources":["192.0.2.0/24","2001:db8::1"]}`,
		`{"name":"hd","role":"help-desk"}`,
		`{"file_name":"delivery.csv","content":"SU1QLTEsMzEzMjMzMzQzNTM2MzczODM5MzAzMTMyMzMzNDM1MzYzNzM4MzkzMCxob3RwLDYsMAo=","psk":"000102030405060708090a0b0c0d0e0f","dry_run":true}`,
		`{"reason":"left on the 8:15 bus"}`,
	}
	for kind, s := range seeds {
		f.Add(byte(kind), []byte(s))
		f.Add(byte(kind), []byte(strings.Replace(s, `"`, `'`, 2)))
	}
	f.Add(byte(3), []byte(`{"ttl":"-1h"}`))
	f.Add(byte(4), []byte(`{"name":"vpn","radius_sources":["300.1.1.1"]}`))
	f.Fuzz(func(t *testing.T, kind byte, data []byte) {
		switch kind % 8 {
		case 0:
			checkDecode[addUserRequest](t, data)
		case 1:
			checkDecode[assignRequest](t, data)
		case 2:
			checkDecode[resyncRequest](t, data)
		case 3:
			checkDecode[bypassRequest](t, data)
		case 4:
			checkDecodeApp(t, data)
		case 5:
			checkDecodeAdmin(t, data)
		case 6:
			checkDecodeImport(t, data)
		case 7:
			checkDecode[reasonRequest](t, data)
		}
	})
}

// The application and admin requests keep what Validate derived in
// fields JSON does not carry, so they are compared on what it does.
func checkDecodeApp(t *testing.T, data []byte) {
	v, err := decodeJSON[addAppRequest](bytes.NewReader(data))
	if err != nil {
		if v.Name != "" || v.RADIUSSecret != "" || v.RADIUSSources != nil || v.app.Name != "" {
			t.Fatalf("error %v with a half-filled result %+v", err, v)
		}
		return
	}
	if v.app.Name != v.Name || (v.RADIUSSecret != "") != (v.app.RADIUSSecret != nil) || len(v.app.RADIUSSources) != len(v.RADIUSSources) {
		t.Fatalf("decoded %+v but derived %+v", v, v.app)
	}
}

func checkDecodeAdmin(t *testing.T, data []byte) {
	v, err := decodeJSON[addAdminRequest](bytes.NewReader(data))
	if err != nil {
		if v != (addAdminRequest{}) {
			t.Fatalf("error %v with a half-filled result %+v", err, v)
		}
		return
	}
	if v.role == "" {
		t.Fatalf("decoded %+v without a role", v)
	}
}

func checkDecodeImport(t *testing.T, data []byte) {
	v, err := decodeJSON[importRequest](bytes.NewReader(data))
	if err != nil {
		if v.FileName != "" || v.Content != "" || v.file != nil || v.psk != nil {
			t.Fatalf("error %v with a half-filled result", err)
		}
		return
	}
	if len(v.file) == 0 || (v.PSK != "" && len(v.psk) == 0) {
		t.Fatalf("decoded %q without its file or key", data)
	}
}

// FuzzRADIUSPacket feeds datagrams from loopback to the server's packet
// handling, the way the socket loop does. Whatever comes in, an answer is
// only ever an Access-Accept or Access-Reject that is authentic under the
// client's secret, with a Message-Authenticator that verifies.
func FuzzRADIUSPacket(f *testing.F) {
	fx := newFixture(f, Config{UserRate: -1})
	fx.addUser(f, "alice")
	rs := fx.radius(f)
	if raw, err := os.ReadFile(radclientSeed); err == nil {
		b, err := hex.DecodeString(strings.TrimSpace(string(raw)))
		if err != nil {
			f.Fatalf("%s: %v", radclientSeed, err)
		}
		f.Add(b)
	}
	for _, r := range []accessRequest{
		{user: "alice", password: "123456"},
		{user: "alice", password: "ccccccbtnvfbdbjhntfukbrtekngleclclnhtrdrluhr"},
		{user: "alice", noPass: true, extra: []*radius.AVP{{Type: attrCHAPPassword, Attribute: make([]byte, 17)}}},
		{user: "alice", password: "1", extra: []*radius.AVP{{Type: attrProxyState, Attribute: []byte("x")}}},
		{user: "alice", password: "1", noMA: true},
		{code: radius.CodeStatusServer, user: "alice", password: "1"},
	} {
		f.Add(r.encode(f))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		answer, why := rs.handle(context.Background(), data, loopback)
		if answer == nil {
			if why == "" {
				t.Fatal("dropped without a reason")
			}
			return
		}
		n := int(data[2])<<8 | int(data[3])
		p := checkAnswer(t, answer, data[:n], radiusSecret)
		if p.Code != radius.CodeAccessAccept && p.Code != radius.CodeAccessReject {
			t.Fatalf("answer code %v", p.Code)
		}
	})
}

func FuzzConfig(f *testing.F) {
	for _, s := range []string{
		`{"http":"127.0.0.1:8700","radius":"0.0.0.0:1812","user_rate":0.5,"user_burst":5,"cache_ttl":"2s"}`,
		`{"rp_id":"example.edu","portal":true,"portal_url":"https://keydesk.example.edu/portal/","origins":["https://login.example.edu"],"portal_session_idle":"15m","aaguid_deny":["2fc0579f-8113-47ea-b116-bb5a8db9202a"]}`,
		`{"tls_cert":"c.pem"}`, `{"read_timeout":"ten seconds"}`, `{"radius_workers":-1}`, `{}`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseConfig(bytes.NewReader(data))
		if err != nil {
			if !reflect.DeepEqual(c, Config{}) {
				t.Fatalf("error %v with a half-filled config", err)
			}
			return
		}
		c.Default()
		c.Validate()
	})
}

// FuzzRADIUSAnswer drives the answer path, which FuzzRADIUSPacket rarely
// reaches as it cannot forge a Message-Authenticator: the fuzzer picks
// the attributes after the Message-Authenticator (raw type-length-value
// octets, well formed or not), and the request is signed under the
// client's secret. Every answer fits a packet, is authentic, and carries
// the request's Proxy-States back in order.
func FuzzRADIUSAnswer(f *testing.F) {
	fx := newFixture(f, Config{UserRate: -1, ClientRate: -1})
	fx.addUser(f, "alice")
	rs := fx.radius(f)
	userPass := func(user, pass string) []byte {
		r := accessRequest{user: user, password: pass, noMA: true}.encode(f)
		return r[headerLen:]
	}
	f.Add(userPass("alice", "123456"))
	f.Add(append(userPass("alice", "000000"), byte(attrProxyState), 5, 'a', 'b', 'c'))
	f.Add(append(userPass("alice", "1"), bytes.Repeat([]byte{byte(attrProxyState), 255}, 3)...))
	big := proxyStates(f, accessRequest{user: "alice", password: "000000"}).encode(f)
	f.Add(big[headerLen+2+messageAuthLen:])
	f.Add([]byte{byte(attrUserName), 7, 'a', 'l', 'i', 'c', 'e'})
	f.Fuzz(func(t *testing.T, attrs []byte) {
		if len(attrs) > maxRADIUSPacket-headerLen-2-messageAuthLen {
			return
		}
		raw := make([]byte, headerLen, maxRADIUSPacket)
		raw[0], raw[1] = byte(radius.CodeAccessRequest), 7
		copy(raw[4:], "sixteen octets!!")
		raw = append(raw, byte(attrMessageAuth), 2+messageAuthLen)
		raw = append(raw, make([]byte, messageAuthLen)...)
		raw = append(raw, attrs...)
		binary.BigEndian.PutUint16(raw[2:], uint16(len(raw)))
		m := hmac.New(md5.New, []byte(radiusSecret))
		m.Write(raw)
		copy(raw[headerLen+2:], m.Sum(nil))
		rs.dups = newDupCache(time.Minute, fx.clock.Now) // each input decided afresh
		answer, why := rs.handle(context.Background(), raw, loopback)
		if answer == nil {
			if why == "" {
				t.Fatal("dropped without a reason")
			}
			return
		}
		if len(answer) > maxRADIUSPacket {
			t.Fatalf("answer of %d octets", len(answer))
		}
		p := checkAnswer(t, answer, raw, radiusSecret)
		if p.Code != radius.CodeAccessAccept && p.Code != radius.CodeAccessReject {
			t.Fatalf("answer code %v", p.Code)
		}
		req, err := radius.ParseAttributes(raw[headerLen:])
		if err != nil {
			t.Fatalf("answered a request whose attributes do not parse: %v", err)
		}
		var want, got [][]byte
		for _, a := range req {
			if a.Type == attrProxyState {
				want = append(want, a.Attribute)
			}
		}
		for _, a := range p.Attributes {
			if a.Type == attrProxyState {
				got = append(got, a.Attribute)
			}
		}
		if !reflect.DeepEqual(want, got) {
			t.Fatalf("Proxy-States %q came back as %q", want, got)
		}
	})
}

// FuzzWebAuthnBody decodes data as the body of a WebAuthn route, chosen
// by kind: a user name (preauth, begin), a login's finish, a
// registration's finish. A finish's credential is read as well, and a
// decoded one holds what a key's answer needs.
func FuzzWebAuthnBody(f *testing.F) {
	login := `{"transaction":"3q2-7w","credential":{"id":"AQID","rawId":"AQID","type":"public-key","authenticatorAttachment":"cross-platform",` +
		`"response":{"clientDataJSON":"eyJ0eXBlIjoid2ViYXV0aG4uZ2V0In0","authenticatorData":"SZYN5YgO","signature":"MEUCIQ","userHandle":null},` +
		`"clientExtensionResults":{"appid":true}}}`
	register := `{"transaction":"3q2-7w","name":"blue key","credential":{"id":"AQID","rawId":"AQID","type":"public-key",` +
		`"response":{"clientDataJSON":"eyJ0eXBlIjoid2ViYXV0aG4uY3JlYXRlIn0","attestationObject":"o2NmbXRkbm9uZQ","transports":["usb","nfc","carrier-pigeon"]},` +
		`"clientExtensionResults":{}}}`
	for _, s := range []string{`{"username":"alice"}`, login, register} {
		for kind := byte(0); kind < 3; kind++ {
			f.Add(kind, []byte(s))
		}
	}
	f.Add(byte(1), []byte(strings.Replace(login, `"rawId":"AQID"`, `"rawId":"AQIE"`, 1)))
	f.Add(byte(1), []byte(strings.Replace(login, `"public-key"`, `"password"`, 1)))
	f.Add(byte(2), []byte(strings.Replace(register, `"o2NmbXRkbm9uZQ"`, `"o2NmbXRkbm9uZQ=="`, 1)))
	f.Add(byte(1), []byte(`{"transaction":"","credential":null}`))
	f.Fuzz(func(t *testing.T, kind byte, data []byte) {
		switch kind % 3 {
		case 0:
			checkDecode[usernameRequest](t, data)
		case 1:
			v, err := decodeJSON[loginFinishRequest](bytes.NewReader(data))
			if err != nil {
				if v.Transaction != "" || v.Credential != nil || v.answer.CredentialID != nil {
					t.Fatalf("error %v with a half-filled result %+v", err, v)
				}
				return
			}
			if len(v.answer.CredentialID) == 0 || len(v.answer.ClientDataJSON) == 0 || len(v.answer.AuthenticatorData) == 0 || len(v.answer.Signature) == 0 {
				t.Fatalf("decoded %q without a whole answer: %+v", data, v.answer)
			}
		case 2:
			v, err := decodeJSON[registerFinishRequest](bytes.NewReader(data))
			if err != nil {
				if v.Transaction != "" || v.Credential != nil || v.Name != "" || v.attestation.CredentialID != nil {
					t.Fatalf("error %v with a half-filled result %+v", err, v)
				}
				return
			}
			if len(v.attestation.CredentialID) == 0 || len(v.attestation.AttestationObject) == 0 {
				t.Fatalf("decoded %q without a whole attestation: %+v", data, v.attestation)
			}
			for _, tr := range v.attestation.Transports {
				if tr == "carrier-pigeon" {
					t.Fatalf("kept an unknown transport")
				}
			}
		}
	})
}
