/* A mechanism profile: which mechanisms a modelled token lacks, which functions it does not
 * implement, and which template attributes it refuses with which return code. Parsed from the
 * line format in tests/profileshim/README; test-only, never linked into hsmctl. */
#ifndef PROFILESHIM_PROFILE_H
#define PROFILESHIM_PROFILE_H

#include <stddef.h>

#include <p11-kit/pkcs11.h>

#define PROFILE_MAX_RULES 128
#define PROFILE_MAX_VALUE 64

struct refusal {
  char function[32];       /* "C_CreateObject", ..., or "*" */
  int any_class, any_type; /* 1: the rule matches every class / key type */
  CK_ULONG object_class, key_type;
  int any_attribute;       /* 1: "*", the object itself is refused */
  CK_ATTRIBUTE_TYPE attribute;
  int has_value;           /* 0: the attribute refused whatever its value */
  unsigned char value[PROFILE_MAX_VALUE];
  size_t value_len;
  CK_RV rv;
  int line;
};

struct profile {
  CK_MECHANISM_TYPE hidden[PROFILE_MAX_RULES];
  size_t hidden_count;
  CK_MECHANISM_TYPE unlisted[PROFILE_MAX_RULES]; /* missing from the list, yet working */
  size_t unlisted_count;
  char disabled[PROFILE_MAX_RULES][32];
  size_t disabled_count;
  struct refusal refusals[PROFILE_MAX_RULES];
  size_t refusal_count;
};

/* Reads `path` into *profile. On a mistake, writes one line naming the file, line and problem
 * into `error` and returns 0. */
int profile_load(const char *path, struct profile *profile, char *error, size_t error_size);

/* Hidden: missing from C_GetMechanismList, refused everywhere. */
int profile_hides(const struct profile *profile, CK_MECHANISM_TYPE mechanism);
/* Missing from C_GetMechanismList and C_GetMechanismInfo (hidden or unlisted). */
int profile_unlists(const struct profile *profile, CK_MECHANISM_TYPE mechanism);
int profile_disables(const struct profile *profile, const char *function);

/* What a template's object is: known class / key type, or unknown (0), which only wildcard
 * rules match. */
struct object_kind {
  int class_known, type_known;
  CK_ULONG object_class, key_type;
};

/* The first refusal matching a template given to `function` for an object of `kind` (CKA_CLASS
 * and CKA_KEY_TYPE in the template override it), or NULL. */
const struct refusal *profile_refuses_template(const struct profile *profile,
                                               const char *function, struct object_kind kind,
                                               const CK_ATTRIBUTE *attributes, CK_ULONG count);

/* The first refusal of reading `attribute` of an object of `kind` with C_GetAttributeValue
 * (rules naming a value or "*" never match a read), or NULL. */
const struct refusal *profile_refuses_read(const struct profile *profile, struct object_kind kind,
                                           CK_ATTRIBUTE_TYPE attribute);

#endif
