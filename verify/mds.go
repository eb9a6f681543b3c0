package verify

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/keydesk/keydesk/u2f"
)

// Errors of the FIDO Metadata Service (MDS3).
var (
	// ErrBadMDS is a BLOB that does not read as MDS3 §3.1 says.
	ErrBadMDS = errors.New("the FIDO metadata BLOB is unusable")
	// ErrMDSUntrusted is a BLOB whose signing chain does not lead to a
	// trusted root (MDS3 §3.2 step 4).
	ErrMDSUntrusted = errors.New("the FIDO metadata BLOB is not signed by a trusted root")
	// ErrMDSStale is a BLOB past its nextUpdate (and the grace allowed).
	ErrMDSStale = errors.New("the FIDO metadata BLOB is past its nextUpdate: fetch a new one from the FIDO Metadata Service and import it")
	// ErrModelRevoked is a key model the MDS reports revoked or
	// compromised.
	ErrModelRevoked = Refusef("the FIDO metadata service reports this key model revoked or compromised")
)

// Bounds of a BLOB. The real one is a few megabytes with a few thousand
// entries; its x5c has three certificates.
const (
	maxMDSBlob    = 32 << 20
	maxMDSEntries = 50000
	maxMDSChain   = 8
)

// Algorithms a BLOB may be signed with (MDS3 §3.1.7 allows any JWS one;
// the FIDO Alliance signs with RS256).
var mdsAlgorithms = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"}

// MDS is a FIDO metadata BLOB whose signature was checked.
type MDS struct {
	Serial      int       // the BLOB's "no", one more with each new BLOB
	NextUpdate  time.Time // the day a newer BLOB is due, UTC midnight
	LegalHeader string
	Signer      string   // subject of the certificate that signed the BLOB
	Warnings    []string // entries that did not read whole, grace used

	entries map[u2f.AAGUID]*MDSEntry
	keyIDs  map[string]*MDSEntry // U2F models, by attestation key identifier
	models  int
}

// MDSEntry is what the MDS says of one key model.
type MDSEntry struct {
	AAGUID      u2f.AAGUID
	Description string // the model's name
	// KeyIdentifiers name a U2F model's attestation keys (hex SHA-1 of
	// the certificate's subjectPublicKey).
	KeyIdentifiers []string
	// AttestationRoots are the model's trust anchors; they extend the
	// trust for this model only.
	AttestationRoots       []*x509.Certificate
	StatusReports          []MDSStatus // the model's history, as listed
	Status                 string      // the current status, see [MDS.Refuse]
	TimeOfLastStatusChange time.Time
	// Partial is an entry that did not read whole: its status reports
	// are kept, its roots are not.
	Partial bool
}

// MDSStatus is one status report (MDS3 §3.1.3).
type MDSStatus struct {
	Status               string    // e.g. "FIDO_CERTIFIED_L1", "REVOKED"
	EffectiveDate        time.Time // zero when the report has none
	AuthenticatorVersion uint32
}

// ParseMDS checks and reads a FIDO MDS3 BLOB (MDS3 §3.2): a JWS whose x5c
// chain must lead to one of roots (nil: the built-in FIDO roots, see
// [FIDOMetadataRoots]) at now, whose signature must verify, and whose
// nextUpdate must not have passed. On error it returns nil.
func ParseMDS(blob []byte, roots *x509.CertPool, now time.Time) (*MDS, error) {
	return ParseMDSWithGrace(blob, roots, now, 0)
}

// ParseMDSWithGrace is [ParseMDS] for a site that cannot fetch a new BLOB
// on the day: it accepts a BLOB up to grace past its nextUpdate, with a
// warning. keydesk's default grace is none; revocations published since
// are unknown to a stale BLOB.
func ParseMDSWithGrace(blob []byte, roots *x509.CertPool, now time.Time, grace time.Duration) (*MDS, error) {
	if len(blob) > maxMDSBlob {
		return nil, fmt.Errorf("%w: %d bytes (at most %d)", ErrBadMDS, len(blob), maxMDSBlob)
	}
	if roots == nil {
		roots = FIDOMetadataRoots()
	}
	var (
		payload mdsPayload
		signer  string
		keyErr  error
	)
	keyFunc := func(t *jwt.Token) (any, error) {
		leaf, err := mdsSigner(t.Header, roots, now)
		if err != nil {
			keyErr = err
			return nil, err
		}
		signer = leaf.Subject.String()
		return leaf.PublicKey, nil
	}
	p := jwt.NewParser(jwt.WithValidMethods(mdsAlgorithms), jwt.WithoutClaimsValidation())
	if _, err := p.ParseWithClaims(string(bytes.TrimSpace(blob)), &payload, keyFunc); err != nil {
		switch {
		case keyErr != nil:
			return nil, keyErr
		case errors.Is(err, jwt.ErrTokenSignatureInvalid):
			return nil, fmt.Errorf("%w: BLOB %w", ErrBadMDS, ErrBadSignature)
		}
		return nil, fmt.Errorf("%w: %v", ErrBadMDS, err)
	}
	m, err := payload.read()
	if err != nil {
		return nil, err
	}
	m.Signer = signer
	if err := m.current(now, grace); err != nil {
		return nil, err
	}
	if now.After(m.expiry(0)) {
		m.Warnings = append(m.Warnings, fmt.Sprintf("the BLOB was due for renewal on %s; accepted within the grace of %s", m.NextUpdate.Format(time.DateOnly), grace))
	}
	return m, nil
}

// mdsSigner checks the BLOB's signing chain (MDS3 §3.2 steps 3-4). x5u
// would need the network and is refused; a BLOB without x5c names no
// signer keydesk could check.
func mdsSigner(header map[string]any, roots *x509.CertPool, now time.Time) (*x509.Certificate, error) {
	if _, ok := header["x5u"]; ok {
		return nil, fmt.Errorf("%w: the header names its certificates by URL (x5u); keydesk works offline", ErrBadMDS)
	}
	list, ok := header["x5c"].([]any)
	if !ok || len(list) == 0 || len(list) > maxMDSChain {
		return nil, fmt.Errorf("%w: the header has no x5c chain of 1 to %d certificates", ErrBadMDS, maxMDSChain)
	}
	inter := x509.NewCertPool()
	var leaf *x509.Certificate
	for i, item := range list {
		s, _ := item.(string)
		der, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, fmt.Errorf("%w: x5c[%d] is not base64: %v", ErrBadMDS, i, err)
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, fmt.Errorf("%w: x5c[%d]: %v", ErrBadMDS, i, err)
		}
		if i == 0 {
			leaf = c
			continue
		}
		inter.AddCert(c)
	}
	opts := x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}
	if _, err := leaf.Verify(opts); err != nil {
		return nil, fmt.Errorf("%w: %q: %v", ErrMDSUntrusted, leaf.Subject.String(), err)
	}
	return leaf, nil
}

// expiry is the end of the BLOB's life: nextUpdate names a day, through
// which the BLOB serves.
func (m *MDS) expiry(grace time.Duration) time.Time {
	return m.NextUpdate.Add(24 * time.Hour).Add(grace)
}

// current refuses a stale BLOB.
func (m *MDS) current(now time.Time, grace time.Duration) error {
	if !now.Before(m.expiry(grace)) {
		return fmt.Errorf("%w (BLOB no %d, nextUpdate %s)", ErrMDSStale, m.Serial, m.NextUpdate.Format(time.DateOnly))
	}
	return nil
}

// Len is the number of key models in the BLOB.
func (m *MDS) Len() int { return m.models }

// Entry is what the BLOB says of the model aaguid.
func (m *MDS) Entry(aaguid u2f.AAGUID) (MDSEntry, bool) {
	e, ok := m.entries[aaguid]
	if !ok {
		return MDSEntry{}, false
	}
	return e.clone(), true
}

// Refuse returns [ErrModelRevoked] (wrapped, with the status and its
// date) when the model may not be registered, and nil for a model in good
// standing or unknown to the BLOB.
//
// The status reports are a history. The current status is the report
// with the latest effective date (the last listed, on a tie), and that is
// what [MDSEntry.Status] shows. But REVOKED and the compromise statuses
// (ATTESTATION_KEY_COMPROMISE, USER_VERIFICATION_BYPASS,
// USER_KEY_REMOTE_COMPROMISE, USER_KEY_PHYSICAL_COMPROMISE) are decisive
// wherever they stand in the history: a later report of a fixed firmware
// (UPDATE_AVAILABLE, a new certification) covers the keys that have it,
// and the desk cannot tell which firmware the key in hand runs.
func (m *MDS) Refuse(aaguid u2f.AAGUID) error {
	e, ok := m.entries[aaguid]
	if !ok {
		return nil
	}
	return e.refuse()
}

// decisiveStatuses refuse a model whenever reported (MDS3 §3.1.4).
var decisiveStatuses = map[string]bool{
	"REVOKED":                      true,
	"ATTESTATION_KEY_COMPROMISE":   true,
	"USER_VERIFICATION_BYPASS":     true,
	"USER_KEY_REMOTE_COMPROMISE":   true,
	"USER_KEY_PHYSICAL_COMPROMISE": true,
}

func (e *MDSEntry) refuse() error {
	for _, r := range e.StatusReports {
		if !decisiveStatuses[r.Status] {
			continue
		}
		since := ""
		if !r.EffectiveDate.IsZero() {
			since = " since " + r.EffectiveDate.Format(time.DateOnly)
		}
		return fmt.Errorf("%w: %s (%s) is %s%s", ErrModelRevoked, e.Description, e.name(), r.Status, since)
	}
	return nil
}

func (e *MDSEntry) name() string {
	if e.AAGUID == (u2f.AAGUID{}) && len(e.KeyIdentifiers) > 0 {
		return "U2F key " + e.KeyIdentifiers[0]
	}
	return e.AAGUID.String()
}

func (e *MDSEntry) clone() MDSEntry {
	c := *e
	c.KeyIdentifiers = append([]string(nil), e.KeyIdentifiers...)
	c.AttestationRoots = append([]*x509.Certificate(nil), e.AttestationRoots...)
	c.StatusReports = append([]MDSStatus(nil), e.StatusReports...)
	return c
}

// currentStatus is the report of the latest effective date.
func currentStatus(reports []MDSStatus) string {
	cur := -1
	for i, r := range reports {
		if cur < 0 || !r.EffectiveDate.Before(reports[cur].EffectiveDate) {
			cur = i
		}
	}
	if cur < 0 {
		return ""
	}
	return reports[cur].Status
}

// mdsPayload is the BLOB's payload (MDS3 §3.1.6), entries left raw to be
// read one by one.
type mdsPayload struct {
	LegalHeader string            `json:"legalHeader"`
	No          *int              `json:"no"`
	NextUpdate  string            `json:"nextUpdate"`
	Entries     []json.RawMessage `json:"entries"`
}

// The payload has no registered claims to validate (RFC 7519 §4.1).
func (mdsPayload) GetExpirationTime() (*jwt.NumericDate, error) { return nil, nil }
func (mdsPayload) GetIssuedAt() (*jwt.NumericDate, error)       { return nil, nil }
func (mdsPayload) GetNotBefore() (*jwt.NumericDate, error)      { return nil, nil }
func (mdsPayload) GetIssuer() (string, error)                   { return "", nil }
func (mdsPayload) GetSubject() (string, error)                  { return "", nil }
func (mdsPayload) GetAudience() (jwt.ClaimStrings, error)       { return nil, nil }

func (p *mdsPayload) read() (*MDS, error) {
	if p.No == nil {
		return nil, fmt.Errorf("%w: the payload has no serial number (no)", ErrBadMDS)
	}
	next, err := time.Parse(time.DateOnly, p.NextUpdate)
	if err != nil {
		return nil, fmt.Errorf("%w: nextUpdate %q is not a date", ErrBadMDS, p.NextUpdate)
	}
	if len(p.Entries) > maxMDSEntries {
		return nil, fmt.Errorf("%w: %d entries (at most %d)", ErrBadMDS, len(p.Entries), maxMDSEntries)
	}
	m := &MDS{Serial: *p.No, NextUpdate: next, LegalHeader: p.LegalHeader,
		entries: map[u2f.AAGUID]*MDSEntry{}, keyIDs: map[string]*MDSEntry{}}
	for i, raw := range p.Entries {
		e, warning, err := readMDSEntry(raw)
		if err != nil {
			return nil, fmt.Errorf("%w: entry %d: %v", ErrBadMDS, i, err)
		}
		if warning != "" {
			m.Warnings = append(m.Warnings, fmt.Sprintf("entry %d (%s): %s", i, e.Description, warning))
		}
		if err := m.add(e); err != nil {
			return nil, fmt.Errorf("%w: entry %d: %v", ErrBadMDS, i, err)
		}
	}
	return m, nil
}

// add indexes an entry by AAGUID, or by key identifiers for U2F models;
// UAF-only entries (an AAID and nothing else) do not concern keydesk.
func (m *MDS) add(e *MDSEntry) error {
	if e.AAGUID != (u2f.AAGUID{}) {
		if _, dup := m.entries[e.AAGUID]; dup {
			return fmt.Errorf("AAGUID %s listed twice", e.AAGUID)
		}
		m.entries[e.AAGUID] = e
		m.models++
		return nil
	}
	if len(e.KeyIdentifiers) > 0 {
		m.models++
	}
	for _, id := range e.KeyIdentifiers {
		if _, dup := m.keyIDs[id]; dup {
			return fmt.Errorf("attestation key identifier %s listed twice", id)
		}
		m.keyIDs[id] = e
	}
	return nil
}
