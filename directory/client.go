package directory

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"unicode/utf8"

	"github.com/go-ldap/ldap/v3"
)

// Client reads users and groups from one directory. It is safe for
// concurrent use; Close it when done.
type Client struct {
	cfg    Config
	reader reader
	search *pool // bound as the service account
	binds  *pool // for users' binds; never searches
}

// maxPassword bounds a user's password: more is not a password anyone
// types, and the bind request would carry it.
const maxPassword = 4096

// New checks cfg, reads the service account's password and the CA file,
// and returns a Client. It does not connect: the first call does.
func New(cfg Config) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	password, err := readPasswordFile(cfg.BindPasswordFile)
	if err != nil {
		return nil, err
	}
	tlsConfig, err := cfg.tlsConfig()
	if err != nil {
		return nil, err
	}
	u, _ := url.Parse(cfg.URL) // checked by Validate
	port := u.Port()
	if port == "" {
		port = "389"
		if u.Scheme == "ldaps" {
			port = "636"
		}
	}
	d := &dialer{
		addr:     net.JoinHostPort(u.Hostname(), port),
		ldaps:    u.Scheme == "ldaps",
		startTLS: cfg.StartTLS,
		tls:      tlsConfig,
		timeout:  cfg.Timeout.Duration,
	}
	return &Client{
		cfg:    cfg,
		reader: newReader(&cfg),
		search: newPool("service", cfg.MaxConnections, d.bound(cfg.BindDN, password)),
		binds:  newPool("bind", cfg.MaxConnections, d.open),
	}, nil
}

// readPasswordFile reads a secret kept in a file, without the one newline
// an editor or echo leaves at its end.
func readPasswordFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("directory: bind_password_file: %w", err)
	}
	b = bytes.TrimSuffix(b, []byte("\n"))
	b = bytes.TrimSuffix(b, []byte("\r"))
	if len(b) == 0 {
		return nil, fmt.Errorf("directory: bind_password_file %s is empty", path)
	}
	return b, nil
}

func (c *Config) tlsConfig() (*tls.Config, error) {
	u, _ := url.Parse(c.URL)
	t := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: u.Hostname()}
	if c.ServerName != "" {
		t.ServerName = c.ServerName
	}
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("directory: ca_file: %w", err)
		}
		t.RootCAs = x509.NewCertPool()
		if !t.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("directory: ca_file %s holds no PEM certificate", c.CAFile)
		}
	}
	return t, nil
}

// Config is the configuration the client was made with, for the caller's
// FailMode and PlanOptions.
func (c *Client) Config() Config { return c.cfg }

// Close closes the idle connections; those in use close when their call
// ends.
func (c *Client) Close() error {
	c.search.close()
	c.binds.close()
	return nil
}

// Authenticate checks username's password with a bind as the user's entry
// and returns the entry. The errors to expect: [ErrBadCredentials] (also
// for an empty password, refused before any bind: it would be an
// unauthenticated bind, RFC 4513 §5.1.2), [ErrNoSuchUser], [ErrAmbiguous],
// [ErrDisabled], [ErrUnavailable]. Any other error is the directory
// answering what keydesk does not expect; a caller refuses the login.
// The whole call, connecting included, takes at most the configured
// Timeout.
func (c *Client) Authenticate(ctx context.Context, username, password string) (Entry, error) {
	if password == "" {
		return Entry{}, fmt.Errorf("%w: empty password refused", ErrBadCredentials)
	}
	if len(password) > maxPassword {
		return Entry{}, fmt.Errorf("%w: password of more than %d bytes refused", ErrBadCredentials, maxPassword)
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout.Duration)
	defer cancel()
	e, err := c.lookup(ctx, username)
	if err != nil {
		return Entry{}, err
	}
	if e.Disabled {
		return Entry{}, fmt.Errorf("%w: %s", ErrDisabled, e.DN)
	}
	err = c.binds.do(ctx, c.cfg.Timeout.Duration, func(conn *ldap.Conn) error {
		return conn.Bind(e.DN, password)
	})
	if err != nil {
		return Entry{}, bindError(e.DN, err)
	}
	return e, nil
}

// bindError names a refused bind. Active Directory says why in its
// diagnostic message ("data 52e"); the log wants the reason.
func bindError(dn string, err error) error {
	if errors.Is(err, ErrUnavailable) {
		return err
	}
	if !ldap.IsErrorAnyOf(err, ldap.LDAPResultInvalidCredentials, ldap.LDAPResultInappropriateAuthentication,
		ldap.LDAPResultInsufficientAccessRights, ldap.LDAPResultUnwillingToPerform) {
		return fmt.Errorf("directory: binding as %s: %w", dn, err)
	}
	reason := "refused"
	for code, why := range adBindReasons {
		if strings.Contains(err.Error(), "data "+code+",") {
			reason = why
		}
	}
	return fmt.Errorf("%w: %s: %s", ErrBadCredentials, dn, reason)
}

// adBindReasons are the sub-codes Active Directory puts in the diagnostic
// message of a refused bind (the Win32 error, in hex).
var adBindReasons = map[string]string{
	"52e": "wrong password",
	"525": "no such user",
	"530": "not allowed to log on at this time",
	"531": "not allowed to log on at this workstation",
	"532": "password expired",
	"533": "account disabled",
	"701": "account expired",
	"773": "password must be changed",
	"775": "account locked out",
}

// Lookup finds username's entry with the service account: exactly one,
// or [ErrNoSuchUser], [ErrAmbiguous], [ErrUnavailable]. It takes at most
// the configured Timeout.
func (c *Client) Lookup(ctx context.Context, username string) (Entry, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout.Duration)
	defer cancel()
	return c.lookup(ctx, username)
}

func (c *Client) lookup(ctx context.Context, username string) (Entry, error) {
	if err := checkUsername(username); err != nil {
		return Entry{}, err
	}
	// Two are enough to know the name is not unique.
	req := ldap.NewSearchRequest(c.cfg.BaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases,
		2, 0, false, c.cfg.userFilter(username), c.reader.requested(), nil)
	var res *ldap.SearchResult
	err := c.search.do(ctx, c.cfg.Timeout.Duration, func(conn *ldap.Conn) error {
		var err error
		res, err = conn.Search(req)
		return err
	})
	switch {
	case ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded):
		return Entry{}, fmt.Errorf("%w: %q under %s", ErrAmbiguous, username, c.cfg.BaseDN)
	case err != nil && !errors.Is(err, ErrUnavailable):
		return Entry{}, fmt.Errorf("directory: searching for %q: %w", username, err)
	case err != nil:
		return Entry{}, err
	case len(res.Entries) == 0:
		return Entry{}, fmt.Errorf("%w: %q under %s", ErrNoSuchUser, username, c.cfg.BaseDN)
	case len(res.Entries) > 1:
		return Entry{}, fmt.Errorf("%w: %q under %s", ErrAmbiguous, username, c.cfg.BaseDN)
	}
	return c.reader.decode(res.Entries[0].DN, res.Entries[0].Attributes)
}

// checkUsername refuses, before any search, a name no directory holds.
func checkUsername(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: empty user name", ErrNoSuchUser)
	case len(name) > maxUsername:
		return fmt.Errorf("%w: user name of more than %d bytes", ErrNoSuchUser, maxUsername)
	case !utf8.ValidString(name):
		return fmt.Errorf("%w: user name not UTF-8", ErrNoSuchUser)
	case strings.ContainsRune(name, 0):
		return fmt.Errorf("%w: user name holds a NUL byte", ErrNoSuchUser)
	}
	return nil
}
