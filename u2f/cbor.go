package u2f

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/fxamacker/cbor/v2"
)

// CTAP 2.1 §8 (message encoding): what a platform sends is CTAP2
// canonical CBOR (shortest integers and lengths, sorted map keys, no
// indefinite lengths, no tags); what it reads comes from a device and is
// decoded with bounds.
var (
	canonical = mustEnc(cbor.CTAP2EncOptions())
	strict    = mustDec(cbor.DecOptions{
		DupMapKey:         cbor.DupMapKeyEnforcedAPF,
		MaxNestedLevels:   8,
		MaxArrayElements:  256,
		MaxMapPairs:       256,
		IndefLength:       cbor.IndefLengthForbidden,
		TagsMd:            cbor.TagsForbidden,
		UTF8:              cbor.UTF8RejectInvalid,
		FieldNameMatching: cbor.FieldNameMatchingCaseSensitive,
	})
)

func mustEnc(o cbor.EncOptions) cbor.EncMode {
	m, err := o.EncMode()
	if err != nil {
		panic(err)
	}
	return m
}

func mustDec(o cbor.DecOptions) cbor.DecMode {
	m, err := o.DecMode()
	if err != nil {
		panic(err)
	}
	return m
}

// encode writes v in CTAP2 canonical CBOR. The values encoded are this
// package's own structs, so a failure is a programming error reported as
// an error rather than a panic.
func encode(v any) ([]byte, error) {
	b, err := canonical.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("ctap2: encoding %T: %w", v, err)
	}
	return b, nil
}

// decode reads one whole CBOR item from a device into v, bounded by
// MaxMessage. what names the message in errors.
func decode(what string, b []byte, v any) error {
	if len(b) > MaxMessage {
		return fmt.Errorf("ctap2 %s: answer of %d bytes exceeds %d", what, len(b), MaxMessage)
	}
	if err := strict.Unmarshal(b, v); err != nil {
		return fmt.Errorf("ctap2 %s: %w", what, describe(err))
	}
	return nil
}

// describe names the map key a type error is about: fxamacker/cbor calls
// it by the struct field's tag, which is the CTAP key number.
func describe(err error) error {
	var te *cbor.UnmarshalTypeError
	if errors.As(err, &te) && te.StructFieldName != "" {
		name := te.StructFieldName
		if i := strings.LastIndexByte(name, '.'); i >= 0 {
			name = name[i+1:]
		}
		if n, err := strconv.Atoi(name); err == nil {
			name = fmt.Sprintf("0x%02x", n)
		}
		return fmt.Errorf("key %s: %s is not a %s", name, te.CBORType, te.GoType)
	}
	return err
}

// Encode writes v in CTAP2 canonical CBOR (CTAP 2.1 §8), for callers that
// build their own messages, such as the soft key's answers.
func Encode(v any) ([]byte, error) { return encode(v) }

// decodeRequest reads a request as an authenticator does: the error
// wraps the status code to answer (CTAP 2.1 §8.2: CBOR that cannot be
// read is INVALID_CBOR, a value of the wrong type CBOR_UNEXPECTED_TYPE).
func decodeRequest(what string, b []byte, v any) error {
	if len(b) > MaxMessage {
		return fmt.Errorf("ctap2 %s request of %d bytes: %w", what, len(b), ErrRequestTooLarge)
	}
	if err := strict.Unmarshal(b, v); err != nil {
		code := ErrInvalidCBOR
		var te *cbor.UnmarshalTypeError
		if errors.As(err, &te) {
			code = ErrCBORUnexpectedType
		}
		return fmt.Errorf("ctap2 %s request: %v: %w", what, describe(err), code)
	}
	return nil
}

// missing is the error for a required parameter that a request lacks.
func missing(what string, key int, name string) error {
	return fmt.Errorf("ctap2 %s request: key 0x%02x (%s) missing: %w", what, key, name, ErrMissingParameter)
}
