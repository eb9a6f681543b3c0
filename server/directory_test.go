package server

import (
	"context"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"

	"github.com/keydesk/keydesk/directory"
	"github.com/keydesk/keydesk/internal/slapd"
	"github.com/keydesk/keydesk/inventory"
)

const (
	pwSecret  = "secret of the password+otp concentrator"
	chSecret  = "secret of the challenge concentrator"
	ch2Secret = "secret of another challenge concentrator"
	staffDN   = "cn=staff,ou=groups," + slapd.Suffix
	vpnDN     = "cn=vpn-users,ou=groups," + slapd.Suffix
)

// ldapFixture is a server in front of a real slapd holding the directory
// package's test tree (alice, bob, carol in the nested group staff; dave
// locked), with three RADIUS clients from loopback: vpn (otp), vpn-pw
// (password+otp) and vpn-ch (challenge).
func ldapFixture(t *testing.T, failMode directory.FailMode) (*fixture, *slapd.Server, *live) {
	t.Helper()
	ldif, err := os.ReadFile("../directory/testdata/openldap.ldif")
	if err != nil {
		t.Fatal(err)
	}
	ldap := slapd.Start(t, slapd.Options{LDIF: string(ldif)})
	pw := filepath.Join(t.TempDir(), "bind.pw")
	os.WriteFile(pw, []byte("service-secret\n"), 0o600)
	dc := &directory.Config{Kind: directory.OpenLDAP, URL: ldap.URL, BindDN: "cn=keydesk,ou=services," + slapd.Suffix,
		BindPasswordFile: pw, BaseDN: slapd.Suffix, ScopeGroup: vpnDN, FailMode: failMode, Timeout: directory.Duration{Duration: 2 * time.Second}}
	fx := newFixture(t, Config{UserRate: -1, Directory: dc, GroupAttributes: []GroupAttribute{
		{Group: staffDN, FilterID: "staff-acl"}, {Group: vpnDN, Class: "vpn-users"}}})
	for _, u := range []string{"alice", "carol", "dave"} {
		fx.addUser(t, u)
	}
	for name, mode := range map[string]inventory.RADIUSMode{"vpn-pw": inventory.ModePasswordOTP, "vpn-ch": inventory.ModeChallenge, "vpn-ch2": inventory.ModeChallenge} {
		secret := map[string]string{"vpn-pw": pwSecret, "vpn-ch": chSecret, "vpn-ch2": ch2Secret}[name]
		if _, _, err := fx.desk.AddApplication(context.Background(), inventory.NewApplication{Name: name, RADIUSSecret: []byte(secret),
			RADIUSSources: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, RADIUSMode: mode}); err != nil {
			t.Fatal(err)
		}
	}
	return fx, ldap, fx.serve(t, true)
}

func needRadclient(t *testing.T) {
	if _, err := exec.LookPath("radclient"); err != nil {
		t.Skip("radclient is not installed (Debian package freeradius-utils; make deps installs it)")
	}
}

// password+otp through FreeRADIUS's radclient: the password is checked by
// a bind as the user, then the passcode; a wrong password and a wrong
// code give the same Reject, and a wrong password spends no code.
func TestPasswordAndCode(t *testing.T) {
	needRadclient(t)
	fx, _, lv := ldapFixture(t, directory.FailSecure)
	addr := lv.radius.String()
	send := func(user, password string) (string, bool) {
		return radclient(t, addr, pwSecret, "User-Name = "+user+", User-Password = \""+password+"\", Message-Authenticator = 0x00\n")
	}
	code := fx.code("alice")
	out, ok := send("alice", "wrong-pw,"+code)
	if ok || !strings.Contains(out, `Reply-Message = "wrong password or passcode"`) {
		t.Fatalf("wrong password, right code:\n%s", out)
	}
	out, ok = send("alice", "alice-pw,000000")
	if ok || !strings.Contains(out, `Reply-Message = "wrong password or passcode"`) {
		t.Fatalf("right password, wrong code:\n%s", out)
	}
	// The code sent with the wrong password was not spent.
	out, ok = send("alice", "alice-pw,"+code)
	if !ok || !strings.Contains(out, `Class = 0x7670`) {
		t.Fatalf("right password and code:\n%s", out)
	}
	// Only the wrong code counted toward the lockout.
	if u, _ := fx.store.User(context.Background(), "alice"); u.FailCount != 0 {
		t.Errorf("%d failures counted; the accept should have cleared the one wrong code", u.FailCount)
	}
	entries, _ := fx.store.AuthLog(context.Background(), inventory.AuthFilter{User: "alice"})
	if len(entries) != 3 || entries[2].ReasonCode != "wrong_password" || entries[1].ReasonCode != "wrong_code" || entries[0].Result != "allow" {
		t.Errorf("the authentication log: %+v", entries)
	}
	// Appended with no delimiter, as Duo's append mode: the user's fob
	// shows 6 digits, so the last 6 are the code.
	fx.clock.Advance(30 * time.Second)
	if out, ok := send("alice", "alice-pw"+fx.code("alice")); !ok {
		t.Errorf("code appended to the password:\n%s", out)
	}
	// carol is in staff, inside vpn-users: both groups' attributes.
	fx.clock.Advance(30 * time.Second)
	out, ok = send("carol", "carol-pw,"+fx.code("carol"))
	if !ok || !strings.Contains(out, `Filter-Id = "staff-acl"`) || !strings.Contains(out, `Class = 0x76706e2d7573657273`) {
		t.Errorf("carol:\n%s", out)
	}
	// dave's account is locked in the directory.
	if out, ok := send("dave", "dave-pw,"+fx.code("dave")); ok {
		t.Errorf("dave, locked in the directory:\n%s", out)
	}
}

// exchange2 sends an Access-Request through layeh's client, which keeps
// the State that radclient cannot carry from one request to the next.
func exchange2(t *testing.T, addr *net.UDPAddr, secret, user, password string, state []byte) *radius.Packet {
	t.Helper()
	p := radius.New(radius.CodeAccessRequest, []byte(secret))
	p.Add(attrMessageAuth, make([]byte, 16))
	rfc2865.UserName_SetString(p, user)
	rfc2865.UserPassword_SetString(p, password)
	if state != nil {
		rfc2865.State_Set(p, state)
	}
	raw, err := p.Encode()
	if err != nil {
		t.Fatal(err)
	}
	signRequest(raw, secret)
	conn, err := net.DialUDP("udp", nil, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	answer, err := exchange(conn, raw)
	if err != nil {
		t.Fatal(err)
	}
	return checkAnswer(t, answer, raw, secret)
}

// Challenge mode: the password, an Access-Challenge with a State, then
// the passcode with that State, once, within a minute, from the same
// client, for the same user.
func TestChallenge(t *testing.T) {
	fx, _, lv := ldapFixture(t, directory.FailSecure)
	first := exchange2(t, lv.radius, chSecret, "alice", "alice-pw", nil)
	state := rfc2865.State_Get(first)
	if first.Code != radius.CodeAccessChallenge || len(state) < 16 || rfc2865.ReplyMessage_GetString(first) == "" {
		t.Fatalf("first leg: %v, State of %d bytes", first.Code, len(state))
	}
	if p := exchange2(t, lv.radius, chSecret, "alice", "wrong-pw", nil); p.Code != radius.CodeAccessReject {
		t.Errorf("a wrong password got %v", p.Code)
	}
	if p := exchange2(t, lv.radius, chSecret, "alice", fx.code("alice"), state); p.Code != radius.CodeAccessAccept {
		t.Fatalf("second leg: %v %q", p.Code, rfc2865.ReplyMessage_GetString(p))
	}
	fx.clock.Advance(30 * time.Second)
	if p := exchange2(t, lv.radius, chSecret, "alice", fx.code("alice"), state); p.Code != radius.CodeAccessReject {
		t.Errorf("the same State again: %v", p.Code)
	}
	// Expired.
	state = rfc2865.State_Get(exchange2(t, lv.radius, chSecret, "alice", "alice-pw", nil))
	fx.clock.Advance(61 * time.Second)
	if p := exchange2(t, lv.radius, chSecret, "alice", fx.code("alice"), state); p.Code != radius.CodeAccessReject {
		t.Errorf("an expired State: %v", p.Code)
	}
	// Handed to one NAS, sent by another.
	state = rfc2865.State_Get(exchange2(t, lv.radius, chSecret, "alice", "alice-pw", nil))
	if p := exchange2(t, lv.radius, ch2Secret, "alice", fx.code("alice"), state); p.Code != radius.CodeAccessReject {
		t.Errorf("vpn-ch's State sent by vpn-ch2: %v", p.Code)
	}
	// For another user.
	state = rfc2865.State_Get(exchange2(t, lv.radius, chSecret, "carol", "carol-pw", nil))
	if p := exchange2(t, lv.radius, chSecret, "alice", fx.code("alice"), state); p.Code != radius.CodeAccessReject {
		t.Errorf("carol's State used for alice: %v", p.Code)
	}
	// A State that was never handed out.
	if p := exchange2(t, lv.radius, chSecret, "alice", fx.code("alice"), make([]byte, stateLen)); p.Code != radius.CodeAccessReject {
		t.Errorf("a made-up State: %v", p.Code)
	}
}

// The directory down: fail mode secure rejects, within the directory's
// timeout; safe lets the passcode alone decide, and says so in the audit
// log.
func TestDirectoryDown(t *testing.T) {
	for _, mode := range []directory.FailMode{directory.FailSecure, directory.FailSafe} {
		t.Run(string(mode), func(t *testing.T) {
			fx, ldap, lv := ldapFixture(t, mode)
			ldap.Stop(t)
			p := exchange2(t, lv.radius, pwSecret, "alice", "alice-pw,"+fx.code("alice"), nil)
			switch mode {
			case directory.FailSecure:
				if p.Code != radius.CodeAccessReject {
					t.Errorf("secure: %v", p.Code)
				}
				entries, _ := fx.store.AuthLog(context.Background(), inventory.AuthFilter{User: "alice"})
				if len(entries) != 1 || entries[0].ReasonCode != "directory_unavailable" {
					t.Errorf("secure: the authentication log %+v", entries)
				}
			case directory.FailSafe:
				if p.Code != radius.CodeAccessAccept {
					t.Errorf("safe: %v", p.Code)
				}
				if n := fx.auditCount(t, "directory unavailable"); n != 1 {
					t.Errorf("safe: %d audit entries for the directory being down", n)
				}
			}
		})
	}
}
