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
	VerifyUser(ctx context.Context, user, passcode string) (verify.Decision, error)
}

// Directory finds who is calling: an application by its key, an
// administrator by a token, the RADIUS clients. [*inventory.Store] is one.
type Directory interface {
	ApplicationByKey(ctx context.Context, key string) (inventory.Application, error)
	AdminByToken(ctx context.Context, token string) (inventory.Admin, error)
	RADIUSClients(ctx context.Context) ([]inventory.RADIUSClient, error)
}

// People is what the admin API's user routes need. Every change is made
// as actor and audited.
type People interface {
	Users(ctx context.Context, prefix string) ([]inventory.User, error)
	UserDetail(ctx context.Context, name string) (desk.UserView, error)
	AddUser(ctx context.Context, actor string, u inventory.User) (inventory.User, error)
	SetUserDisabled(ctx context.Context, actor, name string, disabled bool) error
	UnlockUser(ctx context.Context, actor, name string) error
}

// Fobs is what the fob and bypass code routes need.
type Fobs interface {
	Fobs(ctx context.Context, f inventory.FobFilter) ([]desk.FobView, error)
	Fob(ctx context.Context, serial string) (desk.FobView, error)
	FobAction(ctx context.Context, actor string, action FobAction, serial, user string) error
	Resync(ctx context.Context, actor, serial, code1, code2 string) (verify.Decision, error)
	BypassCodes(ctx context.Context, user string) ([]inventory.BypassCode, error)
	IssueBypass(ctx context.Context, r verify.BypassRequest) (verify.IssuedBypass, error)
	RevokeBypass(ctx context.Context, actor, user string) (int, error)
	Keys(ctx context.Context, user string) ([]inventory.Key, error)
	RemoveKey(ctx context.Context, actor, user, ref string) error
	Import(ctx context.Context, actor string, r desk.ImportRequest) (desk.ImportResult, error)
}

// Staff is what the application, administrator and audit routes need.
type Staff interface {
	Applications(ctx context.Context) ([]inventory.Application, error)
	AddApplication(ctx context.Context, actor string, n inventory.NewApplication) (inventory.Application, string, error)
	RemoveApplication(ctx context.Context, actor, name string) error
	Admins(ctx context.Context) ([]inventory.Admin, error)
	AddAdmin(ctx context.Context, actor, name string, role verify.Role) (inventory.Admin, string, error)
	DisableAdmin(ctx context.Context, actor, name string) error
	AuditLog(ctx context.Context, limit int) ([]inventory.AuditEntry, error)
	VerifyAudit(ctx context.Context) (inventory.AuditSummary, error)
	// Refused records in the audit log that actor was refused action.
	Refused(ctx context.Context, actor, action, why string) error
}

// FobAction names a change of a fob's state.
type FobAction string

const (
	Assign   FobAction = "assign"
	Unassign FobAction = "unassign"
	Lose     FobAction = "lost"
	Revoke   FobAction = "revoke"
	Unlock   FobAction = "unlock"
)

// Backend is the inventory, the desk and the verifier behind the admin
// API: [People], [Fobs] and [Staff] on one store.
type Backend struct {
	Store    *inventory.Store
	Verifier *verify.Verifier
}

func (b *Backend) desk(actor string) *desk.Desk { return &desk.Desk{Store: b.Store, Actor: actor} }

func (b *Backend) Users(ctx context.Context, prefix string) ([]inventory.User, error) {
	users, err := b.Store.Users(ctx, prefix)
	if users == nil && err == nil {
		users = []inventory.User{}
	}
	return users, err
}

func (b *Backend) UserDetail(ctx context.Context, name string) (desk.UserView, error) {
	return b.desk("").UserDetail(ctx, name)
}

func (b *Backend) AddUser(ctx context.Context, actor string, u inventory.User) (inventory.User, error) {
	return b.desk(actor).AddUser(ctx, u)
}

func (b *Backend) SetUserDisabled(ctx context.Context, actor, name string, disabled bool) error {
	return b.desk(actor).SetUserDisabled(ctx, name, disabled)
}

func (b *Backend) UnlockUser(ctx context.Context, actor, name string) error {
	return b.desk(actor).UnlockUser(ctx, name)
}

func (b *Backend) Fobs(ctx context.Context, filter inventory.FobFilter) ([]desk.FobView, error) {
	return b.desk("").Fobs(ctx, filter)
}

func (b *Backend) Fob(ctx context.Context, serial string) (desk.FobView, error) {
	f, err := b.Store.Fob(ctx, serial)
	if err != nil {
		return desk.FobView{}, err
	}
	return desk.ViewFob(&f), nil
}

func (b *Backend) FobAction(ctx context.Context, actor string, action FobAction, serial, user string) error {
	d := b.desk(actor)
	switch action {
	case Assign:
		return d.AssignFob(ctx, serial, user)
	case Unassign:
		return d.UnassignFob(ctx, serial)
	case Lose:
		return d.ReportLost(ctx, serial)
	case Revoke:
		return d.Revoke(ctx, serial)
	case Unlock:
		return d.UnlockFob(ctx, serial)
	}
	return errorf(400, "bad_action", "no fob action %q", action)
}

func (b *Backend) Resync(ctx context.Context, actor, serial, code1, code2 string) (verify.Decision, error) {
	return b.Verifier.Resync(ctx, serial, code1, code2, actor)
}

func (b *Backend) BypassCodes(ctx context.Context, user string) ([]inventory.BypassCode, error) {
	u, err := b.Store.User(ctx, user)
	if err != nil {
		return nil, err
	}
	codes, err := b.Store.BypassCodes(ctx, u.ID)
	if codes == nil && err == nil {
		codes = []inventory.BypassCode{}
	}
	return codes, err
}

func (b *Backend) IssueBypass(ctx context.Context, r verify.BypassRequest) (verify.IssuedBypass, error) {
	return b.Verifier.IssueBypass(ctx, r)
}

func (b *Backend) RevokeBypass(ctx context.Context, actor, user string) (int, error) {
	return b.Verifier.RevokeBypass(ctx, user, actor)
}

func (b *Backend) Keys(ctx context.Context, user string) ([]inventory.Key, error) {
	if _, err := b.Store.User(ctx, user); err != nil {
		return nil, err
	}
	keys, err := b.Store.UserKeys(ctx, user)
	if keys == nil && err == nil {
		keys = []inventory.Key{}
	}
	return keys, err
}

func (b *Backend) RemoveKey(ctx context.Context, actor, user, ref string) error {
	return b.desk(actor).RemoveKey(ctx, user, ref)
}

func (b *Backend) Import(ctx context.Context, actor string, r desk.ImportRequest) (desk.ImportResult, error) {
	return b.desk(actor).Import(ctx, r)
}

func (b *Backend) Applications(ctx context.Context) ([]inventory.Application, error) {
	return b.Store.Applications(ctx)
}

func (b *Backend) AddApplication(ctx context.Context, actor string, n inventory.NewApplication) (inventory.Application, string, error) {
	return b.desk(actor).AddApplication(ctx, n)
}

func (b *Backend) RemoveApplication(ctx context.Context, actor, name string) error {
	return b.desk(actor).RemoveApplication(ctx, name)
}

func (b *Backend) Admins(ctx context.Context) ([]inventory.Admin, error) { return b.Store.Admins(ctx) }

func (b *Backend) AddAdmin(ctx context.Context, actor, name string, role verify.Role) (inventory.Admin, string, error) {
	return b.desk(actor).AddAdmin(ctx, name, role)
}

func (b *Backend) DisableAdmin(ctx context.Context, actor, name string) error {
	return b.desk(actor).DisableAdmin(ctx, name)
}

func (b *Backend) AuditLog(ctx context.Context, limit int) ([]inventory.AuditEntry, error) {
	out := []inventory.AuditEntry{}
	err := b.Store.AuditLog(ctx, limit, func(e inventory.AuditEntry) error {
		out = append(out, e)
		return nil
	})
	return out, err
}

func (b *Backend) VerifyAudit(ctx context.Context) (inventory.AuditSummary, error) {
	return b.Store.VerifyAudit(ctx)
}

func (b *Backend) Refused(ctx context.Context, actor, action, why string) error {
	return b.Store.Update(ctx, func(tx *inventory.Tx) error {
		return tx.Audit(actor, "api refused", action, why)
	})
}

// NewDeps is the server's dependencies on one inventory and its verifier.
func NewDeps(st *inventory.Store, v *verify.Verifier) Deps {
	b := &Backend{Store: st, Verifier: v}
	return Deps{Decider: v, Directory: st, People: b, Fobs: b, Staff: b}
}
