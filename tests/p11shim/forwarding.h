/* What the test-only PKCS#11 shims (tests/faultshim, tests/profileshim) share: the 67 functions
 * of the version 2.40 list they wrap, the one-letter types their wrappers are written in, the
 * function list built from the wrappers, and loading the real module they forward to. Nothing
 * here decides what a call does: each shim writes its own wrappers. Never used outside them. */
#ifndef HSMCTL_P11SHIM_FORWARDING_H
#define HSMCTL_P11SHIM_FORWARDING_H

#include <dlfcn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include <p11-kit/pkcs11.h>

/* The 67 functions of the version 2.40 list other than C_GetFunctionList. */
#define P11SHIM_FUNCTIONS(X)                                                                     \
  X(C_Initialize) X(C_Finalize) X(C_GetInfo) X(C_GetSlotList) X(C_GetSlotInfo)                  \
  X(C_GetTokenInfo) X(C_GetMechanismList) X(C_GetMechanismInfo) X(C_InitToken) X(C_InitPIN)     \
  X(C_SetPIN) X(C_OpenSession) X(C_CloseSession) X(C_CloseAllSessions) X(C_GetSessionInfo)      \
  X(C_GetOperationState) X(C_SetOperationState) X(C_Login) X(C_Logout) X(C_CreateObject)        \
  X(C_CopyObject) X(C_DestroyObject) X(C_GetObjectSize) X(C_GetAttributeValue)                  \
  X(C_SetAttributeValue) X(C_FindObjectsInit) X(C_FindObjects) X(C_FindObjectsFinal)            \
  X(C_EncryptInit) X(C_Encrypt) X(C_EncryptUpdate) X(C_EncryptFinal) X(C_DecryptInit)           \
  X(C_Decrypt) X(C_DecryptUpdate) X(C_DecryptFinal) X(C_DigestInit) X(C_Digest)                 \
  X(C_DigestUpdate) X(C_DigestKey) X(C_DigestFinal) X(C_SignInit) X(C_Sign) X(C_SignUpdate)     \
  X(C_SignFinal) X(C_SignRecoverInit) X(C_SignRecover) X(C_VerifyInit) X(C_Verify)              \
  X(C_VerifyUpdate) X(C_VerifyFinal) X(C_VerifyRecoverInit) X(C_VerifyRecover)                  \
  X(C_DigestEncryptUpdate) X(C_DecryptDigestUpdate) X(C_SignEncryptUpdate)                      \
  X(C_DecryptVerifyUpdate) X(C_GenerateKey) X(C_GenerateKeyPair) X(C_WrapKey) X(C_UnwrapKey)    \
  X(C_DeriveKey) X(C_SeedRandom) X(C_GenerateRandom) X(C_GetFunctionStatus)                     \
  X(C_CancelFunction) X(C_WaitForSlotEvent)

#define P11SHIM_AS_ENUM(name) FN_##name,
#define P11SHIM_AS_NAME(name) #name,
enum function_id { FN_NONE = -1, P11SHIM_FUNCTIONS(P11SHIM_AS_ENUM) FN_COUNT };
static const char *const function_names[] = {P11SHIM_FUNCTIONS(P11SHIM_AS_NAME)};

_Static_assert(FN_COUNT == 67, "the 2.40 list has 68 functions, C_GetFunctionList included");
_Static_assert(sizeof(CK_FUNCTION_LIST) ==
                   offsetof(CK_FUNCTION_LIST, C_Initialize) + 68 * sizeof(CK_C_Initialize),
               "CK_FUNCTION_LIST is not the 68-function 2.40 list these shims wrap");

/* One-letter types keep each wrapper on one line; the compiler checks every one against the
 * typedef of its CK_FUNCTION_LIST field. */
typedef CK_SESSION_HANDLE S;
typedef CK_OBJECT_HANDLE O;
typedef CK_ULONG U;
typedef CK_BYTE_PTR B;
typedef CK_ATTRIBUTE_PTR A;
typedef CK_MECHANISM_PTR M;

/* The shim's function list, from its wrappers shim_C_Initialize ... shim_C_WaitForSlotEvent:
 * designated initializers from the same list as the enum, so no entry can be wired to the wrong
 * slot, and a wrapper missing from the list is an unused static function (-Wall). The version
 * is the real module's, set when it is loaded. */
#define P11SHIM_AS_ENTRY(name) .name = shim_##name,
#define P11SHIM_FUNCTION_LIST                                                                   \
  {.version = {CRYPTOKI_VERSION_MAJOR, CRYPTOKI_VERSION_MINOR},                                \
   .C_GetFunctionList = C_GetFunctionList,                                                     \
   P11SHIM_FUNCTIONS(P11SHIM_AS_ENTRY)}

/* The variable `name`, or NULL when it is unset or empty. */
static inline const char *p11shim_env(const char *name) {
  const char *value = getenv(name);
  return value != NULL && *value != '\0' ? value : NULL;
}

/* Prints "<shim>: <message>" to stderr and abort()s: a misconfigured run must crash loudly
 * rather than pass as the token behaviour a test expected. */
__attribute__((noreturn, format(printf, 2, 0))) static inline void p11shim_vdie(
    const char *shim, const char *format, va_list args) {
  fprintf(stderr, "%s: ", shim);
  vfprintf(stderr, format, args);
  fputc('\n', stderr);
  abort();
}

__attribute__((noreturn, format(printf, 2, 3))) static inline void p11shim_die(
    const char *shim, const char *format, ...) {
  va_list args;
  va_start(args, format);
  p11shim_vdie(shim, format, args);
}

/* The function list of the real module at `path` (named by the variable `variable` in the
 * messages); dies when it cannot be loaded. Never dlclose'd: the real module lives as long as
 * the process, like the shim itself. */
static inline CK_FUNCTION_LIST *p11shim_load_real(const char *shim, const char *variable,
                                                  const char *path) {
  void *handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (handle == NULL) p11shim_die(shim, "cannot load %s=%s: %s", variable, path, dlerror());
  CK_C_GetFunctionList get_list = (CK_C_GetFunctionList)dlsym(handle, "C_GetFunctionList");
  if (get_list == NULL) p11shim_die(shim, "%s exports no C_GetFunctionList", path);
  CK_FUNCTION_LIST *real = NULL;
  CK_RV rv = get_list(&real);
  if (rv != CKR_OK || real == NULL)
    p11shim_die(shim, "C_GetFunctionList of %s returned 0x%lx", path, rv);
  return real;
}

#endif
