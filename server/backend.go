package server

import (
	"context"

	"github.com/keydesk/keydesk/desk"
	"github.com/keydesk/keydesk/directory"
	"github.com/keydesk/keydesk/inventory"
	"github.com/keydesk/keydesk/verify"
)

// Decider decides on a user's passcode: all that /v1/auth and RADIUS need
// of the verifier. [*verify.Verifier] is one.
type Decider interface {
	VerifyUser(ctx context.Context, user, passcode string, from verify.Origin) (verify.Decision, error)
	// Refuse records a denial made before any passcode: the directory
	// refused the password, or could not be asked.
	Refuse(ctx context.Context, user string, from verify.Origin, denial error, format string, args ...any) (verify.Decision, error)
	// CodeLengths are the lengths of the codes the user's fobs show.
	CodeLengths(ctx context.Context, user string) ([]int, error)
}

// Directory checks passwords and reads groups for the RADIUS modes that
// take a password, and lists the members for the sync.
// *directory.Client is one.
type Directory interface {
	Authenticate(ctx context.Context, user, password string) (directory.Entry, error)
	Lookup(ctx context.Context, user string) (directory.Entry, error)
	Groups(ctx context.Context, e directory.Entry) ([]string, error)
	Members(ctx context.Context) ([]directory.Entry, error)
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
	// Directory is the LDAP or Active Directory server of the config's
	// directory section; nil without one.
	Directory Directory
	// Store names the database behind the inventory ("sqlite",
	// "postgresql"), for /healthz.
	Store string
}

// NewDeps is the server's dependencies on one inventory and its verifier.
func NewDeps(st *inventory.Store, v *verify.Verifier) Deps {
	return Deps{Decider: v, Callers: st, Desk: desk.New(st, v), Store: st.Kind()}
}

// desk is the desk acting for actor.
func (s *Server) desk(actor string) *desk.Desk { return s.deps.Desk.As(actor) }
