package seedfile

import "github.com/keydesk/keydesk/fob"

// elemID names the PSKC elements keydesk reads; anything else is eOther
// and is read past (it must still be well formed).
type elemID uint8

const (
	eOther elemID = iota
	eKeyContainer
	eEncryptionKey
	eKeyName
	eX509Data
	eDerivedKey
	eKeyDerivationMethod
	ePBKDF2Params
	eSalt
	eSpecified
	eIterationCount
	eKeyLength
	ePRF
	eMACMethod
	eMACKey
	eEncryptionMethod
	eCipherData
	eCipherValue
	eKeyPackage
	eDeviceInfo
	eManufacturer
	eSerialNo
	eModel
	eUserId
	eKey
	eIssuer
	eFriendlyName
	eAlgorithmParameters
	eSuite
	eResponseFormat
	eData
	eSecret // the five Data values, in this order
	eCounter
	eTime
	eTimeInterval
	eTimeDrift
	ePlainValue
	eEncryptedValue
	eValueMAC
	ePolicy
	eStartDate
	eExpiryDate
)

// elemOf resolves an element name. PSKC's own elements must be in the PSKC
// namespace, XML Encryption's in theirs; the PBKDF2 parameters are
// accepted in the pkcs5 or xenc11 namespace, and their children also
// unqualified as in RFC 6030 figure 7.
func elemOf(space string, local []byte) elemID {
	switch space {
	case nsPSKC:
		switch string(local) {
		case "KeyContainer":
			return eKeyContainer
		case "EncryptionKey":
			return eEncryptionKey
		case "MACMethod":
			return eMACMethod
		case "MACKey":
			return eMACKey
		case "KeyPackage":
			return eKeyPackage
		case "DeviceInfo":
			return eDeviceInfo
		case "Manufacturer":
			return eManufacturer
		case "SerialNo":
			return eSerialNo
		case "Model":
			return eModel
		case "UserId":
			return eUserId
		case "Key":
			return eKey
		case "Issuer":
			return eIssuer
		case "FriendlyName":
			return eFriendlyName
		case "AlgorithmParameters":
			return eAlgorithmParameters
		case "Suite":
			return eSuite
		case "ResponseFormat":
			return eResponseFormat
		case "Data":
			return eData
		case "Secret":
			return eSecret
		case "Counter":
			return eCounter
		case "Time":
			return eTime
		case "TimeInterval":
			return eTimeInterval
		case "TimeDrift":
			return eTimeDrift
		case "PlainValue":
			return ePlainValue
		case "EncryptedValue":
			return eEncryptedValue
		case "ValueMAC":
			return eValueMAC
		case "Policy":
			return ePolicy
		case "StartDate":
			return eStartDate
		case "ExpiryDate":
			return eExpiryDate
		}
	case nsXenc:
		switch string(local) {
		case "EncryptionMethod":
			return eEncryptionMethod
		case "CipherData":
			return eCipherData
		case "CipherValue":
			return eCipherValue
		}
	case nsDS:
		switch string(local) {
		case "KeyName":
			return eKeyName
		case "X509Data":
			return eX509Data
		}
	case nsXenc11:
		switch string(local) {
		case "DerivedKey":
			return eDerivedKey
		case "KeyDerivationMethod":
			return eKeyDerivationMethod
		}
	}
	switch space {
	case nsPKCS5, nsXenc11, "", nsPSKC:
		switch string(local) {
		case "PBKDF2-params":
			if space == nsPKCS5 || space == nsXenc11 {
				return ePBKDF2Params
			}
		case "Salt":
			return eSalt
		case "Specified":
			return eSpecified
		case "IterationCount":
			return eIterationCount
		case "KeyLength":
			return eKeyLength
		case "PRF":
			return ePRF
		}
	}
	return eOther
}

// keyAlgorithm names the kind of fob a Key/@Algorithm makes. Besides the
// URIs, python-pskc's csv2pskc writes the bare "hotp" and "totp" the CSV
// held, in whatever case; URNs are compared ignoring case (RFC 8141 §3).
func keyAlgorithm(alg []byte) (fob.Kind, bool) {
	switch string(alg) { // as written by nearly every file, checked first
	case uriHOTP:
		return fob.HOTP, true
	case uriTOTP:
		return fob.TOTP, true
	}
	switch {
	case asciiEqualFold(alg, uriHOTP), asciiEqualFold(alg, uriHOTPHash), asciiEqualFold(alg, "hotp"):
		return fob.HOTP, true
	case asciiEqualFold(alg, uriTOTP), asciiEqualFold(alg, uriTOTPHash), asciiEqualFold(alg, "totp"):
		return fob.TOTP, true
	case asciiEqualFold(alg, uriYubikeyAES):
		return fob.Yubico, true
	}
	return "", false
}

func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		x, y := b[i], s[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
