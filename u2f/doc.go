// Package u2f holds the messages a security key and its host exchange,
// and their checks: the U2F raw message formats (CTAP1: request APDUs,
// REGISTER and AUTHENTICATE answers) and the CTAP2 CBOR structures. It is
// pure: no IO, no clock. Package hid carries these messages over USB HID;
// package verify judges them.
package u2f

// MaxMessage bounds every message this package parses: it is the longest
// message CTAPHID can carry (57 + 128×59 bytes, CTAP 2.1 §11.2.4), the
// only transport keydesk speaks.
const MaxMessage = 7609
