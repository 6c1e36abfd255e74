# A vendor that refuses key material in plaintext: C_CreateObject of any secret key is refused,
# keys come in only by C_UnwrapKey under a key the token holds (the unwrap fallback).
# Modelled on: Entrust nShield's PKCS#11 security assurance mechanism, which by default fails
# operations that would put a key in plaintext into the module (import of key values),
# https://nshielddocs.entrust.com/security-world-docs/v12.80/api-generic/pkcs11.html
# The return code is CKR_TEMPLATE_INCONSISTENT, the code PKCS#11 gives for a template the token
# cannot accept as a whole. Mechanisms are all kept.
refuse C_CreateObject CKO_SECRET_KEY * * CKR_TEMPLATE_INCONSISTENT
