package verify

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// collectedClientData is the part of the client data (WebAuthn §5.8.1)
// that a server checks; other members are ignored, as §5.8.1.2 allows.
type collectedClientData struct {
	Type        string `json:"type"`
	Challenge   string `json:"challenge"`
	Origin      string `json:"origin"`
	CrossOrigin bool   `json:"crossOrigin"`
}

// clientDataHash returns the hash the key signed. With the desk's own
// hash it only checks the length; with a browser's client data it checks
// the ceremony, challenge and origin (§7.1 steps 7-11, §7.2 steps 11-14)
// and hashes the bytes as sent.
func clientDataHash(hash, clientJSON, challenge []byte, origins []string, ceremony string) ([]byte, error) {
	switch {
	case len(hash) > 0 && len(clientJSON) > 0:
		return nil, fmt.Errorf("%w: both client data and its hash were given", ErrClientData)
	case len(hash) > 0:
		if len(hash) != sha256.Size {
			return nil, fmt.Errorf("%w: client data hash of %d bytes (must be %d)", ErrClientData, len(hash), sha256.Size)
		}
		return slices.Clone(hash), nil
	case len(clientJSON) == 0:
		return nil, fmt.Errorf("%w: neither client data nor its hash was given", ErrClientData)
	case len(clientJSON) > maxClientDataJSON:
		return nil, fmt.Errorf("%w: client data of %d bytes (at most %d)", ErrMalformedAnswer, len(clientJSON), maxClientDataJSON)
	}
	var c collectedClientData
	if err := json.Unmarshal(clientJSON, &c); err != nil {
		return nil, fmt.Errorf("%w: client data: %v", ErrMalformedAnswer, err)
	}
	if c.Type != ceremony {
		return nil, fmt.Errorf("%w: type %q, expected %q", ErrClientData, c.Type, ceremony)
	}
	// §5.8.1: the challenge is base64url without padding; some clients
	// pad it anyway.
	got, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(c.Challenge, "="))
	if err != nil || len(challenge) == 0 || subtle.ConstantTimeCompare(got, challenge) != 1 {
		return nil, fmt.Errorf("%w: not the challenge keydesk issued", ErrClientData)
	}
	if !slices.Contains(origins, c.Origin) {
		return nil, fmt.Errorf("%w: origin %q is not one of %q", ErrClientData, c.Origin, origins)
	}
	// keydesk's pages are never framed by another site.
	if c.CrossOrigin {
		return nil, fmt.Errorf("%w: the request came from a frame of another origin", ErrClientData)
	}
	h := sha256.Sum256(clientJSON)
	return h[:], nil
}
