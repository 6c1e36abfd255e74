# A vendor without CKM_AES_ECB_ENCRYPT_DATA (no "encrypt data" key derivation at all), so the user
# KEK must come from the HMAC fallback (CKM_SHA256_HMAC with C_Sign, kept here).
# Modelled on: AWS CloudHSM Client SDK 5, whose PKCS#11 library derives keys only by SP800-108
# counter KDF and ECDH with a KDF,
# https://docs.aws.amazon.com/cloudhsm/latest/userguide/pkcs11-mechanisms.html
# Only the derivation is taken away: everything else SoftHSM has stays, so this profile forces the
# one fallback and nothing else.
hide CKM_AES_ECB_ENCRYPT_DATA
hide CKM_AES_CBC_ENCRYPT_DATA
hide CKM_DES_ECB_ENCRYPT_DATA
hide CKM_DES_CBC_ENCRYPT_DATA
hide CKM_DES3_ECB_ENCRYPT_DATA
hide CKM_DES3_CBC_ENCRYPT_DATA
