package seedfile

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
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
// U+FFFF), invalid UTF-8 included, and whether b holds a CR (which
// appendNewlines must then take out). Most of a PSKC file is base64,
// numbers and the white space between elements, so printable ASCII is
// passed eight bytes at a time, and the rest of ASCII by a table.
func checkChars(b []byte) (cr bool, err error) {
	for i := 0; i < len(b); {
		for len(b)-i >= 8 {
			v := binary.LittleEndian.Uint64(b[i:])
			// No byte with the top bit set, and none below 0x20.
			if v&0x8080808080808080 != 0 || (v-0x2020202020202020)&^v&0x8080808080808080 != 0 {
				break
			}
			i += 8
		}
		for i < len(b) && asciiChar[b[i]] == charOK {
			i++
		}
		if i == len(b) {
			break
		}
		switch c := b[i]; asciiChar[c] {
		case charOK:
			continue
		case charCR:
			cr = true
			i++
			continue
		case charControl:
			return cr, fmt.Errorf("control character %#02x", c)
		}
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n == 1 {
			return cr, errors.New("invalid UTF-8")
		}
		if r == 0xFFFE || r == 0xFFFF {
			return cr, fmt.Errorf("%U is not an XML character", r)
		}
		i += n
	}
	return cr, nil
}

const (
	charOK      = iota // an XML character on its own
	charCR             // carriage return
	charControl        // no XML character
	charMulti          // the first byte of a UTF-8 sequence, or no UTF-8
)

var asciiChar = func() (t [256]uint8) {
	for c := range 256 {
		switch {
		case c >= utf8.RuneSelf:
			t[c] = charMulti
		case c == '\r':
			t[c] = charCR
		case c < 0x20 && c != '\t' && c != '\n':
			t[c] = charControl
		}
	}
	return t
}()

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
		if !nameByte(c, i == 0) {
			return false
		}
	}
	return true
}

func nameByte(c byte, first bool) bool {
	k := nameClass[c]
	return k == nameStart || k == nameChar && !first
}

// Classes of the bytes of a name.
const (
	nameNot   = iota // cannot be in a name here
	nameStart        // may start a name: a letter or _
	nameChar         // may follow: a digit, - or .
	nameColon        // between prefix and local name
	nameEnd          // ends the name in a tag: white space, > / = < " '
)

var nameClass = func() (t [256]uint8) {
	for c := range 256 {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', c == '_':
			t[c] = nameStart
		case '0' <= c && c <= '9', c == '-', c == '.':
			t[c] = nameChar
		case c == ':':
			t[c] = nameColon
		case isSpace(byte(c)), strings.IndexByte(`>/=<"'`, byte(c)) >= 0:
			t[c] = nameEnd
		}
	}
	return t
}()

// scanQName measures the element or attribute name at the start of b: its
// length up to the first byte that cannot be in a tag's name, where its
// colon is (-1 for none), and whether it is a QName (Namespaces in XML §4):
// one NCName, or two joined by one colon.
func scanQName(b []byte) (n, colon int, ok bool) {
	colon, ok = -1, true
	first := true // at the first byte of the prefix or the local name
	for i, c := range b {
		switch nameClass[c] {
		case nameStart:
		case nameChar:
			ok = ok && !first
		case nameColon:
			ok = ok && colon < 0 && !first
			colon, first = i, true
			continue
		case nameEnd:
			return i, colon, ok && !first
		default:
			ok = false
		}
		first = false
	}
	return len(b), colon, ok && !first
}
