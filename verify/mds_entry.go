package verify

import (
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/go-webauthn/webauthn/metadata"
	"github.com/go-webauthn/webauthn/protocol"

	"github.com/keydesk/keydesk/u2f"
)

// mdsEntryCore is what keydesk must read of every entry to refuse what
// must be refused, even when the rest of the entry does not read.
type mdsEntryCore struct {
	AAGUID    string   `json:"aaguid"`
	KeyIDs    []string `json:"attestationCertificateKeyIdentifiers"`
	Statement struct {
		Description string `json:"description"`
	} `json:"metadataStatement"`
	StatusReports []struct {
		Status               string `json:"status"`
		EffectiveDate        string `json:"effectiveDate"`
		AuthenticatorVersion uint32 `json:"authenticatorVersion"`
	} `json:"statusReports"`
}

// readMDSEntry reads one entry (MDS3 §3.1.1) with go-webauthn's metadata
// types. An entry they refuse (the real BLOB has had odd URLs and dates)
// is kept from its core, marked partial and without roots, with a
// warning; an entry whose core does not read is an error.
func readMDSEntry(raw json.RawMessage) (*MDSEntry, string, error) {
	var core mdsEntryCore
	if err := json.Unmarshal(raw, &core); err != nil {
		return nil, "", err
	}
	e := &MDSEntry{Description: core.Statement.Description, Partial: true}
	if core.AAGUID != "" {
		a, err := parseAAGUID(core.AAGUID)
		if err != nil {
			return nil, "", err
		}
		e.AAGUID = a
	}
	for _, id := range core.KeyIDs {
		e.KeyIdentifiers = append(e.KeyIdentifiers, strings.ToLower(id))
	}
	for i, r := range core.StatusReports {
		s := MDSStatus{Status: r.Status, AuthenticatorVersion: r.AuthenticatorVersion}
		if r.EffectiveDate != "" {
			d, err := time.Parse(time.DateOnly, r.EffectiveDate)
			if err != nil {
				return nil, "", fmt.Errorf("status report %d: effectiveDate %q is not a date", i, r.EffectiveDate)
			}
			s.EffectiveDate = d
		}
		e.StatusReports = append(e.StatusReports, s)
	}
	e.Status = currentStatus(e.StatusReports)

	var full metadata.EntryJSON
	if err := json.Unmarshal(raw, &full); err != nil {
		return e, "read in part (" + err.Error() + "); its roots are ignored", nil
	}
	parsed, err := full.Parse()
	if err != nil {
		return e, "read in part (" + err.Error() + "); its roots are ignored", nil
	}
	e.Partial = false
	e.AttestationRoots = parsed.MetadataStatement.AttestationRootCertificates
	e.TimeOfLastStatusChange = parsed.TimeOfLastStatusChange
	return e, "", nil
}

// parseAAGUID reads the UUID form "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx".
func parseAAGUID(s string) (u2f.AAGUID, error) {
	var a u2f.AAGUID
	h := strings.ReplaceAll(s, "-", "")
	if len(s) != 36 || len(h) != 32 {
		return a, fmt.Errorf("AAGUID %q is not a UUID", s)
	}
	if _, err := hex.Decode(a[:], []byte(h)); err != nil {
		return a, fmt.Errorf("AAGUID %q is not a UUID", s)
	}
	return a, nil
}

// lookup finds the entry for a registration: by AAGUID, or for a U2F key
// (zero AAGUID) by its attestation certificate's key identifier (MDS3
// §3.1.1 attestationCertificateKeyIdentifiers).
func (m *MDS) lookup(aaguid u2f.AAGUID, obj protocol.AttestationObject) *MDSEntry {
	if aaguid != (u2f.AAGUID{}) {
		return m.entries[aaguid]
	}
	list, ok := obj.AttStatement["x5c"].([]any)
	if !ok || len(list) == 0 {
		return nil
	}
	der, _ := list[0].([]byte)
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil
	}
	id, err := keyIdentifier(c)
	if err != nil {
		return nil
	}
	return m.keyIDs[id]
}

// keyIdentifier is the hex SHA-1 of the certificate's subjectPublicKey
// bits (RFC 5280 §4.2.1.2 method 1), as MDS3 names U2F attestation keys.
func keyIdentifier(c *x509.Certificate) (string, error) {
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(c.RawSubjectPublicKeyInfo, &spki); err != nil {
		return "", err
	}
	h := sha1.Sum(spki.PublicKey.Bytes)
	return hex.EncodeToString(h[:]), nil
}
