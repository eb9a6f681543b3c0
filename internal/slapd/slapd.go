// Package slapd starts a real OpenLDAP slapd for tests: its own config and
// database in a temporary directory, its own loopback port, stopped when the
// test ends. It is independent of any system slapd the Debian package may
// have started: it reads no file under /etc/ldap but the stock schemas.
//
// Tests change the directory through the stock tools (ldapadd, ldapmodify,
// ldapmodrdn) as an administrator would.
package slapd

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"text/template"
	"time"
)

// Suffix is the naming context every test directory holds.
const Suffix = "dc=example,dc=edu"

const (
	binary     = "/usr/sbin/slapd"
	slaptest   = "/usr/sbin/slaptest"
	apparmor   = "/etc/apparmor.d/usr.sbin.slapd"
	schemaDir  = "/etc/ldap/schema"
	moduleDir  = "/usr/lib/ldap"
	installMsg = "slapd not installed: apt-get install slapd ldap-utils"
)

//go:embed ad.schema
var adSchema []byte

// Options say what kind of directory to start.
type Options struct {
	// LDIF is added over LDAP once slapd answers, so the overlays
	// (memberof, refint) see the entries as they would in production.
	LDIF string
	// AD loads a small schema with Active Directory's names
	// (sAMAccountName, userAccountControl, binary objectGUID, class
	// user and group) so tests can play a domain controller.
	AD bool
	// Dynlist computes memberOf with the dynlist overlay, nested groups
	// included (OpenLDAP 2.5+), instead of the memberof overlay, which
	// stores the direct groups only.
	Dynlist bool
	// TLS makes a CA and a certificate for 127.0.0.1, offers StartTLS on
	// URL and opens an ldaps:// listener at LDAPSURL.
	TLS bool
}

// Server is a running slapd.
type Server struct {
	URL           string // ldap://127.0.0.1:PORT
	LDAPSURL      string // ldaps://127.0.0.1:PORT when Options.TLS
	CAFile        string // PEM of the CA that signed the server's certificate
	AdminDN       string
	AdminPassword string

	dir     string
	pwFile  string
	cmd     *exec.Cmd
	exited  chan struct{}
	stderr  *bytes.Buffer
	stopped bool
}

// Start starts slapd and loads opts.LDIF. It skips the test when slapd or
// the LDAP tools are missing, and stops slapd in t.Cleanup.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	for _, tool := range []string{binary, slaptest, "ldapadd", "ldapmodify", "ldapmodrdn"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skip(installMsg)
		}
	}
	s := &Server{
		dir:           t.TempDir(),
		AdminDN:       "cn=admin," + Suffix,
		AdminPassword: "admin-secret",
	}
	s.pwFile = filepath.Join(s.dir, "admin.pw")
	must(t, os.WriteFile(s.pwFile, []byte(s.AdminPassword), 0o600))
	must(t, os.Mkdir(filepath.Join(s.dir, "db"), 0o700))
	if opts.AD {
		must(t, os.WriteFile(filepath.Join(s.dir, "ad.schema"), adSchema, 0o644))
	}
	if opts.TLS {
		s.CAFile = writeCertificates(t, s.dir)
	}
	conf := filepath.Join(s.dir, "slapd.conf")
	must(t, os.WriteFile(conf, s.config(t, opts), 0o600))
	if out, err := exec.Command(slaptest, "-u", "-f", conf).CombinedOutput(); err != nil {
		t.Fatalf("slapd: the test config is refused: %v\n%s", err, out)
	}

	// A port taken between our probe and slapd's bind makes slapd exit at
	// once; a fresh port is tried then.
	var err error
	for range 3 {
		if err = s.start(conf, opts.TLS); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Stop(t) })
	if opts.LDIF != "" {
		s.Add(t, opts.LDIF)
	}
	return s
}

func (s *Server) start(conf string, tls bool) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	s.URL = fmt.Sprintf("ldap://127.0.0.1:%d", port)
	urls := s.URL + "/"
	if tls {
		p2, err := freePort()
		if err != nil {
			return err
		}
		s.LDAPSURL = fmt.Sprintf("ldaps://127.0.0.1:%d", p2)
		urls += " " + s.LDAPSURL + "/"
	}
	// -d keeps slapd in the foreground (no fork), so it is our child and
	// its messages reach stderr.
	s.stderr = new(bytes.Buffer)
	s.cmd = exec.Command(binary, "-f", conf, "-h", urls, "-d", "0")
	s.cmd.Stderr = s.stderr
	s.cmd.Stdout = s.stderr
	if err := s.cmd.Start(); err != nil {
		return fmt.Errorf("slapd: %v", err)
	}
	s.exited = make(chan struct{})
	go func() { s.cmd.Wait(); close(s.exited) }()
	return s.waitReady(port)
}

// waitReady waits until slapd accepts connections: slapd says nothing on
// stderr at -d 0 when it is ready, so the port is the signal.
func (s *Server) waitReady(port int) error {
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-s.exited:
			hint := "the port may have been taken"
			if _, err := os.Stat(apparmor); err == nil {
				hint = "AppArmor's profile " + apparmor + " may keep slapd from reading " + s.dir +
					" (aa-complain /usr/sbin/slapd lets it)"
			}
			return fmt.Errorf("slapd exited at start (%v); %s:\n%s", s.cmd.ProcessState, hint, s.stderr)
		default:
		}
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	s.kill()
	return fmt.Errorf("slapd did not answer on %s within 15s:\n%s", addr, s.stderr)
}

// Stop stops slapd; the directory's files stay until the test ends. Tests
// call it to take the directory away; calling it again does nothing.
func (s *Server) Stop(t testing.TB) {
	t.Helper()
	if s.stopped {
		return
	}
	s.stopped = true
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		s.kill()
		t.Errorf("slapd did not stop on SIGTERM; killed")
	}
}

func (s *Server) kill() {
	s.cmd.Process.Kill()
	<-s.exited
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

var confTemplate = template.Must(template.New("slapd.conf").Parse(`
include {{.Schemas}}/core.schema
include {{.Schemas}}/cosine.schema
include {{.Schemas}}/inetorgperson.schema
{{- if .Dynlist}}
include {{.Schemas}}/dyngroup.schema
{{- end}}
{{- if .AD}}
include {{.Dir}}/ad.schema
{{- end}}
modulepath {{.Modules}}
moduleload back_mdb
moduleload refint
{{- if .Dynlist}}
moduleload dynlist
{{- else}}
moduleload memberof
{{- end}}
{{- if not .AD}}
moduleload ppolicy
{{- end}}
pidfile {{.Dir}}/slapd.pid
argsfile {{.Dir}}/slapd.args
{{- if .TLS}}
TLSCertificateFile {{.Dir}}/server.pem
TLSCertificateKeyFile {{.Dir}}/server.key
{{- end}}

database mdb
maxsize 67108864
suffix "{{.Suffix}}"
rootdn "{{.AdminDN}}"
rootpw {{.AdminPassword}}
directory {{.Dir}}/db
index objectClass,entryUUID,member eq
{{- if .AD}}
index sAMAccountName eq
{{- else}}
index uid eq
{{- end}}

# Anonymous users may only bind: the service account must bind before it
# can search, as on a production directory.
access to attrs=userPassword by self write by anonymous auth by * none
access to * by users read by * none

{{- if .Dynlist}}
overlay dynlist
dynlist-attrset groupOfURLs memberURL member+memberOf@{{.GroupClass}}*
{{- else}}
overlay memberof
memberof-group-oc {{.GroupClass}}
memberof-refint TRUE
{{- end}}
# A renamed user stays in its groups, as on Active Directory.
overlay refint
refint_attributes member
{{- if not .AD}}
# For pwdAccountLockedTime. Without a default policy slapd still lets a
# locked account bind: keydesk must read the marker itself.
overlay ppolicy
{{- end}}
`))

func (s *Server) config(t testing.TB, opts Options) []byte {
	group := "groupOfNames"
	if opts.AD {
		group = "group"
	}
	var b bytes.Buffer
	err := confTemplate.Execute(&b, map[string]any{
		"Schemas": schemaDir, "Modules": moduleDir, "Dir": s.dir,
		"Suffix": Suffix, "AdminDN": s.AdminDN, "AdminPassword": s.AdminPassword,
		"AD": opts.AD, "Dynlist": opts.Dynlist, "TLS": opts.TLS, "GroupClass": group,
	})
	must(t, err)
	return b.Bytes()
}

// Add adds the entries of an LDIF, as ldapadd does.
func (s *Server) Add(t testing.TB, ldif string) {
	t.Helper()
	s.tool(t, ldif, "ldapadd")
}

// Modify applies an LDIF of changes (changetype: modify, add, delete,
// modrdn), as ldapmodify does.
func (s *Server) Modify(t testing.TB, ldif string) {
	t.Helper()
	s.tool(t, ldif, "ldapmodify")
}

// Rename gives the entry dn the new RDN (e.g. "uid=alicia"), keeping it in
// its place, and returns its new DN.
func (s *Server) Rename(t testing.TB, dn, newRDN string) string {
	t.Helper()
	s.tool(t, dn+"\n"+newRDN+"\n", "ldapmodrdn", "-r")
	_, parent, _ := strings.Cut(dn, ",")
	return newRDN + "," + parent
}

// AddMember puts member in group.
func (s *Server) AddMember(t testing.TB, group, member string) {
	t.Helper()
	s.Modify(t, fmt.Sprintf("dn: %s\nchangetype: modify\nadd: member\nmember: %s\n", group, member))
}

// RemoveMember takes member out of group.
func (s *Server) RemoveMember(t testing.TB, group, member string) {
	t.Helper()
	s.Modify(t, fmt.Sprintf("dn: %s\nchangetype: modify\ndelete: member\nmember: %s\n", group, member))
}

// Replace sets attr of dn to values; no values removes the attribute.
func (s *Server) Replace(t testing.TB, dn, attr string, values ...string) {
	t.Helper()
	ldif := fmt.Sprintf("dn: %s\nchangetype: modify\nreplace: %s\n", dn, attr)
	for _, v := range values {
		ldif += attr + ": " + v + "\n"
	}
	s.Modify(t, ldif)
}

func (s *Server) tool(t testing.TB, input, name string, args ...string) {
	t.Helper()
	args = append(args, "-x", "-H", s.URL, "-D", s.AdminDN, "-y", s.pwFile)
	cmd := exec.Command(name, args...)
	cmd.Stdin = strings.NewReader(input)
	out, err := cmd.CombinedOutput()
	if err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			t.Fatalf("%s: exit %d\n%s\ninput:\n%s", name, exit.ExitCode(), out, input)
		}
		t.Fatalf("%s: %v", name, err)
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
