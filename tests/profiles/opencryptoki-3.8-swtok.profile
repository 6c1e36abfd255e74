# opencryptoki 3.8.1 soft token (Debian 12 opencryptoki 3.8.1+dfsg, libpkcs11_sw.so).
# Modelled on: IBM's list of Soft token mechanisms by version,
# https://www.ibm.com/docs/en/linux-on-systems?topic=token-soft-mechanisms (AES_KEY_WRAP_PAD and
# GCM wrapping only from 3.25), and what the real 3.8.1 swtok lists (pkcs11-tool -M, run by
# tests/e2e/token/real_tokens_test.cpp): RSA (PKCS, X_509, OAEP, PSS and SHA*-PSS, SHA1 and MD5
# PKCS), DES/DES3, DH, SHA_1/SHA256/384/512 and their HMACs, MD5, SSL3, AES_KEY_GEN, AES_ECB,
# AES_CBC, AES_CBC_PAD, GENERIC_SECRET_KEY_GEN. Issue 28: no EC at all, no
# CKA_ALLOWED_MECHANISMS, no AES key wrap with padding.

hide CKM_EC_KEY_PAIR_GEN
hide CKM_ECDSA
hide CKM_ECDH1_DERIVE
hide CKM_EC_EDWARDS_KEY_PAIR_GEN
hide CKM_EDDSA
hide CKM_AES_GCM
hide CKM_AES_CTR
hide CKM_AES_CMAC
hide CKM_AES_KEY_WRAP
hide CKM_AES_KEY_WRAP_PAD
hide CKM_AES_ECB_ENCRYPT_DATA
hide CKM_AES_CBC_ENCRYPT_DATA
hide CKM_SHA224
hide CKM_SHA224_HMAC
hide CKM_SHA224_RSA_PKCS
hide CKM_SHA224_RSA_PKCS_PSS
hide CKM_SHA256_RSA_PKCS
hide CKM_SHA384_RSA_PKCS
hide CKM_SHA512_RSA_PKCS
hide CKM_DES2_KEY_GEN
hide CKM_DES3_CMAC
hide CKM_DES_ECB_ENCRYPT_DATA
hide CKM_DES_CBC_ENCRYPT_DATA
hide CKM_DES3_ECB_ENCRYPT_DATA
hide CKM_DES3_CBC_ENCRYPT_DATA
hide CKM_DH_PKCS_PARAMETER_GEN
hide CKM_DSA_KEY_PAIR_GEN
hide CKM_DSA_PARAMETER_GEN
hide CKM_DSA
hide CKM_DSA_SHA1
hide CKM_DSA_SHA224
hide CKM_DSA_SHA256
hide CKM_DSA_SHA384
hide CKM_DSA_SHA512

# 3.8 predates CKA_ALLOWED_MECHANISMS: a template naming it, or a read of it, is refused.
refuse * * * CKA_ALLOWED_MECHANISMS CKR_ATTRIBUTE_TYPE_INVALID
