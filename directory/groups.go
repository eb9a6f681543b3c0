package directory

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/go-ldap/ldap/v3"
)

// inChainRule is LDAP_MATCHING_RULE_IN_CHAIN: Active Directory follows the
// attribute through nested groups ([MS-ADTS] §3.1.1.3.4.4.3).
const inChainRule = "1.2.840.113556.1.4.1941"

// Bounds on a walk through nested groups: past them the groups are
// refused rather than cut.
const (
	maxDepth   = 32
	maxMembers = 500000
	pageSize   = 500
)

// noAttributes asks a search for DNs only (RFC 4511 §4.5.1.8).
var noAttributes = []string{"1.1"}

// Groups returns the DNs of every group e belongs to, nested groups
// included when Nesting is in_chain or walk, sorted. It takes at most the
// configured Timeout.
func (c *Client) Groups(ctx context.Context, e Entry) ([]string, error) {
	if err := checkDN(e.DN); err != nil {
		return nil, fmt.Errorf("directory: groups: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout.Duration)
	defer cancel()
	switch c.cfg.Nesting {
	case InChain:
		filter := fmt.Sprintf("(&%s(%s:%s:=%s))", c.cfg.GroupFilter, c.cfg.Attributes.Member, inChainRule, ldap.EscapeFilter(e.DN))
		return c.groupDNs(ctx, filter)
	case Walk:
		return c.walkUp(ctx, e.DN)
	default:
		return sortedDNs(e.Groups), nil
	}
}

// walkUp finds the groups that hold dn, then the groups that hold those,
// one search per level.
func (c *Client) walkUp(ctx context.Context, dn string) ([]string, error) {
	seen := map[string]string{}
	frontier := []string{dn}
	for depth := 0; len(frontier) > 0; depth++ {
		if depth == maxDepth {
			return nil, fmt.Errorf("directory: groups of %s nest deeper than %d levels", dn, maxDepth)
		}
		var terms strings.Builder
		for _, g := range frontier {
			fmt.Fprintf(&terms, "(%s=%s)", c.cfg.Attributes.Member, ldap.EscapeFilter(g))
		}
		found, err := c.groupDNs(ctx, fmt.Sprintf("(&%s(|%s))", c.cfg.GroupFilter, terms.String()))
		if err != nil {
			return nil, err
		}
		frontier = frontier[:0]
		for _, g := range found {
			if k := dnKey(g); seen[k] == "" {
				seen[k] = g
				frontier = append(frontier, g)
			}
		}
		if len(seen) > maxGroups {
			return nil, fmt.Errorf("directory: %s is in more than %d groups", dn, maxGroups)
		}
	}
	var all []string
	for _, g := range seen {
		all = append(all, g)
	}
	return sortedDNs(all), nil
}

// groupDNs returns the DNs of the groups filter finds.
func (c *Client) groupDNs(ctx context.Context, filter string) ([]string, error) {
	req := ldap.NewSearchRequest(c.cfg.BaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases,
		maxGroups+1, 0, false, filter, noAttributes, nil)
	var res *ldap.SearchResult
	err := c.search.do(ctx, c.cfg.Timeout.Duration, func(conn *ldap.Conn) error {
		var err error
		res, err = conn.SearchWithPaging(req, pageSize)
		return err
	})
	if err != nil {
		return nil, searchError("groups", err)
	}
	dns := make([]string, 0, len(res.Entries))
	for _, e := range res.Entries {
		if err := checkDN(e.DN); err != nil {
			return nil, fmt.Errorf("directory: group: %w", err)
		}
		dns = append(dns, e.DN)
	}
	return dns, nil
}

// Members returns every user in the scope group, nested groups included
// where Nesting allows, disabled users too (with Disabled set). Each
// request takes at most the configured Timeout; the whole, as long as ctx
// allows. One entry keydesk cannot read fails the whole: a user left out
// would look as if they had left the group.
func (c *Client) Members(ctx context.Context) ([]Entry, error) {
	scope := c.cfg.ScopeGroup
	if scope == "" {
		return nil, errors.New("directory: members: no scope_group configured")
	}
	members, err := c.scopeGroup(ctx, scope)
	if err != nil {
		return nil, err
	}
	var entries []Entry
	switch c.cfg.Nesting {
	case InChain:
		filter := fmt.Sprintf("(&%s(%s:%s:=%s))", c.cfg.anyUserFilter(), c.cfg.Attributes.MemberOf, inChainRule, ldap.EscapeFilter(scope))
		entries, err = c.users(ctx, filter)
	case MemberOf:
		filter := fmt.Sprintf("(&%s(%s=%s))", c.cfg.anyUserFilter(), c.cfg.Attributes.MemberOf, ldap.EscapeFilter(scope))
		entries, err = c.users(ctx, filter)
	default:
		entries, err = c.walkDown(ctx, scope, members)
	}
	if err != nil {
		return nil, err
	}
	slices.SortFunc(entries, func(a, b Entry) int { return strings.Compare(a.Username, b.Username) })
	return entries, nil
}

// scopeGroup checks that the scope group is there: one that is gone (a
// typo, a deletion) is an error, not a group of no one. For the walk it
// returns the members; the other nestings do not read them, as Active
// Directory sends a large member attribute in ranges.
func (c *Client) scopeGroup(ctx context.Context, scope string) ([]string, error) {
	var (
		members []string
		found   bool
		err     error
	)
	if c.cfg.Nesting == Walk {
		members, found, err = c.readGroup(ctx, scope)
	} else {
		var r *ldap.Entry
		r, err = c.readEntry(ctx, scope, c.cfg.GroupFilter, noAttributes)
		found = r != nil
	}
	if err == nil && !found {
		err = fmt.Errorf("directory: scope group %s not found (or not a group)", scope)
	}
	return members, err
}

// users returns the users filter finds, in pages.
func (c *Client) users(ctx context.Context, filter string) ([]Entry, error) {
	req := ldap.NewSearchRequest(c.cfg.BaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases,
		maxMembers+1, 0, false, filter, c.reader.requested(), nil)
	var res *ldap.SearchResult
	err := c.search.do(ctx, c.cfg.Timeout.Duration, func(conn *ldap.Conn) error {
		var err error
		res, err = conn.SearchWithPaging(req, pageSize)
		return err
	})
	if err != nil {
		return nil, searchError("members", err)
	}
	if len(res.Entries) > maxMembers {
		return nil, fmt.Errorf("directory: members: more than %d users", maxMembers)
	}
	entries := make([]Entry, 0, len(res.Entries))
	for _, r := range res.Entries {
		e, err := c.reader.decode(r.DN, r.Attributes)
		if err != nil {
			return nil, err
		}
		entries = append(entries, e)
	}
	return entries, nil
}

// walkDown follows the member attribute from the scope group: each member
// is read by its DN (a base search, which every server answers from its
// DN index), as a user first, else as a group whose members come next.
// Members that are neither (a contact, a dangling DN) are skipped.
func (c *Client) walkDown(ctx context.Context, scope string, members []string) ([]Entry, error) {
	base, err := ldap.ParseDN(c.cfg.BaseDN)
	if err != nil {
		return nil, fmt.Errorf("directory: base_dn: %w", err)
	}
	var (
		mu    sync.Mutex
		seen  = map[string]bool{dnKey(scope): true}
		users []Entry
	)
	for depth := 0; len(members) > 0; depth++ {
		if depth == maxDepth {
			return nil, fmt.Errorf("directory: groups in %s nest deeper than %d levels", scope, maxDepth)
		}
		var todo []string
		for _, m := range members {
			if k := dnKey(m); !seen[k] && under(base, m) {
				seen[k] = true
				todo = append(todo, m)
			}
		}
		if len(seen) > maxMembers {
			return nil, fmt.Errorf("directory: members: more than %d users and groups in %s", maxMembers, scope)
		}
		members = nil
		err := c.forEach(ctx, todo, func(ctx context.Context, dn string) error {
			e, isUser, err := c.readUser(ctx, dn)
			if err != nil {
				return err
			}
			if isUser {
				mu.Lock()
				users = append(users, e)
				mu.Unlock()
				return nil
			}
			sub, _, err := c.readGroup(ctx, dn)
			mu.Lock()
			members = append(members, sub...)
			mu.Unlock()
			return err
		})
		if err != nil {
			return nil, err
		}
	}
	return users, nil
}

// under tells whether dn is in the subtree of base, as the searches of the
// other nestings are.
func under(base *ldap.DN, dn string) bool {
	d, err := ldap.ParseDN(dn)
	return err == nil && (base.EqualFold(d) || base.AncestorOfFold(d))
}

// forEach runs fn on each DN, as many at once as the pool has
// connections, and returns the first error.
func (c *Client) forEach(ctx context.Context, dns []string, fn func(context.Context, string) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg   sync.WaitGroup
		once sync.Once
		err  error
		next = make(chan string)
	)
	for range min(c.cfg.MaxConnections, len(dns)) {
		wg.Go(func() {
			for dn := range next {
				if e := fn(ctx, dn); e != nil {
					once.Do(func() { err = e; cancel() })
				}
			}
		})
	}
feed:
	for _, dn := range dns {
		select {
		case next <- dn:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err == nil && ctx.Err() != nil {
		err = unavailable("members", ctx.Err())
	}
	return err
}

// readUser reads dn as a user entry; isUser is false if dn is not one.
func (c *Client) readUser(ctx context.Context, dn string) (e Entry, isUser bool, err error) {
	r, err := c.readEntry(ctx, dn, c.cfg.anyUserFilter(), c.reader.requested())
	if err != nil || r == nil {
		return Entry{}, false, err
	}
	e, err = c.reader.decode(r.DN, r.Attributes)
	if err != nil {
		return Entry{}, false, err
	}
	return e, true, nil
}

// readGroup reads dn as a group and returns its members; isGroup is false
// if dn is not one.
func (c *Client) readGroup(ctx context.Context, dn string) (members []string, isGroup bool, err error) {
	member := c.cfg.Attributes.Member
	r, err := c.readEntry(ctx, dn, c.cfg.GroupFilter, []string{member})
	if err != nil || r == nil {
		return nil, false, err
	}
	for _, a := range r.Attributes {
		if strings.Contains(a.Name, ";range=") {
			return nil, false, &EntryError{DN: dn, Attribute: a.Name, Err: errors.New("sent in ranges: use nesting \"in_chain\" on Active Directory")}
		}
	}
	for i, m := range values(r.Attributes, member) {
		if err := checkDN(string(m)); err != nil {
			return nil, false, &EntryError{DN: dn, Attribute: member, Err: fmt.Errorf("value %d: %w", i+1, err)}
		}
		members = append(members, string(m))
	}
	return members, true, nil
}

// readEntry reads the entry dn if it matches filter: nil if it does not,
// or if there is no such entry.
func (c *Client) readEntry(ctx context.Context, dn, filter string, attrs []string) (*ldap.Entry, error) {
	req := ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 1, 0, false, filter, attrs, nil)
	var res *ldap.SearchResult
	err := c.search.do(ctx, c.cfg.Timeout.Duration, func(conn *ldap.Conn) error {
		var err error
		res, err = conn.Search(req)
		return err
	})
	switch {
	case ldap.IsErrorAnyOf(err, ldap.LDAPResultNoSuchObject, ldap.LDAPResultInvalidDNSyntax):
		return nil, nil
	case err != nil:
		return nil, searchError(dn, err)
	case len(res.Entries) == 0:
		return nil, nil
	}
	return res.Entries[0], nil
}

func searchError(what string, err error) error {
	if errors.Is(err, ErrUnavailable) {
		return err
	}
	return fmt.Errorf("directory: searching %s: %w", what, err)
}

// dnKey is how two DNs are told the same: servers may change the case of
// attribute names and values they did not store.
func dnKey(dn string) string {
	if parsed, err := ldap.ParseDN(dn); err == nil {
		return strings.ToLower(parsed.String())
	}
	return strings.ToLower(dn)
}

func sortedDNs(dns []string) []string {
	out := slices.Clone(dns)
	slices.SortFunc(out, func(a, b string) int { return strings.Compare(dnKey(a), dnKey(b)) })
	return slices.CompactFunc(out, func(a, b string) bool { return dnKey(a) == dnKey(b) })
}
