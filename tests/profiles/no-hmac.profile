# A token without HMAC (no CKM_SHA256_HMAC, nor any other HMAC), so a master made with the HMAC
# KEK derivation (hmac-sha256) cannot be restored or cloned onto it: hsmctl must refuse before
# anything changes on it.
# Modelled on: Yubico's YKCS11 (the PIV applet's PKCS#11 module), whose mechanism list has RSA and
# EC key generation, signing, ECDH and plain digests but no HMAC,
# https://developers.yubico.com/yubico-piv-tool/YKCS11/Supported_applications/
# Only HMAC is taken away: everything else SoftHSM has stays.
hide CKM_SHA256_HMAC
hide CKM_SHA_1_HMAC
hide CKM_SHA224_HMAC
hide CKM_SHA384_HMAC
hide CKM_SHA512_HMAC
hide CKM_MD5_HMAC
