# tpm2-pkcs11 1.9 (Debian 12 libtpm2-pkcs11-1 1.9.0) on a TPM 2.0 (swtpm 0.7.1).
# Modelled on: its mechanism table, https://github.com/tpm2-software/tpm2-pkcs11/blob/1.9.0/src/lib/mech.c,
# and what the real module answers (pkcs11-tool -M and direct calls, run by
# tests/e2e/token/real_tokens_test.cpp): it lists RSA_PKCS_KEY_PAIR_GEN, RSA_X_509, RSA_PKCS,
# RSA_PKCS_OAEP, SHA{1,256,384,512}_RSA_PKCS, EC_KEY_PAIR_GEN, ECDSA, ECDSA_SHA{1,256,384,512},
# AES_KEY_GEN, AES_CBC, AES_CBC_PAD, AES_CFB128, AES_ECB, AES_CTR, SHA_1, SHA{256,384,512} and
# their HMACs. Issue 28: no AES key import, no wrapping, no GCM, no derivation; refuses
# CKA_DECRYPT=false on EC private keys; signs RSA-PSS without listing it.

# What SoftHSM has and the TPM token lacks.
hide CKM_AES_CBC_ENCRYPT_DATA
hide CKM_AES_ECB_ENCRYPT_DATA
hide CKM_AES_CMAC
hide CKM_AES_GCM
hide CKM_AES_KEY_WRAP
hide CKM_AES_KEY_WRAP_PAD
hide CKM_ECDH1_DERIVE
hide CKM_EC_EDWARDS_KEY_PAIR_GEN
hide CKM_EDDSA
hide CKM_GENERIC_SECRET_KEY_GEN
hide CKM_SHA224
hide CKM_SHA224_HMAC
hide CKM_SHA224_RSA_PKCS
hide CKM_SHA224_RSA_PKCS_PSS
hide CKM_MD5
hide CKM_MD5_HMAC
hide CKM_MD5_RSA_PKCS
hide CKM_DES_KEY_GEN
hide CKM_DES2_KEY_GEN
hide CKM_DES3_KEY_GEN
hide CKM_DES_ECB
hide CKM_DES_CBC
hide CKM_DES_CBC_PAD
hide CKM_DES3_ECB
hide CKM_DES3_CBC
hide CKM_DES3_CBC_PAD
hide CKM_DES3_CMAC
hide CKM_DES_ECB_ENCRYPT_DATA
hide CKM_DES_CBC_ENCRYPT_DATA
hide CKM_DES3_ECB_ENCRYPT_DATA
hide CKM_DES3_CBC_ENCRYPT_DATA
hide CKM_DH_PKCS_KEY_PAIR_GEN
hide CKM_DH_PKCS_DERIVE
hide CKM_DH_PKCS_PARAMETER_GEN
hide CKM_DSA_KEY_PAIR_GEN
hide CKM_DSA_PARAMETER_GEN
hide CKM_DSA
hide CKM_DSA_SHA1
hide CKM_DSA_SHA224
hide CKM_DSA_SHA256
hide CKM_DSA_SHA384
hide CKM_DSA_SHA512

# RSA-PSS signs, but is not in the list.
unlist CKM_RSA_PKCS_PSS
unlist CKM_SHA1_RSA_PKCS_PSS
unlist CKM_SHA256_RSA_PKCS_PSS
unlist CKM_SHA384_RSA_PKCS_PSS
unlist CKM_SHA512_RSA_PKCS_PSS

# Measured on the real module: these answer CKR_FUNCTION_NOT_SUPPORTED whatever the arguments
# (AES keys are made with tpm2_ptool, not through PKCS#11).
disable C_GenerateKey
disable C_WrapKey
disable C_UnwrapKey
disable C_DeriveKey

# Measured: C_CreateObject of an AES secret key answers CKR_ATTRIBUTE_VALUE_INVALID.
refuse C_CreateObject CKO_SECRET_KEY * * CKR_ATTRIBUTE_VALUE_INVALID
# Issue 28: the transcript key (EC P-256, CKA_DECRYPT=false) fails with CKR_GENERAL_ERROR.
refuse C_GenerateKeyPair CKO_PRIVATE_KEY CKK_EC CKA_DECRYPT=false CKR_GENERAL_ERROR
