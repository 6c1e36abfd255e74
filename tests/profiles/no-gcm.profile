# A vendor without AES-GCM, so the outer layer is sealed on the host (the GCM fallback).
# Modelled on: the opencryptoki 3.8.1 Soft token Debian 12 ships and tpm2-pkcs11 1.9, neither of
# which lists CKM_AES_GCM (pkcs11-tool -M on both, tests/e2e/token/real_tokens_test.cpp; mechanism
# tables: https://www.ibm.com/docs/en/linux-on-systems?topic=token-soft-mechanisms and
# https://github.com/tpm2-software/tpm2-pkcs11/blob/1.9.0/src/lib/mech.c). Only GCM is taken away.
hide CKM_AES_GCM
