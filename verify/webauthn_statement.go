package verify

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/protocol/webauthncbor"
	"github.com/go-webauthn/webauthn/protocol/webauthncose"

	"github.com/keydesk/keydesk/u2f"
)

// Results of a WebAuthn attestation, besides "trusted", "trusted,
// expired" and "untrusted" of [CheckAttestation].
const (
	resultSelf = "self" // packed, signed by the credential key itself (§8.2)
	resultNone = "none" // no attestation (§8.7)
)

// checkStatement verifies the attestation statement (§7.1 step 19-21) of
// the formats a help desk meets: packed, fido-u2f and none. It returns
// what the attestation says and the certificates, DER, leaf first.
func checkStatement(r *registration, ts *TrustStore, entry *MDSEntry, now time.Time) (Attestation, [][]byte, error) {
	var (
		att   Attestation
		certs []*x509.Certificate
		err   error
	)
	stmt := r.obj.AttStatement
	switch protocol.AttestationFormat(r.obj.Format) {
	case protocol.AttestationFormatNone:
		// §8.7: an empty statement, nothing to verify.
		if len(stmt) != 0 {
			return Attestation{}, nil, fmt.Errorf("%w: format none with a statement of %d fields", ErrBadAttestation, len(stmt))
		}
		att.Result = resultNone
	case protocol.AttestationFormatPacked:
		if _, ok := stmt["x5c"]; ok {
			certs, err = checkPackedFull(r)
		} else {
			err = checkPackedSelf(r)
			att.Result = resultSelf
		}
	case protocol.AttestationFormatFIDOUniversalSecondFactor:
		certs, err = checkFIDOU2F(r)
	default:
		err = fmt.Errorf("%w: format %q is not one keydesk checks (packed, fido-u2f, none)", ErrBadAttestation, r.obj.Format)
	}
	if err != nil {
		return Attestation{}, nil, err
	}
	var aaguid u2f.AAGUID
	copy(aaguid[:], r.obj.AuthData.AttData.AAGUID)
	if aaguid != (u2f.AAGUID{}) {
		att.AAGUID = aaguid.String()
		att.Model = knownAAGUIDs[hex.EncodeToString(aaguid[:])]
	}
	var chain [][]byte
	if len(certs) > 0 {
		att = chainTrust(certs, ts, entry, now, att)
		for _, c := range certs {
			chain = append(chain, bytes.Clone(c.Raw))
		}
	}
	if entry != nil && entry.Description != "" {
		att.Model = entry.Description
	}
	return att, chain, nil
}

// checkPackedSelf verifies a packed self attestation (§8.2 step 4): the
// credential key signed authData || clientDataHash, with its own
// algorithm. go-webauthn does the verification.
func checkPackedSelf(r *registration) error {
	stmt := r.obj.AttStatement
	alg, ok := stmt["alg"].(int64)
	if !ok {
		return fmt.Errorf("%w: packed statement without an alg", ErrBadAttestation)
	}
	if _, ok := stmt["sig"].([]byte); !ok {
		return fmt.Errorf("%w: packed statement without a sig", ErrBadAttestation)
	}
	if _, ok := stmt["ecdaaKeyId"]; ok {
		return fmt.Errorf("%w: ECDAA attestation is not supported", ErrBadAttestation)
	}
	if webauthncose.COSEAlgorithmIdentifier(alg) != r.alg {
		return fmt.Errorf("%w: statement alg %d is not the credential key's %d", ErrBadAttestation, alg, r.alg)
	}
	if err := r.obj.VerifyAttestation(r.hash, nil, protocol.AttestationPolicy{}, protocol.SignaturePolicy{}); err != nil {
		return fmt.Errorf("self attestation %w with the credential key: %s", ErrBadSignature, libraryReason(err))
	}
	return nil
}

// checkPackedFull verifies a packed attestation with a certificate chain
// (§8.2 step 2) and the certificate rules of §8.2.1. The chain's trust is
// decided apart, at the desk's clock, so that an old key whose
// certificate expired is still read.
func checkPackedFull(r *registration) ([]*x509.Certificate, error) {
	stmt := r.obj.AttStatement
	alg, ok := stmt["alg"].(int64)
	if !ok {
		return nil, fmt.Errorf("%w: packed statement without an alg", ErrBadAttestation)
	}
	sig, ok := stmt["sig"].([]byte)
	if !ok {
		return nil, fmt.Errorf("%w: packed statement without a sig", ErrBadAttestation)
	}
	certs, err := parseX5C(stmt["x5c"])
	if err != nil {
		return nil, err
	}
	leaf := certs[0]
	sigAlg := webauthncose.SigAlgFromCOSEAlg(webauthncose.COSEAlgorithmIdentifier(alg))
	if sigAlg == x509.UnknownSignatureAlgorithm {
		return nil, fmt.Errorf("%w: statement alg %d", ErrBadAttestation, alg)
	}
	signed := slices.Concat(r.obj.RawAuthData, r.hash)
	if err := leaf.CheckSignature(sigAlg, signed, sig); err != nil {
		return nil, fmt.Errorf("packed attestation %w with certificate %q: %v", ErrBadSignature, leaf.Subject.CommonName, err)
	}
	if err := packedCertRules(leaf); err != nil {
		return nil, err
	}
	// §8.2.1: the AAGUID extension, when present, names the same model.
	certGUID, present, err := certAAGUID(leaf)
	if err != nil {
		return nil, err
	}
	if present && !bytes.Equal(certGUID, r.obj.AuthData.AttData.AAGUID) {
		return nil, fmt.Errorf("%w: certificate %x, authenticator data %x", ErrAAGUIDMismatch, certGUID, r.obj.AuthData.AttData.AAGUID)
	}
	return certs, nil
}

// packedCertRules are §8.2.1's requirements on a packed attestation
// certificate.
func packedCertRules(c *x509.Certificate) error {
	s := c.Subject
	switch {
	case c.Version != 3:
		return fmt.Errorf("%w: version %d certificate (must be 3)", ErrBadAttestation, c.Version)
	case len(s.Country) != 1 || len(s.Country[0]) != 2:
		return fmt.Errorf("%w: subject country %q is not a two-letter code", ErrBadAttestation, s.Country)
	case strings.Join(s.Organization, "") == "":
		return fmt.Errorf("%w: subject has no organisation", ErrBadAttestation)
	case strings.Join(s.OrganizationalUnit, " ") != "Authenticator Attestation":
		return fmt.Errorf("%w: subject OU %q is not \"Authenticator Attestation\"", ErrBadAttestation, s.OrganizationalUnit)
	case s.CommonName == "":
		return fmt.Errorf("%w: subject has no common name", ErrBadAttestation)
	case c.BasicConstraintsValid && c.IsCA:
		return fmt.Errorf("%w: the attestation certificate is a CA", ErrBadAttestation)
	}
	return nil
}

// certAAGUID reads id-fido-gen-ce-aaguid, which must not be critical.
func certAAGUID(c *x509.Certificate) ([]byte, bool, error) {
	for _, ext := range c.Extensions {
		if !ext.Id.Equal(oidAAGUID) {
			continue
		}
		if ext.Critical {
			return nil, true, fmt.Errorf("%w: the AAGUID extension is critical", ErrBadAttestation)
		}
		var raw []byte
		if rest, err := asn1.Unmarshal(ext.Value, &raw); err != nil || len(rest) != 0 || len(raw) != 16 {
			return nil, true, fmt.Errorf("%w: the AAGUID extension is not a 16-byte OCTET STRING", ErrBadAttestation)
		}
		return raw, true, nil
	}
	return nil, false, nil
}

// checkFIDOU2F verifies a fido-u2f statement (§8.6): one P-256
// certificate whose key signed 0x00 || rpIdHash || clientDataHash ||
// credentialId || the user key as a U2F point.
func checkFIDOU2F(r *registration) ([]*x509.Certificate, error) {
	stmt := r.obj.AttStatement
	sig, ok := stmt["sig"].([]byte)
	if !ok {
		return nil, fmt.Errorf("%w: fido-u2f statement without a sig", ErrBadAttestation)
	}
	certs, err := parseX5C(stmt["x5c"])
	if err != nil {
		return nil, err
	}
	if len(certs) != 1 {
		return nil, fmt.Errorf("%w: fido-u2f statement with %d certificates (must be 1)", ErrBadAttestation, len(certs))
	}
	certKey, ok := certs[0].PublicKey.(*ecdsa.PublicKey)
	if !ok || certKey.Curve != elliptic.P256() {
		return nil, fmt.Errorf("%w: its key is not ECDSA P-256", ErrBadAttestation)
	}
	var key webauthncose.EC2PublicKeyData
	ad := r.obj.AuthData
	if err := webauthncbor.Unmarshal(ad.AttData.CredentialPublicKey, &key); err != nil || r.alg != webauthncose.AlgES256 ||
		webauthncose.COSEEllipticCurve(key.Curve) != webauthncose.P256 || len(key.XCoord) != 32 || len(key.YCoord) != 32 {
		return nil, fmt.Errorf("%w: a fido-u2f credential key must be ES256 on P-256", ErrAlgorithm)
	}
	point := slices.Concat([]byte{4}, key.XCoord, key.YCoord)
	if _, err := parseU2FPublicKey(point); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformedAnswer, err)
	}
	signed := slices.Concat([]byte{0}, ad.RPIDHash, r.hash, ad.AttData.CredentialID, point)
	if err := verifyES256(certKey, signed, sig); err != nil {
		return nil, fmt.Errorf("fido-u2f attestation %w with certificate %q", err, certs[0].Subject.CommonName)
	}
	return certs, nil
}

// parseX5C reads an attestation chain, leaf first, bounded.
func parseX5C(v any) ([]*x509.Certificate, error) {
	list, ok := v.([]any)
	if !ok || len(list) == 0 {
		return nil, fmt.Errorf("%w: x5c is not a list of certificates", ErrBadAttestation)
	}
	if len(list) > maxX5C {
		return nil, fmt.Errorf("%w: x5c of %d certificates (at most %d)", ErrBadAttestation, len(list), maxX5C)
	}
	certs := make([]*x509.Certificate, 0, len(list))
	for i, item := range list {
		der, ok := item.([]byte)
		if !ok {
			return nil, fmt.Errorf("%w: x5c[%d] is not a byte string", ErrBadAttestation, i)
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, fmt.Errorf("%w: x5c[%d]: %v", ErrBadAttestation, i, err)
		}
		certs = append(certs, c)
	}
	return certs, nil
}

// chainTrust decides whether the chain leads to a vendor root or, for a
// model the MDS knows, to one of its roots (MDS3 §3.1.8: a trust anchor
// may be a root, an intermediate or the attestation certificate itself).
// As [CheckAttestation] does, a chain whose certificates expired is
// checked as of the last day they were all valid: still trusted, with a
// warning, since attestation only vouches for how the key was made.
func chainTrust(certs []*x509.Certificate, ts *TrustStore, entry *MDSEntry, now time.Time, att Attestation) Attestation {
	leaf := certs[0]
	att.Issuer, att.Subject, att.Result = leaf.Issuer.String(), leaf.Subject.String(), "untrusted"
	if att.Model == "" {
		att.Model, _ = model(leaf)
	}
	roots := x509.NewCertPool()
	if ts != nil && ts.pool != nil {
		roots = ts.pool.Clone()
	}
	if entry != nil {
		for _, c := range entry.AttestationRoots {
			roots.AddCert(c)
		}
	}
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	at, expired := now, time.Time{}
	for _, c := range certs {
		if now.After(c.NotAfter) && (expired.IsZero() || c.NotAfter.Before(expired)) {
			expired = c.NotAfter
		}
	}
	if !expired.IsZero() {
		at = expired.Add(-time.Second)
	}
	opts := x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: at, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}
	if _, err := leaf.Verify(opts); err != nil {
		return att
	}
	att.Result = "trusted"
	if !expired.IsZero() {
		att.Result = "trusted, expired"
		att.Warning = fmt.Sprintf("the attestation certificate expired on %s (usual for older keys)", expired.Format(time.DateOnly))
	}
	return att
}
