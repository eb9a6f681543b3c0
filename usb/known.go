package usb

import "fmt"

// knownKeys are USB ids of FIDO security keys, as the udev rules of
// Yubico's libfido2 (udev/70-u2f.rules) list them for hidraw access. They
// let a key be recognised even when its report descriptor cannot be read.
var knownKeys = map[[2]uint16]string{
	{0x0483, 0xa2ac}: "ellipticSecure MIRKey",
	{0x0483, 0xa2ca}: "STMicroelectronics FIDO (Solo)",
	{0x0483, 0xcdab}: "STMicroelectronics FIDO (Tomu, chopstx U2F)",
	{0x058b, 0x022d}: "Infineon FIDO",
	{0x06cb, 0x0088}: "Kensington VeriMark",
	{0x096e, 0x0850}: "Feitian ePass FIDO",
	{0x096e, 0x0852}: "Feitian FIDO",
	{0x096e, 0x0853}: "Feitian FIDO",
	{0x096e, 0x0854}: "Feitian FIDO",
	{0x096e, 0x0856}: "Feitian FIDO",
	{0x096e, 0x0858}: "Feitian FIDO",
	{0x096e, 0x085a}: "Feitian MultiPass FIDO U2F",
	{0x096e, 0x085b}: "Feitian FIDO",
	{0x096e, 0x085d}: "Feitian FIDO",
	{0x096e, 0x0866}: "Feitian BioPass FIDO2 K33",
	{0x096e, 0x0867}: "Feitian BioPass FIDO2 K43",
	{0x096e, 0x0880}: "Hypersecu HyperFIDO",
	{0x1050, 0x0113}: "YubiKey NEO FIDO",
	{0x1050, 0x0114}: "YubiKey NEO OTP+FIDO",
	{0x1050, 0x0115}: "YubiKey NEO FIDO+CCID",
	{0x1050, 0x0116}: "YubiKey NEO OTP+FIDO+CCID",
	{0x1050, 0x0120}: "Security Key by Yubico",
	{0x1050, 0x0121}: "Yubico FIDO",
	{0x1050, 0x0200}: "Gnubby U2F",
	{0x1050, 0x0402}: "YubiKey 4/5 FIDO",
	{0x1050, 0x0403}: "YubiKey 4/5 OTP+FIDO",
	{0x1050, 0x0406}: "YubiKey 4/5 FIDO+CCID",
	{0x1050, 0x0407}: "YubiKey 4/5 OTP+FIDO+CCID",
	{0x1050, 0x0410}: "YubiKey Plus",
	{0x10c4, 0x8acf}: "U2F Zero",
	{0x1209, 0x5070}: "SoloKeys SoloHacker",
	{0x1209, 0x50b0}: "SoloKeys SoloBoot",
	{0x1209, 0x53c1}: "SatoshiLabs TREZOR",
	{0x1209, 0xbeee}: "SoloKeys v2",
	{0x18d1, 0x5026}: "Google Titan U2F",
	{0x1a44, 0x00bb}: "VASCO SecureClick",
	{0x1d50, 0x60fc}: "OnlyKey",
	{0x1e0d, 0xf1ae}: "Neowave Keydo AES",
	{0x1e0d, 0xf1d0}: "Neowave Keydo",
	{0x1ea8, 0xf025}: "Thetis Key",
	{0x1ea8, 0xfc25}: "ExcelSecu FIDO2 Security Key",
	{0x1fc9, 0xf143}: "GoTrust Idem Key",
	{0x20a0, 0x4287}: "Nitrokey FIDO U2F",
	{0x20a0, 0x42b1}: "Nitrokey FIDO2",
	{0x20a0, 0x42b2}: "Nitrokey 3C NFC",
	{0x20a0, 0x42b3}: "Safetech SafeKey",
	{0x20a0, 0x42d4}: "CanoKey",
	{0x24dc, 0x0101}: "JaCarta U2F",
	{0x24dc, 0x0501}: "JaCarta U2F",
	{0x2581, 0xf1d0}: "Happlink Security Key",
	{0x2abe, 0x1002}: "Bluink Key",
	{0x2ccf, 0x0880}: "Hypersecu HyperFIDO",
	{0x311f, 0x4a1a}: "TrustKey FIDO2 G310",
	{0x311f, 0x4c2a}: "TrustKey FIDO2 G320",
	{0x311f, 0xa6e9}: "TrustKey FIDO2 T120",
	{0x311f, 0xa7f9}: "TrustKey FIDO2 T110",
	{0x32a3, 0x3201}: "GoTrust Idem Key",
	{0x4c4d, 0xf703}: "Longmai mFIDO",
	{0x534c, 0x0001}: "SatoshiLabs TREZOR",
}

// keyVendors make nothing but security keys (and OTP fobs), so any of
// their devices with a HID interface is probably a key even when neither
// its id is listed nor its descriptor readable. Shared vendor ids (0x0483
// STMicroelectronics, 0x1209 pid.codes, 0x20a0 Clay Logic, 0x18d1 Google,
// 0x096e Feitian's readers) are deliberately not here: only their listed
// products count.
var keyVendors = map[uint16]string{
	0x1050: "Yubico",
	0x349e: "Token2",
}

// Model names a known key, e.g. "YubiKey 4/5 OTP+FIDO+CCID".
func Model(vid, pid uint16) (string, bool) {
	m, ok := knownKeys[[2]uint16{vid, pid}]
	return m, ok
}

// ID formats a vendor and product id as lsusb does: "1050:0407".
func ID(vid, pid uint16) string { return fmt.Sprintf("%04x:%04x", vid, pid) }
