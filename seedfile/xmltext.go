package seedfile

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"unicode/utf8"
)

// decodeEntities appends src to dst with the predefined entities and
// character references replaced (XML 1.0 §4.1, §4.6).
func decodeEntities(dst, src []byte) ([]byte, error) {
	for len(src) > 0 {
		i := bytes.IndexByte(src, '&')
		if i < 0 {
			return append(dst, src...), nil
		}
		dst = append(dst, src[:i]...)
		src = src[i:]
		j := bytes.IndexByte(src, ';')
		if j < 0 || j > 12 {
			return dst, errors.New("'&' that starts no entity")
		}
		ent := string(src[1:j])
		src = src[j+1:]
		switch ent {
		case "lt":
			dst = append(dst, '<')
		case "gt":
			dst = append(dst, '>')
		case "amp":
			dst = append(dst, '&')
		case "quot":
			dst = append(dst, '"')
		case "apos":
			dst = append(dst, '\'')
		default:
			r, ok := charRef(ent)
			if !ok {
				return dst, fmt.Errorf("unknown entity &%s; (only the five predefined ones and character references are allowed)", truncate(ent, 10))
			}
			dst = utf8.AppendRune(dst, r)
		}
	}
	return dst, nil
}

func charRef(ent string) (rune, bool) {
	if len(ent) < 2 || ent[0] != '#' {
		return 0, false
	}
	base, digits := 10, ent[1:]
	if digits[0] == 'x' {
		base, digits = 16, digits[1:]
	}
	if digits == "" {
		return 0, false
	}
	var r rune
	for i := 0; i < len(digits); i++ {
		var d rune
		switch c := digits[i]; {
		case '0' <= c && c <= '9':
			d = rune(c - '0')
		case base == 16 && 'a' <= c && c <= 'f':
			d = rune(c-'a') + 10
		case base == 16 && 'A' <= c && c <= 'F':
			d = rune(c-'A') + 10
		default:
			return 0, false
		}
		r = r*rune(base) + d
		if r > utf8.MaxRune {
			return 0, false
		}
	}
	// XML 1.0 §2.2 Char: no NUL, no C0 controls but tab, LF and CR, no
	// surrogates, no U+FFFE/U+FFFF.
	if r < 0x20 && r != '\t' && r != '\n' && r != '\r' || r >= 0xD800 && r <= 0xDFFF || r == 0xFFFE || r == 0xFFFF {
		return 0, false
	}
	return r, true
}

// checkChars reports the first thing in b that is not an XML character
// (XML 1.0 §2.2: tab, LF, CR, and U+0020 up, less surrogates, U+FFFE and
// U+FFFF), invalid UTF-8 included. Most of a PSKC file is base64 and
// markup, so eight printable ASCII bytes at a time are passed at once.
func checkChars(b []byte) error {
	for i := 0; i < len(b); {
		if len(b)-i >= 8 {
			v := binary.LittleEndian.Uint64(b[i:])
			// No byte with the top bit set, and none below 0x20.
			if v&0x8080808080808080 == 0 && (v-0x2020202020202020)&^v&0x8080808080808080 == 0 {
				i += 8
				continue
			}
		}
		c := b[i]
		switch {
		case c >= 0x20 && c < utf8.RuneSelf, c == '\t', c == '\n', c == '\r':
			i++
			continue
		case c < 0x20:
			return fmt.Errorf("control character %#02x", c)
		}
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n == 1 {
			return errors.New("invalid UTF-8")
		}
		if r == 0xFFFE || r == 0xFFFF {
			return fmt.Errorf("%U is not an XML character", r)
		}
		i += n
	}
	return nil
}

// appendNewlines appends src to dst with each CR LF and each lone CR made
// one LF, as XML 1.0 §2.11 has a parser do before anything else.
func appendNewlines(dst, src []byte) []byte {
	for {
		i := bytes.IndexByte(src, '\r')
		if i < 0 {
			return append(dst, src...)
		}
		dst = append(append(dst, src[:i]...), '\n')
		src = src[i+1:]
		if len(src) > 0 && src[0] == '\n' {
			src = src[1:]
		}
	}
}

// isNCName reports whether b is a name without a colon (Namespaces in XML
// §3 NCName) made of ASCII: a letter or _, then letters, digits, -, _ and
// dots. XML allows most of Unicode in names; PSKC, XML Encryption and the
// vendors' extensions use none of it, and refusing it keeps the scanner's
// names the same as any other parser's.
func isNCName(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for i, c := range b {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', c == '_':
		case i > 0 && ('0' <= c && c <= '9' || c == '-' || c == '.'):
		default:
			return false
		}
	}
	return true
}

// splitQName splits an element or attribute name into its prefix (nil for
// none) and local part, reporting whether it is a QName (Namespaces in XML
// §4): one NCName, or two joined by one colon.
func splitQName(b []byte) (prefix, local []byte, ok bool) {
	if c := bytes.IndexByte(b, ':'); c >= 0 {
		prefix, local = b[:c], b[c+1:]
		return prefix, local, isNCName(prefix) && isNCName(local)
	}
	return nil, b, isNCName(b)
}
