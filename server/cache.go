package server

import (
	"context"
	"crypto/sha256"
	"net/netip"
	"sync"
	"time"

	"github.com/keydesk/keydesk/inventory"
)

// maxCachedApps bounds the application keys remembered; past it the cache
// starts over.
const maxCachedApps = 10_000

// appCache remembers, for CacheTTL, which application a key belongs to,
// so that /v1/auth does not read the inventory on every request. Only
// keys that were found are kept: a new application works at once, and
// made-up keys cannot fill it. The key itself is not kept, only its
// SHA-256.
type appCache struct {
	ttl time.Duration
	now func() time.Time

	mu  sync.Mutex
	gen uint64
	m   map[[32]byte]cachedApp
}

type cachedApp struct {
	app     inventory.Application
	expires time.Time
}

func newAppCache(ttl time.Duration, now func() time.Time) *appCache {
	return &appCache{ttl: ttl, now: now, m: map[[32]byte]cachedApp{}}
}

func (c *appCache) get(ctx context.Context, dir Callers, key string) (inventory.Application, error) {
	id := sha256.Sum256([]byte(key))
	now := c.now()
	c.mu.Lock()
	e, ok := c.m[id]
	gen := c.gen
	c.mu.Unlock()
	if ok && now.Before(e.expires) {
		return e.app, nil
	}
	app, err := dir.ApplicationByKey(ctx, key)
	if err != nil {
		return inventory.Application{}, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	// An application removed while this lookup ran must not come back
	// into the cache: clear moved the generation on.
	if c.gen == gen {
		if len(c.m) >= maxCachedApps {
			clear(c.m)
		}
		c.m[id] = cachedApp{app: app, expires: now.Add(c.ttl)}
	}
	return app, nil
}

// clear forgets every key, after an application changed.
func (c *appCache) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	clear(c.m)
}

// radiusClient is an application that speaks RADIUS, as the server uses it.
type radiusClient struct {
	name     string
	secret   []byte
	sources  []netip.Prefix
	mode     inventory.RADIUSMode
	detailed bool // may hear why a login was denied
}

// radiusTable is the RADIUS clients, read from the inventory at most once
// every CacheTTL: RADIUS needs them for every packet, secrets included.
type radiusTable struct {
	ttl time.Duration
	now func() time.Time

	mu      sync.Mutex
	gen     uint64
	clients []radiusClient
	expires time.Time
}

func newRADIUSTable(ttl time.Duration, now func() time.Time) *radiusTable {
	return &radiusTable{ttl: ttl, now: now}
}

// from lists the clients that allow requests from addr.
func (t *radiusTable) from(ctx context.Context, dir Callers, addr netip.Addr) ([]radiusClient, error) {
	clients, err := t.load(ctx, dir)
	if err != nil {
		return nil, err
	}
	addr = addr.Unmap()
	var out []radiusClient
	for _, c := range clients {
		for _, p := range c.sources {
			if p.Contains(addr) {
				out = append(out, c)
				break
			}
		}
	}
	return out, nil
}

func (t *radiusTable) load(ctx context.Context, dir Callers) ([]radiusClient, error) {
	now := t.now()
	t.mu.Lock()
	if now.Before(t.expires) {
		defer t.mu.Unlock()
		return t.clients, nil
	}
	gen := t.gen
	t.mu.Unlock()
	rows, err := dir.RADIUSClients(ctx)
	if err != nil {
		return nil, err
	}
	clients := make([]radiusClient, len(rows))
	for i, r := range rows {
		clients[i] = radiusClient{name: r.Name, secret: r.Secret, sources: r.RADIUSSources, mode: r.RADIUSMode, detailed: r.DetailedReasons}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.gen == gen {
		t.clients, t.expires = clients, now.Add(t.ttl)
	}
	return clients, nil
}

// clear makes the next packet read the clients again.
func (t *radiusTable) clear() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.gen++
	t.clients, t.expires = nil, time.Time{}
}
