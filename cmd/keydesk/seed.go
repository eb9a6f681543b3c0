package main

import (
	"encoding/base32"
	"encoding/hex"
	"fmt"
	"strings"
	"unicode"
)

// readSeed reads a seed file in hex or base32 (RFC 4648 §6, as otpauth
// URIs and many vendor sheets write seeds), white space ignored, and says
// which it read. Text that is both (hex digits that are also base32
// letters and digits 2-7) is hex unless format says base32; both says so.
func readSeed(path, format string) (seed []byte, encoding string, both bool, err error) {
	raw, err := readSmallFile(path)
	if err != nil {
		return nil, "", false, err
	}
	seed, encoding, both, err = parseSeed(string(raw), format)
	if err != nil {
		return nil, "", false, fmt.Errorf("%s: %w", path, err)
	}
	return seed, encoding, both, nil
}

// parseSeed is readSeed on the file's text.
func parseSeed(raw, format string) (seed []byte, encoding string, both bool, err error) {
	text := strings.Join(strings.Fields(raw), "")
	hexSeed, hexErr := hex.DecodeString(text)
	b32Seed, b32Err := decodeBase32(text)
	switch format {
	case "hex":
		if hexErr != nil {
			return nil, "", false, fmt.Errorf("the seed is not hex: %s", notIn(raw, isHexDigit, "a hex digit", "an odd number of hex digits"))
		}
		return hexSeed, "hex", false, nil
	case "base32":
		if b32Err != nil {
			return nil, "", false, fmt.Errorf("the seed is not base32: %s", notIn(raw, isBase32, "a base32 letter or digit", "a number of base32 characters that makes no whole bytes"))
		}
		return b32Seed, "base32", false, nil
	case "auto":
	default:
		return nil, "", false, usagef("--secret-format must be auto, hex or base32, not %q", format)
	}
	switch {
	case text == "":
		return nil, "", false, fmt.Errorf("the file holds no seed")
	case hexErr == nil:
		return hexSeed, "hex", b32Err == nil, nil
	case b32Err == nil:
		return b32Seed, "base32", false, nil
	}
	return nil, "", false, fmt.Errorf("the seed is neither hex nor base32 (RFC 4648: the letters A to Z and the digits 2 to 7): %s; %s",
		notIn(raw, isHexDigit, "a hex digit", "an odd number of hex digits"), notIn(raw, isBase32, "a base32 letter or digit", "a number of base32 characters that makes no whole bytes"))
}

var base32NoPad = base32.StdEncoding.WithPadding(base32.NoPadding)

// decodeBase32 reads base32 in either case, padded or not, and refuses
// text whose last character leaves bits over (RFC 4648 §6 lengths only,
// and the unused bits zero): it was cut short or mistyped, and Go's
// decoder would read it anyway.
func decodeBase32(text string) ([]byte, error) {
	text = strings.ToUpper(strings.TrimRight(text, "="))
	b, err := base32NoPad.DecodeString(text)
	if err != nil {
		return nil, err
	}
	if base32NoPad.EncodeToString(b) != text {
		return nil, fmt.Errorf("bits over at the end")
	}
	return b, nil
}

func isHexDigit(r rune) bool {
	return '0' <= r && r <= '9' || 'a' <= r && r <= 'f' || 'A' <= r && r <= 'F'
}

func isBase32(r rune) bool {
	return 'A' <= r && r <= 'Z' || 'a' <= r && r <= 'z' || '2' <= r && r <= '7' || r == '='
}

// notIn says where raw first holds a character ok refuses, by line and
// column, or, when every character is fine, that their number is wrong
// (short says how).
func notIn(raw string, ok func(rune) bool, want, short string) string {
	line, col := 1, 0
	for _, r := range raw {
		col++
		switch {
		case r == '\n':
			line, col = line+1, 0
		case unicode.IsSpace(r) || ok(r):
		default:
			return fmt.Sprintf("line %d, column %d: %q is not %s", line, col, r, want)
		}
	}
	return short
}
