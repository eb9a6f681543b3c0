package seedfile

import (
	"bytes"
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
