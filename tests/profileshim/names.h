/* PKCS#11 names for profile files: one table, looked up by prefix. Test-only. */
#ifndef PROFILESHIM_NAMES_H
#define PROFILESHIM_NAMES_H

#include <p11-kit/pkcs11.h>

/* `text` is a name starting with `prefix` ("CKM_", "CKA_", ...) from the table, or a number
 * (decimal or 0x hex). Returns 1 and sets *value, or 0 when it is neither. */
int ck_number(const char *text, const char *prefix, CK_ULONG *value);

/* The table's name for `value` among the names starting with `prefix`, or NULL. */
const char *ck_name(CK_ULONG value, const char *prefix);

#endif
