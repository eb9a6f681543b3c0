package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/keydesk/keydesk/directory"
)

// Config is everything the server is told. It is loaded (from a file, or
// filled in by the CLI's flags), then defaulted with [Config.Default],
// then checked with [Config.Validate]; [New] does the last two.
type Config struct {
	// HTTP is the address of the HTTP API; DefaultHTTP when empty.
	HTTP string `json:"http"`
	// RADIUS is the UDP address of the RADIUS server; none when empty.
	RADIUS string `json:"radius"`
	// TLSCert and TLSKey are PEM files; the HTTP API speaks TLS when both
	// are given.
	TLSCert string `json:"tls_cert"`
	TLSKey  string `json:"tls_key"`

	// UserRate and UserBurst limit passcode attempts per user name, in
	// attempts a second and at once, before the verifier sees them; the
	// verifier's lockout still counts those that pass. ClientRate and
	// ClientBurst limit requests (and RADIUS packets) per source address.
	// A negative rate turns the limit off.
	UserRate    float64 `json:"user_rate"`
	UserBurst   int     `json:"user_burst"`
	ClientRate  float64 `json:"client_rate"`
	ClientBurst int     `json:"client_burst"`

	// CacheTTL is how long an application key or the RADIUS client table
	// read from the inventory is trusted before it is read again. Changes
	// made through this server's API take effect at once; changes made
	// with the CLI, within CacheTTL.
	CacheTTL Duration `json:"cache_ttl"`

	ReadHeaderTimeout Duration `json:"read_header_timeout"`
	ReadTimeout       Duration `json:"read_timeout"`
	WriteTimeout      Duration `json:"write_timeout"`
	IdleTimeout       Duration `json:"idle_timeout"`
	// ShutdownTimeout is how long in-flight requests get to finish.
	ShutdownTimeout Duration `json:"shutdown_timeout"`

	// RADIUSWorkers bound the RADIUS requests decided at once; a packet
	// that finds them all busy and the queue full is dropped (the client
	// retransmits). RADIUSQueue is that queue's length.
	RADIUSWorkers int `json:"radius_workers"`
	RADIUSQueue   int `json:"radius_queue"`
	// RADIUSDuplicateTTL is how long an answer is kept to resend to a
	// retransmitted request (RFC 5080 §2.2.2) instead of deciding again,
	// which would deny the passcode as replayed.
	RADIUSDuplicateTTL Duration `json:"radius_duplicate_ttl"`

	// Directory is the LDAP or Active Directory server that checks the
	// passwords of RADIUS clients in password+otp and challenge mode,
	// names the groups Filter-Id and Class come from, and that `keydesk
	// directory sync` follows. None when absent.
	Directory *directory.Config `json:"directory"`
	// DirectorySyncEvery runs the directory sync in the server this
	// often; never when 0.
	DirectorySyncEvery Duration `json:"directory_sync_every"`
	// PasswordDelimiter separates the password from the passcode in
	// password+otp mode ("secret,123456"): the last one in the
	// User-Password splits it. "," when empty.
	PasswordDelimiter string `json:"password_delimiter"`
	// ChallengePrompt is the Reply-Message of an Access-Challenge.
	ChallengePrompt string `json:"challenge_prompt"`
	// ChallengeTTL is how long the State of an Access-Challenge is good
	// for (60 s when 0).
	ChallengeTTL Duration `json:"challenge_ttl"`
	// GroupAttributes give accepted users of these directory groups
	// Filter-Id (RFC 2865 §5.11) or Class (§5.25) attributes: the VPN's
	// access rules.
	GroupAttributes []GroupAttribute `json:"group_attributes"`

	// AuthLogDays is how long the authentication log keeps a decision:
	// 180 days when 0; a negative number keeps everything.
	AuthLogDays int `json:"auth_log_days"`

	// Now is the clock; time.Now when nil. Not loaded from a file.
	Now func() time.Time `json:"-"`
	// Log receives the server's log; slog's default when nil.
	Log *slog.Logger `json:"-"`

	// Keys in the browser and the self-service portal (portal_config.go).
	PortalConfig
}

// GroupAttribute is what members of one directory group get in an
// Access-Accept.
type GroupAttribute struct {
	Group    string `json:"group"` // the group's DN, as the directory spells it
	FilterID string `json:"filter_id,omitempty"`
	Class    string `json:"class,omitempty"`
}

// DefaultHTTP is where the HTTP API listens unless told otherwise:
// loopback, since the API is reached through a proxy or a tunnel.
const DefaultHTTP = "127.0.0.1:8700"

// maxConfigFile bounds what LoadConfig reads.
const maxConfigFile = 64 << 10

// LoadConfig reads a JSON config file. Unknown fields are refused, and an
// error names the byte offset where the file went wrong.
func LoadConfig(path string) (Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	c, err := ParseConfig(io.LimitReader(f, maxConfigFile+1))
	if err != nil {
		return Config{}, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

// ParseConfig reads a JSON config; see [LoadConfig].
func ParseConfig(r io.Reader) (Config, error) {
	raw, err := io.ReadAll(io.LimitReader(r, maxConfigFile+1))
	if err != nil {
		return Config{}, err
	}
	if len(raw) > maxConfigFile {
		return Config{}, fmt.Errorf("longer than %d bytes", maxConfigFile)
	}
	var c Config
	if err := decodeStrict(bytes.NewReader(raw), &c); err != nil {
		return Config{}, err
	}
	return c, nil
}

// Default fills in what was left zero.
func (c *Config) Default() {
	set := func(p *Duration, d time.Duration) {
		if *p == 0 {
			*p = Duration(d)
		}
	}
	if c.HTTP == "" {
		c.HTTP = DefaultHTTP
	}
	if c.UserRate == 0 {
		// One attempt every two seconds, five at once: a person retyping
		// a code never notices; a guesser gets the lockout's ten tries in
		// no less than ten seconds, and no more.
		c.UserRate = 0.5
	}
	if c.UserBurst == 0 {
		c.UserBurst = 5
	}
	if c.ClientRate == 0 {
		c.ClientRate = 1000
	}
	if c.ClientBurst == 0 {
		c.ClientBurst = 2 * max(int(c.ClientRate), 1)
	}
	set(&c.CacheTTL, 2*time.Second)
	set(&c.ReadHeaderTimeout, 5*time.Second)
	set(&c.ReadTimeout, 10*time.Second)
	set(&c.WriteTimeout, 30*time.Second)
	set(&c.IdleTimeout, 2*time.Minute)
	set(&c.ShutdownTimeout, 20*time.Second)
	set(&c.RADIUSDuplicateTTL, 10*time.Second)
	if c.RADIUSWorkers == 0 {
		c.RADIUSWorkers = 256
	}
	if c.RADIUSQueue == 0 {
		c.RADIUSQueue = 1024
	}
	if c.AuthLogDays == 0 {
		c.AuthLogDays = 180
	}
	if c.PasswordDelimiter == "" {
		c.PasswordDelimiter = ","
	}
	if c.ChallengePrompt == "" {
		c.ChallengePrompt = "Enter the passcode your device shows"
	}
	set(&c.ChallengeTTL, 60*time.Second)
	if c.Directory != nil {
		c.Directory.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
	c.defaultPortal()
}

// Validate says what is wrong with a defaulted config, all of it at once.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if _, err := netip.ParseAddrPort(c.HTTP); err != nil {
		bad("http address %q is not IP:port (%v)", c.HTTP, err)
	}
	if c.RADIUS != "" {
		if _, err := netip.ParseAddrPort(c.RADIUS); err != nil {
			bad("radius address %q is not IP:port (%v)", c.RADIUS, err)
		}
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		bad("tls_cert and tls_key go together: both or neither")
	}
	if c.UserRate > 0 && c.UserBurst < 1 || c.ClientRate > 0 && c.ClientBurst < 1 {
		bad("a rate limit needs a burst of at least 1")
	}
	for name, d := range map[string]Duration{"cache_ttl": c.CacheTTL, "read_header_timeout": c.ReadHeaderTimeout,
		"read_timeout": c.ReadTimeout, "write_timeout": c.WriteTimeout, "idle_timeout": c.IdleTimeout,
		"shutdown_timeout": c.ShutdownTimeout, "radius_duplicate_ttl": c.RADIUSDuplicateTTL} {
		if d <= 0 {
			bad("%s must be positive, not %s", name, time.Duration(d))
		}
	}
	if c.CacheTTL > Duration(time.Minute) {
		bad("cache_ttl of %s is over a minute: a removed application would keep working that long", time.Duration(c.CacheTTL))
	}
	if c.RADIUSWorkers < 1 || c.RADIUSWorkers > 10000 {
		bad("radius_workers must be 1 to 10000, not %d", c.RADIUSWorkers)
	}
	if c.RADIUSQueue < 1 || c.RADIUSQueue > 1<<20 {
		bad("radius_queue must be 1 to %d, not %d", 1<<20, c.RADIUSQueue)
	}
	if c.Directory != nil {
		if err := c.Directory.Validate(); err != nil {
			bad("directory: %v", err)
		}
	}
	if c.DirectorySyncEvery < 0 || c.DirectorySyncEvery > 0 && c.DirectorySyncEvery < Duration(time.Minute) {
		bad("directory_sync_every must be a minute or more, or 0 for never, not %s", time.Duration(c.DirectorySyncEvery))
	}
	if c.DirectorySyncEvery > 0 && c.Directory == nil {
		bad("directory_sync_every is set, but there is no directory")
	}
	if len(c.PasswordDelimiter) > 8 || strings.ContainsAny(c.PasswordDelimiter, "\x00\r\n") {
		bad("password_delimiter must be 1 to 8 printable characters")
	}
	if c.ChallengeTTL < Duration(5*time.Second) || c.ChallengeTTL > Duration(10*time.Minute) {
		bad("challenge_ttl must be 5s to 10m, not %s", time.Duration(c.ChallengeTTL))
	}
	if len(c.ChallengePrompt) > maxReplyMessage {
		bad("challenge_prompt is longer than %d bytes", maxReplyMessage)
	}
	for i, g := range c.GroupAttributes {
		if g.Group == "" || (g.FilterID == "" && g.Class == "") || len(g.FilterID) > 253 || len(g.Class) > 253 {
			bad("group_attributes[%d]: want a group and a filter_id or a class (at most 253 bytes)", i)
		}
		if len(c.GroupAttributes) > 0 && c.Directory == nil {
			bad("group_attributes need a directory to read groups from")
			break
		}
	}
	errs = append(errs, c.validatePortal()...)
	return errors.Join(errs...)
}

// Duration is a time.Duration that reads and writes as "10s" in JSON.
type Duration time.Duration

func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("a duration is a string such as \"10s\"")
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}
