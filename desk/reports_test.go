package desk_test

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/keydesk/keydesk/desk"
	"github.com/keydesk/keydesk/fob"
	"github.com/keydesk/keydesk/inventory"
	"github.com/keydesk/keydesk/verify"
)

func (fx *fixture) addUser(t *testing.T, name string) {
	t.Helper()
	if _, err := fx.d.AddUser(t.Context(), inventory.User{Name: name}); err != nil {
		t.Fatal(err)
	}
}

// holds gives user a new fob, serial, changed by edit first.
func (fx *fixture) holds(t *testing.T, user, serial string, edit func(*fob.Token)) {
	t.Helper()
	tok := token(serial)
	if edit != nil {
		edit(&tok)
	}
	if err := fx.d.AddFob(t.Context(), tok, desk.AddFobOptions{}); err != nil {
		t.Fatal(err)
	}
	if user != "" {
		if err := fx.d.AssignFob(t.Context(), serial, user); err != nil {
			t.Fatal(err)
		}
	}
}

// key registers a key for user, lost when lost is set, and returns its
// number.
func (fx *fixture) key(t *testing.T, user, name string, lost bool) int64 {
	t.Helper()
	var id int64
	err := fx.s.Update(t.Context(), func(tx *inventory.Tx) error {
		u, err := tx.User(user)
		if err != nil {
			return err
		}
		k, err := tx.AddKey(u.ID, inventory.Key{Name: name, KeyHandle: []byte(user + "/" + name), PublicKey: []byte("pk"),
			AppID: "https://keydesk.example", Certificate: []byte("cert")})
		if err != nil {
			return err
		}
		id = k.ID
		if lost {
			return tx.SetKeyState(k.ID, inventory.KeyLost)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func (fx *fixture) report(t *testing.T, name string, q desk.ReportQuery) desk.Report {
	t.Helper()
	r, err := fx.d.Report(t.Context(), name, q)
	if err != nil {
		t.Fatalf("report %s: %v", name, err)
	}
	if !r.AsOf.Equal(fx.now) || r.Name != name {
		t.Errorf("report %s as of %v, want %v", r.Name, r.AsOf, fx.now)
	}
	return r
}

func TestReportNoFactor(t *testing.T) {
	fx := newDesk(t)
	ctx := t.Context()
	for _, u := range []string{"bea", "cal", "dan", "eve", "fay", "gus", "hal", "ivy", "jo", "kim", "lou"} {
		fx.addUser(t, u)
	}
	fx.holds(t, "bea", "B-1", nil)
	fx.holds(t, "cal", "C-1", func(tok *fob.Token) { tok.NotAfter = fx.now.Add(-time.Hour) })
	fx.holds(t, "dan", "D-1", func(tok *fob.Token) { tok.NotBefore = fx.now.Add(time.Hour) })
	// A fob whose expiry date is now no longer answers.
	fx.holds(t, "eve", "E-1", func(tok *fob.Token) { tok.NotAfter = fx.now })
	fx.holds(t, "fay", "F-1", nil)
	if err := fx.d.Because("left on a bus").ReportLost(ctx, "F-1"); err != nil {
		t.Fatal(err)
	}
	fx.key(t, "gus", "blue", false)
	fx.key(t, "hal", "red", true)
	if _, err := fx.d.IssueBypass(ctx, verify.BypassRequest{User: "ivy"}); err != nil {
		t.Fatal(err)
	}
	if _, err := fx.d.IssueBypass(ctx, verify.BypassRequest{User: "jo", TTL: time.Minute}); err != nil {
		t.Fatal(err)
	}
	// A locked user still has factors: the lock ends.
	fx.holds(t, "kim", "K-1", nil)
	lockUser(t, fx, "kim")
	if err := fx.d.SetUserDisabled(ctx, "lou", true); err != nil {
		t.Fatal(err)
	}
	fx.now = fx.now.Add(2 * time.Minute) // jo's code has expired

	r := fx.report(t, desk.ReportNoFactor, desk.ReportQuery{})
	got := map[string]inventory.NoFactorUser{}
	var names []string
	for _, u := range r.Rows.([]inventory.NoFactorUser) {
		got[u.Name] = u
		names = append(names, u.Name)
	}
	if want := []string{"cal", "dan", "eve", "fay", "hal", "jo", "lou"}; !slices.Equal(names, want) {
		t.Fatalf("no factor: %v, want %v", names, want)
	}
	for name, want := range map[string]inventory.NoFactorUser{
		"cal": {OutOfDate: 1}, "dan": {OutOfDate: 1}, "eve": {OutOfDate: 1}, "fay": {LostFobs: 1}, "hal": {LostKeys: 1}, "lou": {Disabled: true},
	} {
		u := got[name]
		if u.OutOfDate != want.OutOfDate || u.LostFobs != want.LostFobs || u.LostKeys != want.LostKeys || u.Disabled != want.Disabled {
			t.Errorf("%s: %+v, want %+v", name, u, want)
		}
	}

	p1 := fx.report(t, desk.ReportNoFactor, desk.ReportQuery{Limit: 4})
	p2 := fx.report(t, desk.ReportNoFactor, desk.ReportQuery{Limit: 4, After: p1.Next})
	if p1.Next != "fay" || len(p2.Rows.([]inventory.NoFactorUser)) != 3 || p2.Next != "" {
		t.Errorf("pages of 4: next %q, then %d rows and next %q", p1.Next, len(p2.Rows.([]inventory.NoFactorUser)), p2.Next)
	}
}

func lockUser(t *testing.T, fx *fixture, name string) {
	t.Helper()
	err := fx.s.Update(t.Context(), func(tx *inventory.Tx) error {
		u, err := tx.User(name)
		if err != nil {
			return err
		}
		_, _, err = tx.RecordUserFailure(u.ID, 1)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func lockFob(t *testing.T, fx *fixture, serial string) {
	t.Helper()
	f := fx.fob(t, serial)
	if err := fx.s.Update(t.Context(), func(tx *inventory.Tx) error {
		_, _, err := tx.RecordFobFailure(f.ID, 1)
		return err
	}); err != nil {
		t.Fatal(err)
	}
}

func TestReportStock(t *testing.T) {
	fx := newDesk(t)
	ctx := t.Context()
	fx.addUser(t, "ann")
	csv := "S-1,3132333435363738393031323334353637383930,hotp,6,0\nS-2,3132333435363738393031323334353637383931,hotp,6,0\nS-3,3132333435363738393031323334353637383932,totp,6,30\n"
	if _, err := fx.d.Import(ctx, desk.ImportRequest{Files: []desk.SeedFile{{Name: "box.csv", R: strings.NewReader(csv)}}}); err != nil {
		t.Fatal(err)
	}
	if err := fx.d.AssignFob(ctx, "S-1", "ann"); err != nil {
		t.Fatal(err)
	}
	if err := fx.d.ReportLost(ctx, "S-1"); err != nil {
		t.Fatal(err)
	}
	if err := fx.d.Revoke(ctx, "S-2"); err != nil {
		t.Fatal(err)
	}
	fx.holds(t, "ann", "T-1", nil)
	rows := fx.report(t, desk.ReportStock, desk.ReportQuery{}).Rows.([]inventory.StockRow)
	want := []inventory.StockRow{
		{Batch: "box", ImportedAt: start, Stock: 1, Lost: 1, Revoked: 1, Total: 3},
		{Batch: "", Assigned: 1, Total: 1},
	}
	if !slices.Equal(rows, want) {
		t.Errorf("stock:\n%+v\nwant\n%+v", rows, want)
	}
}

func TestReportUnused(t *testing.T) {
	fx := newDesk(t)
	ctx := t.Context()
	v := verify.New(fx.s, verify.DefaultPolicy)
	fx.addUser(t, "ann")
	fx.addUser(t, "ben")
	t0 := fx.now
	fx.holds(t, "ann", "U-never", nil) // assigned at t0, never used
	fx.holds(t, "ann", "U-used", nil)  // used at t0+2d
	fx.holds(t, "", "U-late", nil)     // in stock from t0, assigned at t0+20d
	fx.holds(t, "", "U-shelf", nil)    // never handed out: not the holder's to use
	fx.holds(t, "ann", "U-handed", nil)
	oldKey := fx.key(t, "ann", "old", false)
	fx.key(t, "ann", "lost", true)

	fx.now = t0.Add(2 * 24 * time.Hour)
	for _, s := range []string{"U-used", "U-handed"} {
		tok := token(s)
		if d, err := v.VerifySerial(ctx, s, tok.Code(0), verify.Origin{Transport: "test"}); err != nil || !d.Allow {
			t.Fatalf("verify %s: %+v %v", s, d, err)
		}
	}
	// U-handed goes to ben, who never uses it: idle from the hand-over.
	fx.now = t0.Add(18 * 24 * time.Hour)
	if err := fx.d.UnassignFob(ctx, "U-handed"); err != nil {
		t.Fatal(err)
	}
	if err := fx.d.AssignFob(ctx, "U-handed", "ben"); err != nil {
		t.Fatal(err)
	}
	fx.now = t0.Add(20 * 24 * time.Hour)
	if err := fx.d.AssignFob(ctx, "U-late", "ben"); err != nil {
		t.Fatal(err)
	}
	newKey := fx.key(t, "ben", "new", false)

	fx.now = t0.Add(25 * 24 * time.Hour)
	labels := func(q desk.ReportQuery) ([]string, string) {
		r := fx.report(t, desk.ReportUnused, q)
		var out []string
		for _, f := range r.Rows.([]inventory.UnusedFactor) {
			if f.Kind == "key" {
				out = append(out, "key "+f.KeyName)
			} else {
				out = append(out, "fob "+f.Serial)
			}
		}
		return out, r.Next
	}
	for _, c := range []struct {
		days int
		want []string
	}{
		{24, []string{"fob U-never", "key old"}},
		{22, []string{"fob U-never", "fob U-used", "key old"}},
		{6, []string{"fob U-handed", "fob U-never", "fob U-used", "key old"}},
		{4, []string{"fob U-handed", "fob U-late", "fob U-never", "fob U-used", "key old", "key new"}},
	} {
		if got, _ := labels(desk.ReportQuery{Days: c.days}); !slices.Equal(got, c.want) {
			t.Errorf("unused for %d days: %v, want %v", c.days, got, c.want)
		}
	}
	r := fx.report(t, desk.ReportUnused, desk.ReportQuery{Days: 24})
	never := r.Rows.([]inventory.UnusedFactor)[0]
	if never.User != "ann" || !never.Since.Equal(t0) || !never.LastUsedAt.IsZero() {
		t.Errorf("never used fob %+v: want ann's since %v", never, t0)
	}
	if def := fx.report(t, desk.ReportUnused, desk.ReportQuery{}); def.Days != 90 || len(def.Rows.([]inventory.UnusedFactor)) != 0 {
		t.Errorf("default days %d, rows %v", def.Days, def.Rows)
	}

	// Pages run through the fobs, then the keys.
	p1, next := labels(desk.ReportQuery{Days: 4, Limit: 4})
	p2, next2 := labels(desk.ReportQuery{Days: 4, Limit: 4, After: next})
	if !slices.Equal(p1, []string{"fob U-handed", "fob U-late", "fob U-never", "fob U-used"}) || next != "fob:U-used" ||
		!slices.Equal(p2, []string{"key old", "key new"}) || next2 != "" {
		t.Errorf("pages: %v next %q, %v next %q", p1, next, p2, next2)
	}
	p3, _ := labels(desk.ReportQuery{Days: 4, After: "key:" + strconv.FormatInt(oldKey, 10)})
	if !slices.Equal(p3, []string{"key new"}) || newKey <= oldKey {
		t.Errorf("after the old key: %v", p3)
	}
	if _, err := fx.d.Report(ctx, desk.ReportUnused, desk.ReportQuery{After: "phone:1"}); !errors.Is(err, verify.ErrRefused) {
		t.Errorf("a bad cursor: %v", err)
	}
}

func TestReportExpiring(t *testing.T) {
	fx := newDesk(t)
	ctx := t.Context()
	fx.addUser(t, "ann")
	day := 24 * time.Hour
	fx.holds(t, "ann", "X-past", func(tok *fob.Token) { tok.NotAfter = fx.now.Add(-day) })
	fx.holds(t, "", "X-10d", func(tok *fob.Token) { tok.NotAfter = fx.now.Add(10 * day) })
	fx.holds(t, "", "X-now", func(tok *fob.Token) { tok.NotAfter = fx.now })
	fx.holds(t, "", "X-40d", func(tok *fob.Token) { tok.NotAfter = fx.now.Add(40 * day) })
	fx.holds(t, "", "X-none", nil)
	fx.holds(t, "", "X-revoked", func(tok *fob.Token) { tok.NotAfter = fx.now.Add(-2 * day) })
	if err := fx.d.Revoke(ctx, "X-revoked"); err != nil {
		t.Fatal(err)
	}
	r := fx.report(t, desk.ReportExpiring, desk.ReportQuery{})
	rows := r.Rows.([]desk.ExpiringFob)
	var got []string
	for _, f := range rows {
		s := f.Serial
		if f.Expired {
			s += " expired"
		}
		got = append(got, s)
	}
	if want := []string{"X-past expired", "X-now expired", "X-10d"}; r.Days != 30 || !slices.Equal(got, want) {
		t.Errorf("expiring in %d days: %v, want %v", r.Days, got, want)
	}
	if rows[0].User != "ann" || rows[0].State != inventory.Assigned || !rows[0].NotAfter.Equal(fx.now.Add(-day)) {
		t.Errorf("first row %+v", rows[0])
	}
	if n := len(fx.report(t, desk.ReportExpiring, desk.ReportQuery{Days: 41}).Rows.([]desk.ExpiringFob)); n != 4 {
		t.Errorf("within 41 days: %d fobs, want 4", n)
	}
	p1 := fx.report(t, desk.ReportExpiring, desk.ReportQuery{Days: 41, Limit: 2})
	p2 := fx.report(t, desk.ReportExpiring, desk.ReportQuery{Days: 41, Limit: 2, After: p1.Next})
	if p1.Next != "X-now" || len(p2.Rows.([]desk.ExpiringFob)) != 2 || p2.Rows.([]desk.ExpiringFob)[0].Serial != "X-10d" {
		t.Errorf("pages: next %q, then %+v", p1.Next, p2.Rows)
	}
}

func TestReportLocked(t *testing.T) {
	fx := newDesk(t)
	fx.addUser(t, "old")
	fx.addUser(t, "new")
	fx.holds(t, "new", "L-1", nil)
	t0 := fx.now
	lockUser(t, fx, "old")
	fx.now = t0.Add(16 * time.Minute) // old's lock is past its 15-minute cool-down
	lockUser(t, fx, "new")
	lockFob(t, fx, "L-1")
	fx.now = t0.Add(20 * time.Minute)

	rows := fx.report(t, desk.ReportLocked, desk.ReportQuery{}).Rows.([]desk.LockedNow)
	ends := t0.Add(31 * time.Minute)
	want := []desk.LockedNow{
		{Lock: inventory.Lock{Kind: "user", Name: "new", User: "new", FailCount: 1, LockedAt: t0.Add(16 * time.Minute)}, EndsAt: ends},
		{Lock: inventory.Lock{Kind: "fob", Name: "L-1", User: "new", FailCount: 1, LockedAt: t0.Add(16 * time.Minute)}, EndsAt: ends},
	}
	if !slices.Equal(rows, want) {
		t.Errorf("locked:\n%+v\nwant\n%+v", rows, want)
	}

	// Where only an admin unlocks, every lock holds, and none ends by itself.
	p := verify.DefaultPolicy
	p.LockoutCooldown = 0
	admin := desk.New(fx.s, verify.New(fx.s, p)).As("clerk")
	r, err := admin.Report(t.Context(), desk.ReportLocked, desk.ReportQuery{})
	if err != nil {
		t.Fatal(err)
	}
	rows = r.Rows.([]desk.LockedNow)
	if len(rows) != 3 || rows[1].Name != "old" || !rows[1].EndsAt.IsZero() {
		t.Errorf("locked with no cool-down: %+v", rows)
	}
	fx.now = t0.Add(time.Hour)
	if rows := fx.report(t, desk.ReportLocked, desk.ReportQuery{}).Rows.([]desk.LockedNow); len(rows) != 0 {
		t.Errorf("an hour on, %d locks", len(rows))
	}
}

func TestReportBypass(t *testing.T) {
	fx := newDesk(t)
	ctx := t.Context()
	v := verify.New(fx.s, verify.DefaultPolicy)
	for _, u := range []string{"zed", "amy", "bo"} {
		fx.addUser(t, u)
	}
	issue := func(user string, ttl time.Duration) []string {
		t.Helper()
		out, err := fx.d.IssueBypass(ctx, verify.BypassRequest{User: user, TTL: ttl, Count: 1, Uses: 2})
		if err != nil {
			t.Fatal(err)
		}
		return out.Codes
	}
	issue("zed", time.Hour)
	issue("amy", 3*time.Hour)
	issue("amy", 2*time.Hour)
	used := issue("bo", time.Hour)
	for range 2 {
		if d, err := v.VerifyUser(ctx, "bo", used[0], verify.Origin{Transport: "test"}); err != nil || !d.Allow {
			t.Fatalf("bo's code: %+v %v", d, err)
		}
	}
	issue("bo", time.Hour)
	if _, err := fx.d.RevokeBypass(ctx, "bo"); err != nil {
		t.Fatal(err)
	}
	r := fx.report(t, desk.ReportBypass, desk.ReportQuery{})
	var got []string
	for _, c := range r.Rows.([]inventory.LiveBypass) {
		got = append(got, c.User+" "+c.ExpiresAt.Sub(fx.now).String())
	}
	if want := []string{"amy 2h0m0s", "amy 3h0m0s", "zed 1h0m0s"}; !slices.Equal(got, want) {
		t.Errorf("live codes %v, want %v", got, want)
	}
	p1 := fx.report(t, desk.ReportBypass, desk.ReportQuery{Limit: 2})
	p2 := fx.report(t, desk.ReportBypass, desk.ReportQuery{Limit: 2, After: p1.Next})
	if rows := p2.Rows.([]inventory.LiveBypass); p1.Next == "" || len(rows) != 1 || rows[0].User != "zed" {
		t.Errorf("second page after %q: %+v", p1.Next, p2.Rows)
	}
	fx.now = fx.now.Add(time.Hour)
	if rows := fx.report(t, desk.ReportBypass, desk.ReportQuery{}).Rows.([]inventory.LiveBypass); len(rows) != 2 {
		t.Errorf("an hour on: %+v, want amy's two", rows)
	}
}

func TestReportRefusals(t *testing.T) {
	fx := newDesk(t)
	for _, c := range []struct {
		name string
		q    desk.ReportQuery
		want error
	}{
		{"no-such", desk.ReportQuery{}, desk.ErrNoReport},
		{desk.ReportUnused, desk.ReportQuery{Days: -1}, verify.ErrRefused},
		{desk.ReportExpiring, desk.ReportQuery{Days: desk.MaxDays + 1}, verify.ErrRefused},
		{desk.ReportStock, desk.ReportQuery{Days: 3}, verify.ErrRefused},
		{desk.ReportBypass, desk.ReportQuery{After: "x"}, verify.ErrRefused},
	} {
		if _, err := fx.d.Report(t.Context(), c.name, c.q); !errors.Is(err, c.want) {
			t.Errorf("%s %+v: %v, want %v", c.name, c.q, err, c.want)
		}
	}
}

func TestUsersWithFactorsAndTotals(t *testing.T) {
	fx := newDesk(t)
	ctx := t.Context()
	fx.addUser(t, "ann")
	fx.addUser(t, "bob")
	fx.holds(t, "ann", "A-1", nil)
	fx.holds(t, "ann", "A-2", func(tok *fob.Token) { tok.Kind, tok.Period = fob.TOTP, 30 })
	fx.holds(t, "ann", "A-3", func(tok *fob.Token) { tok.NotAfter = fx.now })
	fx.holds(t, "", "S-1", nil)
	fx.key(t, "ann", "blue", false)
	fx.key(t, "ann", "gone", true)
	if _, err := fx.d.IssueBypass(ctx, verify.BypassRequest{User: "ann", Count: 2}); err != nil {
		t.Fatal(err)
	}
	users, err := fx.d.UsersWithFactors(ctx, inventory.UserFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(users) != 2 || users[0].Name != "ann" || users[0].Factors != (inventory.Factors{Fobs: 2, Keys: 1, Bypass: 2}) ||
		users[1].Factors != (inventory.Factors{}) {
		t.Errorf("users with factors: %+v", users)
	}
	tot, err := fx.d.FobTotals(ctx, inventory.FobFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if tot.Total != 4 || tot.ByState[inventory.Assigned] != 3 || tot.ByState[inventory.InStock] != 1 || tot.ByState[inventory.Lost] != 0 ||
		tot.ByKind[fob.HOTP] != 3 || tot.ByKind[fob.TOTP] != 1 {
		t.Errorf("totals %+v", tot)
	}
	if tot, err := fx.d.FobTotals(ctx, inventory.FobFilter{User: "ann", State: inventory.Assigned}); err != nil || tot.Total != 3 {
		t.Errorf("ann's assigned fobs: %+v %v", tot, err)
	}
}

// A paired phone app is a factor of its own: counted as a phone app, not
// a fob, never stock, and idle from its pairing; a pending one is none.
func TestReportsCountPhoneApps(t *testing.T) {
	fx := newDesk(t)
	ctx := t.Context()
	fx.addUser(t, "pam")
	fx.addUser(t, "pen")
	seed, err := fx.d.AddPhoneApp(ctx, "pam", "Example University")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fx.d.ActivatePhoneApp(ctx, "pam", seed.PhoneApp.ID, phoneCode(t, seed.Secret, fx.now)); err != nil {
		t.Fatal(err)
	}
	if _, err := fx.d.AddPhoneApp(ctx, "pen", "Example University"); err != nil {
		t.Fatal(err)
	}
	users, err := fx.d.UsersWithFactors(ctx, inventory.UserFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(users) != 2 || users[0].Factors != (inventory.Factors{Phones: 1}) || users[1].Factors != (inventory.Factors{}) {
		t.Errorf("users with factors: %+v", users)
	}
	if got := fx.report(t, desk.ReportNoFactor, desk.ReportQuery{}).Rows.([]inventory.NoFactorUser); len(got) != 1 || got[0].Name != "pen" {
		t.Errorf("no factor: %+v, want pen (pending app) alone", got)
	}
	if rows := fx.report(t, desk.ReportStock, desk.ReportQuery{}).Rows.([]inventory.StockRow); len(rows) != 0 {
		t.Errorf("stock holds the phone app: %+v", rows)
	}
	fx.now = fx.now.Add(10 * 24 * time.Hour)
	rows := fx.report(t, desk.ReportUnused, desk.ReportQuery{Days: 7}).Rows.([]inventory.UnusedFactor)
	if len(rows) != 1 || rows[0].Kind != "phone" || rows[0].User != "pam" {
		t.Errorf("unused: %+v, want pam's phone app", rows)
	}
}
