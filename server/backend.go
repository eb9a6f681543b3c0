package server

import (
	"context"

	"github.com/keydesk/keydesk/desk"
	"github.com/keydesk/keydesk/inventory"
	"github.com/keydesk/keydesk/verify"
)

// Decider decides on a user's passcode: all that /v1/auth and RADIUS need
// of the verifier. [*verify.Verifier] is one.
type Decider interface {
	VerifyUser(ctx context.Context, user, passcode string, from verify.Origin) (verify.Decision, error)
}

// Callers finds who is calling: an application by its key, an
// administrator by a token, the RADIUS clients. [*inventory.Store] is one.
type Callers interface {
	ApplicationByKey(ctx context.Context, key string) (inventory.Application, error)
	AdminByToken(ctx context.Context, token string) (inventory.Admin, error)
	RADIUSClients(ctx context.Context) ([]inventory.RADIUSClient, error)
}

// Deps are what the server acts through; [NewDeps] makes them from one
// inventory and verifier.
type Deps struct {
	Decider Decider
	Callers Callers
	// Desk takes every admin action and answers every admin read, as the
	// administrator calling ([desk.Desk.As]).
	Desk *desk.Desk
}

// NewDeps is the server's dependencies on one inventory and its verifier.
func NewDeps(st *inventory.Store, v *verify.Verifier) Deps {
	return Deps{Decider: v, Callers: st, Desk: desk.New(st, v)}
}

// desk is the desk acting for actor.
func (s *Server) desk(actor string) *desk.Desk { return s.deps.Desk.As(actor) }
