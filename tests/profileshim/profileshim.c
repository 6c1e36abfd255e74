/* A PKCS#11 module for tests only: forwards every call to a real module (SoftHSM) but behaves
 * like a less capable token, as a profile file says (format: README here): hidden mechanisms are
 * missing from C_GetMechanismList and refused by C_GetMechanismInfo and every call that takes a
 * mechanism (unlisted ones are only missing from the list, as tokens that use a mechanism they do
 * not list); disabled functions answer CKR_FUNCTION_NOT_SUPPORTED; refused template attributes
 * answer the return code the modelled vendor gives. A refused call never reaches the real
 * module, so the token is never left half-changed by it. Never loaded outside the test suite.
 *
 * Environment, read once at the first C_GetFunctionList (empty values count as unset):
 *   HSMCTL_PROFILE         the profile file (required: tests/profiles/full.profile hides nothing)
 *   HSMCTL_PROFILE_MODULE  real module to forward to (default: the SoftHSM the build found)
 *   HSMCTL_PROFILE_LOG     file to append one line per refusal to:
 *                          "<function> <CKR name> <why>\n", so a test can tell a profile refusal
 *                          from a failure of the real token.
 * A missing or malformed profile, or an unloadable module, prints "profileshim: ..." and
 * abort()s: a misconfigured run must crash rather than pass as a token's refusal. */
#define _POSIX_C_SOURCE 200809L
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "names.h"
#include "p11shim/forwarding.h"
#include "profile.h"

#ifndef PROFILESHIM_DEFAULT_MODULE
#define PROFILESHIM_DEFAULT_MODULE "/usr/lib/softhsm/libsofthsm2.so"
#endif

/* Set once under pthread_once, read-only afterwards. */
static struct {
  CK_FUNCTION_LIST *real;
  struct profile profile;
  int disabled[FN_COUNT];
  int log_fd;
} config = {.log_fd = -1};
static CK_FUNCTION_LIST shim_list;
static pthread_once_t config_once = PTHREAD_ONCE_INIT;

__attribute__((noreturn, format(printf, 1, 2))) static void die(const char *format, ...) {
  va_list args;
  va_start(args, format);
  p11shim_vdie("profileshim", format, args);
}

static void load_config(void) {
  const char *path = p11shim_env("HSMCTL_PROFILE"), *log = p11shim_env("HSMCTL_PROFILE_LOG");
  const char *module = p11shim_env("HSMCTL_PROFILE_MODULE");
  if (module == NULL) module = PROFILESHIM_DEFAULT_MODULE;
  if (path == NULL) die("HSMCTL_PROFILE is not set (tests/profiles/full.profile hides nothing)");
  static char error[512];
  if (!profile_load(path, &config.profile, error, sizeof error)) die("%s", error);
  for (size_t i = 0; i < config.profile.disabled_count; ++i) {
    int found = 0;
    for (int f = 0; f < FN_COUNT; ++f)
      if (strcmp(config.profile.disabled[i], function_names[f]) == 0) found = config.disabled[f] = 1;
    if (!found) die("%s: 'disable %s' names no PKCS#11 2.40 function", path, config.profile.disabled[i]);
  }
  if (log != NULL) {
    config.log_fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (config.log_fd < 0) die("cannot open HSMCTL_PROFILE_LOG=%s", log);
  }
  config.real = p11shim_load_real("profileshim", "HSMCTL_PROFILE_MODULE", module);
  shim_list.version = config.real->version;
}

static CK_RV refuse(enum function_id function, CK_RV rv, const char *format, ...) {
  if (config.log_fd < 0) return rv;
  char line[256];
  const char *name = ck_name(rv, "CKR_");
  int n = snprintf(line, sizeof line, "%s %s ", function_names[function], name ? name : "CKR_?");
  va_list args;
  va_start(args, format);
  if (n > 0 && (size_t)n < sizeof line) n += vsnprintf(line + n, sizeof line - (size_t)n, format, args);
  va_end(args);
  if (n > 0 && (size_t)n < sizeof line - 1) {
    line[n++] = '\n';
    /* One write() per line on an O_APPEND fd; a lost line only makes a test fail. */
    if (write(config.log_fd, line, (size_t)n) < 0) {
    }
  }
  return rv;
}

static CK_RV gate(enum function_id function) {
  return config.disabled[function]
             ? refuse(function, CKR_FUNCTION_NOT_SUPPORTED, "disabled by the profile")
             : CKR_OK;
}

static CK_RV check_mechanism(enum function_id function, const CK_MECHANISM *mechanism) {
  if (mechanism == NULL || !profile_hides(&config.profile, mechanism->mechanism)) return CKR_OK;
  const char *name = ck_name(mechanism->mechanism, "CKM_");
  return name ? refuse(function, CKR_MECHANISM_INVALID, "%s hidden by the profile", name)
              : refuse(function, CKR_MECHANISM_INVALID, "0x%lx hidden by the profile",
                       mechanism->mechanism);
}

static CK_RV check_template(enum function_id function, struct object_kind kind,
                            const CK_ATTRIBUTE *attributes, CK_ULONG count) {
  const struct refusal *rule = profile_refuses_template(&config.profile, function_names[function],
                                                        kind, attributes, count);
  return rule ? refuse(function, rule->rv, "template refused by profile line %d", rule->line)
              : CKR_OK;
}

/* The object a key-generation mechanism makes when the template does not say. */
static struct object_kind generated(CK_OBJECT_CLASS object_class, const CK_MECHANISM *mechanism) {
  struct object_kind kind = {1, 1, object_class, 0};
  switch (mechanism ? mechanism->mechanism : (CK_ULONG)-1) {
    case CKM_AES_KEY_GEN: kind.key_type = CKK_AES; break;
    case CKM_GENERIC_SECRET_KEY_GEN: kind.key_type = CKK_GENERIC_SECRET; break;
    case CKM_EC_KEY_PAIR_GEN: kind.key_type = CKK_EC; break;
    case CKM_EC_EDWARDS_KEY_PAIR_GEN: kind.key_type = CKK_EC_EDWARDS; break;
    case CKM_RSA_PKCS_KEY_PAIR_GEN: kind.key_type = CKK_RSA; break;
    case CKM_DSA_KEY_PAIR_GEN: kind.key_type = CKK_DSA; break;
    case CKM_DH_PKCS_KEY_PAIR_GEN: kind.key_type = CKK_DH; break;
    default: kind.type_known = 0;
  }
  return kind;
}

/* What an existing object is, asked of the real module (for rules on C_CopyObject,
 * C_SetAttributeValue and C_GetAttributeValue). */
static struct object_kind existing(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE object) {
  struct object_kind kind = {0, 0, 0, 0};
  CK_ATTRIBUTE a = {CKA_CLASS, &kind.object_class, sizeof kind.object_class};
  kind.class_known = config.real->C_GetAttributeValue(session, object, &a, 1) == CKR_OK;
  CK_ATTRIBUTE t = {CKA_KEY_TYPE, &kind.key_type, sizeof kind.key_type};
  kind.type_known = config.real->C_GetAttributeValue(session, object, &t, 1) == CKR_OK;
  return kind;
}

static const struct object_kind unknown_kind = {0, 0, 0, 0};

/* A call that makes a key: its mechanism first, then the template of the key it makes. */
static CK_RV check_key_call(enum function_id function, const CK_MECHANISM *mechanism,
                            struct object_kind kind, const CK_ATTRIBUTE *attributes,
                            CK_ULONG count) {
  CK_RV rv = check_mechanism(function, mechanism);
  return rv != CKR_OK ? rv : check_template(function, kind, attributes, count);
}

static CK_RV check_key_pair(const CK_MECHANISM *mechanism, const CK_ATTRIBUTE *public_template,
                            CK_ULONG public_count, const CK_ATTRIBUTE *private_template,
                            CK_ULONG private_count) {
  CK_RV rv = check_key_call(FN_C_GenerateKeyPair, mechanism, generated(CKO_PUBLIC_KEY, mechanism),
                            public_template, public_count);
  return rv != CKR_OK ? rv
                      : check_template(FN_C_GenerateKeyPair, generated(CKO_PRIVATE_KEY, mechanism),
                                       private_template, private_count);
}

#define SHIM(name, params, args, check)                                                       \
  static CK_RV shim_##name params {                                                           \
    CK_RV rv = gate(FN_##name);                                                               \
    if (rv == CKR_OK) rv = (check);                                                           \
    if (rv != CKR_OK) return rv;                                                              \
    return config.real->name == NULL ? CKR_FUNCTION_NOT_SUPPORTED : config.real->name args;   \
  }

/* The wrappers, in the one-letter types of p11shim/forwarding.h. */
#define OK CKR_OK

SHIM(C_Initialize, (void *a), (a), OK)
SHIM(C_Finalize, (void *a), (a), OK)
SHIM(C_GetInfo, (CK_INFO_PTR a), (a), OK)
SHIM(C_GetSlotList, (CK_BBOOL a, CK_SLOT_ID_PTR b, U *c), (a, b, c), OK)
SHIM(C_GetSlotInfo, (CK_SLOT_ID a, CK_SLOT_INFO_PTR b), (a, b), OK)
SHIM(C_GetTokenInfo, (CK_SLOT_ID a, CK_TOKEN_INFO_PTR b), (a, b), OK)
SHIM(C_InitToken, (CK_SLOT_ID a, B b, U c, B d), (a, b, c, d), OK)
SHIM(C_InitPIN, (S a, B b, U c), (a, b, c), OK)
SHIM(C_SetPIN, (S a, B b, U c, B d, U e), (a, b, c, d, e), OK)
SHIM(C_OpenSession, (CK_SLOT_ID a, CK_FLAGS b, void *c, CK_NOTIFY d, S *e), (a, b, c, d, e), OK)
SHIM(C_CloseSession, (S a), (a), OK)
SHIM(C_CloseAllSessions, (CK_SLOT_ID a), (a), OK)
SHIM(C_GetSessionInfo, (S a, CK_SESSION_INFO_PTR b), (a, b), OK)
SHIM(C_GetOperationState, (S a, B b, U *c), (a, b, c), OK)
SHIM(C_SetOperationState, (S a, B b, U c, O d, O e), (a, b, c, d, e), OK)
SHIM(C_Login, (S a, CK_USER_TYPE b, B c, U d), (a, b, c, d), OK)
SHIM(C_Logout, (S a), (a), OK)
SHIM(C_CreateObject, (S a, A b, U c, O *d), (a, b, c, d),
     check_template(FN_C_CreateObject, unknown_kind, b, c))
SHIM(C_CopyObject, (S a, O b, A c, U d, O *e), (a, b, c, d, e),
     check_template(FN_C_CopyObject, existing(a, b), c, d))
SHIM(C_DestroyObject, (S a, O b), (a, b), OK)
SHIM(C_GetObjectSize, (S a, O b, U *c), (a, b, c), OK)
SHIM(C_SetAttributeValue, (S a, O b, A c, U d), (a, b, c, d),
     check_template(FN_C_SetAttributeValue, existing(a, b), c, d))
SHIM(C_FindObjectsInit, (S a, A b, U c), (a, b, c), OK)
SHIM(C_FindObjects, (S a, O *b, U c, U *d), (a, b, c, d), OK)
SHIM(C_FindObjectsFinal, (S a), (a), OK)
SHIM(C_EncryptInit, (S a, M b, O c), (a, b, c), check_mechanism(FN_C_EncryptInit, b))
SHIM(C_Encrypt, (S a, B b, U c, B d, U *e), (a, b, c, d, e), OK)
SHIM(C_EncryptUpdate, (S a, B b, U c, B d, U *e), (a, b, c, d, e), OK)
SHIM(C_EncryptFinal, (S a, B b, U *c), (a, b, c), OK)
SHIM(C_DecryptInit, (S a, M b, O c), (a, b, c), check_mechanism(FN_C_DecryptInit, b))
SHIM(C_Decrypt, (S a, B b, U c, B d, U *e), (a, b, c, d, e), OK)
SHIM(C_DecryptUpdate, (S a, B b, U c, B d, U *e), (a, b, c, d, e), OK)
SHIM(C_DecryptFinal, (S a, B b, U *c), (a, b, c), OK)
SHIM(C_DigestInit, (S a, M b), (a, b), check_mechanism(FN_C_DigestInit, b))
SHIM(C_Digest, (S a, B b, U c, B d, U *e), (a, b, c, d, e), OK)
SHIM(C_DigestUpdate, (S a, B b, U c), (a, b, c), OK)
SHIM(C_DigestKey, (S a, O b), (a, b), OK)
SHIM(C_DigestFinal, (S a, B b, U *c), (a, b, c), OK)
SHIM(C_SignInit, (S a, M b, O c), (a, b, c), check_mechanism(FN_C_SignInit, b))
SHIM(C_Sign, (S a, B b, U c, B d, U *e), (a, b, c, d, e), OK)
SHIM(C_SignUpdate, (S a, B b, U c), (a, b, c), OK)
SHIM(C_SignFinal, (S a, B b, U *c), (a, b, c), OK)
SHIM(C_SignRecoverInit, (S a, M b, O c), (a, b, c), check_mechanism(FN_C_SignRecoverInit, b))
SHIM(C_SignRecover, (S a, B b, U c, B d, U *e), (a, b, c, d, e), OK)
SHIM(C_VerifyInit, (S a, M b, O c), (a, b, c), check_mechanism(FN_C_VerifyInit, b))
SHIM(C_Verify, (S a, B b, U c, B d, U e), (a, b, c, d, e), OK)
SHIM(C_VerifyUpdate, (S a, B b, U c), (a, b, c), OK)
SHIM(C_VerifyFinal, (S a, B b, U c), (a, b, c), OK)
SHIM(C_VerifyRecoverInit, (S a, M b, O c), (a, b, c), check_mechanism(FN_C_VerifyRecoverInit, b))
SHIM(C_VerifyRecover, (S a, B b, U c, B d, U *e), (a, b, c, d, e), OK)
SHIM(C_DigestEncryptUpdate, (S a, B b, U c, B d, U *e), (a, b, c, d, e), OK)
SHIM(C_DecryptDigestUpdate, (S a, B b, U c, B d, U *e), (a, b, c, d, e), OK)
SHIM(C_SignEncryptUpdate, (S a, B b, U c, B d, U *e), (a, b, c, d, e), OK)
SHIM(C_DecryptVerifyUpdate, (S a, B b, U c, B d, U *e), (a, b, c, d, e), OK)
SHIM(C_GenerateKey, (S a, M b, A c, U d, O *e), (a, b, c, d, e),
     check_key_call(FN_C_GenerateKey, b, generated(CKO_SECRET_KEY, b), c, d))
SHIM(C_GenerateKeyPair, (S a, M b, A c, U d, A e, U f, O *g, O *h), (a, b, c, d, e, f, g, h),
     check_key_pair(b, c, d, e, f))
SHIM(C_WrapKey, (S a, M b, O c, O d, B e, U *f), (a, b, c, d, e, f),
     check_mechanism(FN_C_WrapKey, b))
SHIM(C_UnwrapKey, (S a, M b, O c, B d, U e, A f, U g, O *h), (a, b, c, d, e, f, g, h),
     check_key_call(FN_C_UnwrapKey, b, unknown_kind, f, g))
SHIM(C_DeriveKey, (S a, M b, O c, A d, U e, O *f), (a, b, c, d, e, f),
     check_key_call(FN_C_DeriveKey, b, unknown_kind, d, e))
SHIM(C_SeedRandom, (S a, B b, U c), (a, b, c), OK)
SHIM(C_GenerateRandom, (S a, B b, U c), (a, b, c), OK)
SHIM(C_GetFunctionStatus, (S a), (a), OK)
SHIM(C_CancelFunction, (S a), (a), OK)
SHIM(C_WaitForSlotEvent, (CK_FLAGS a, CK_SLOT_ID_PTR b, void *c), (a, b, c), OK)

/* Hidden mechanisms leave the list; the two-call idiom (count, then fill) sees the same count. */
static CK_RV shim_C_GetMechanismList(CK_SLOT_ID slot, CK_MECHANISM_TYPE_PTR list, U *count) {
  CK_RV rv = gate(FN_C_GetMechanismList);
  if (rv != CKR_OK || count == NULL) return rv != CKR_OK ? rv : CKR_ARGUMENTS_BAD;
  CK_ULONG real_count = 0;
  if ((rv = config.real->C_GetMechanismList(slot, NULL, &real_count)) != CKR_OK) return rv;
  CK_MECHANISM_TYPE *all = calloc(real_count + 1, sizeof *all);
  if (all == NULL) return CKR_HOST_MEMORY;
  if ((rv = config.real->C_GetMechanismList(slot, all, &real_count)) == CKR_OK) {
    CK_ULONG kept = 0;
    for (CK_ULONG i = 0; i < real_count; ++i)
      if (!profile_unlists(&config.profile, all[i])) all[kept++] = all[i];
    if (list != NULL && *count < kept) rv = CKR_BUFFER_TOO_SMALL;
    else if (list != NULL) memcpy(list, all, kept * sizeof *all);
    *count = kept;
  }
  free(all);
  return rv;
}

static CK_RV shim_C_GetMechanismInfo(CK_SLOT_ID slot, CK_MECHANISM_TYPE type,
                                     CK_MECHANISM_INFO_PTR info) {
  CK_RV rv = gate(FN_C_GetMechanismInfo);
  if (rv == CKR_OK && profile_unlists(&config.profile, type))
    rv = refuse(FN_C_GetMechanismInfo, CKR_MECHANISM_INVALID, "0x%lx not listed by the profile",
                type);
  return rv != CKR_OK ? rv : config.real->C_GetMechanismInfo(slot, type, info);
}

/* A refused attribute reads as the vendor's token answers it: unavailable, and the call's
 * return code the rule's (when the real module had nothing worse to say). */
static CK_RV shim_C_GetAttributeValue(S session, O object, A attributes, U count) {
  CK_RV rv = gate(FN_C_GetAttributeValue);
  if (rv != CKR_OK) return rv;
  struct object_kind kind = existing(session, object);
  rv = config.real->C_GetAttributeValue(session, object, attributes, count);
  for (CK_ULONG i = 0; attributes != NULL && i < count; ++i) {
    const struct refusal *rule = profile_refuses_read(&config.profile, kind, attributes[i].type);
    if (rule == NULL) continue;
    attributes[i].ulValueLen = CK_UNAVAILABLE_INFORMATION;
    if (rv == CKR_OK)
      rv = refuse(FN_C_GetAttributeValue, rule->rv, "attribute refused by profile line %d",
                  rule->line);
  }
  return rv;
}

static CK_FUNCTION_LIST shim_list = P11SHIM_FUNCTION_LIST;

__attribute__((visibility("default"))) CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR list) {
  pthread_once(&config_once, load_config);
  if (list == NULL) return CKR_ARGUMENTS_BAD;
  *list = &shim_list;
  return CKR_OK;
}
