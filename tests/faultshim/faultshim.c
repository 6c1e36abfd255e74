/* A PKCS#11 module for tests only: forwards every call to a real module (SoftHSM) and makes one
 * chosen call fail with a chosen CK_RV instead, without ever reaching the real function, so the
 * token is never left with a half-done operation. It must never be loaded outside the test suite.
 *
 * Environment, read once at the first C_GetFunctionList (empty values count as unset):
 *   FAULTSHIM_MODULE    real module to forward to (default /usr/lib/softhsm/libsofthsm2.so)
 *   FAULTSHIM_FUNCTION  name of the function to fail, e.g. C_Sign; with FAULTSHIM_CALL=K
 *                       (1-based, default 1) the K-th call of that function fails.
 *   FAULTSHIM_NTH       N: the N-th counted call of any function fails (1-based).
 *   FAULTSHIM_RV        CKR_ name from the table below or a number (0x30, 48); default
 *                       CKR_DEVICE_ERROR. CKR_OK is refused: the real function would not run,
 *                       so the caller would read outputs that were never written.
 *   FAULTSHIM_LOG       file to append one line per counted call to, written with one write():
 *                       "<index> <function> 0x<rv hex>[ injected| spared]\n", after the call
 *                       returns (so threads may log out of index order; a call that never
 *                       returns is not logged). A test should check for " injected": an N or K
 *                       beyond the last call injects nothing and marks nothing.
 * Choices:
 *   - Every call through the function list is counted, from 1, for the whole process (a second
 *     C_Initialize does not reset counts); C_GetFunctionList is never counted, and fails (with
 *     FAULTSHIM_RV, every time) only when FAULTSHIM_FUNCTION names it.
 *   - C_Finalize is counted and logged, but FAULTSHIM_NTH never fails it: a caller cannot do
 *     anything useful about a failed finalize, and a loop over N would only learn that the
 *     caller ignores it. When N lands on it the call is forwarded and logged with " spared", so a
 *     test can tell that run injected nothing. FAULTSHIM_FUNCTION=C_Finalize does fail it.
 *   - Any configuration mistake (unknown name, bad number, both modes, unloadable module,
 *     unopenable log) prints "faultshim: ..." to stderr and abort()s: a misconfigured run must
 *     crash loudly rather than look like an injected token failure that the test expected. */
#define _POSIX_C_SOURCE 200809L /* O_CLOEXEC, strtoul, pthread_once under -std=c11 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "p11shim/forwarding.h"

#define RV(name) {#name, name},
static const struct { const char *name; CK_RV value; } rv_names[] = {
    RV(CKR_DEVICE_ERROR) RV(CKR_SESSION_HANDLE_INVALID) RV(CKR_TOKEN_NOT_PRESENT)
    RV(CKR_DEVICE_MEMORY) RV(CKR_GENERAL_ERROR) RV(CKR_FUNCTION_FAILED) RV(CKR_DEVICE_REMOVED)
    RV(CKR_HOST_MEMORY) RV(CKR_ARGUMENTS_BAD) RV(CKR_FUNCTION_CANCELED)
    RV(CKR_FUNCTION_NOT_SUPPORTED) RV(CKR_KEY_HANDLE_INVALID) RV(CKR_OBJECT_HANDLE_INVALID)
    RV(CKR_OPERATION_ACTIVE) RV(CKR_PIN_INCORRECT) RV(CKR_PIN_LOCKED) RV(CKR_SESSION_CLOSED)
    RV(CKR_SESSION_COUNT) RV(CKR_TOKEN_NOT_RECOGNIZED) RV(CKR_TOKEN_WRITE_PROTECTED)
    RV(CKR_USER_ALREADY_LOGGED_IN) RV(CKR_USER_NOT_LOGGED_IN) RV(CKR_CRYPTOKI_NOT_INITIALIZED)};

/* Set once under pthread_once, read-only afterwards. */
static struct {
  CK_FUNCTION_LIST *real;
  enum function_id target; /* FN_NONE unless FAULTSHIM_FUNCTION */
  unsigned long target_call;
  unsigned long nth; /* 0 unless FAULTSHIM_NTH */
  CK_RV rv;
  int log_fd; /* -1 without FAULTSHIM_LOG */
  int fail_get_list; /* FAULTSHIM_FUNCTION=C_GetFunctionList */
} config = {NULL, FN_NONE, 0, 0, CKR_DEVICE_ERROR, -1, 0};

static CK_FUNCTION_LIST shim_list;
static atomic_ulong calls_counted;
static atomic_ulong target_calls_counted;
static pthread_once_t config_once = PTHREAD_ONCE_INIT;

__attribute__((noreturn, format(printf, 1, 2))) static void die(const char *format, ...) {
  va_list args;
  va_start(args, format);
  p11shim_vdie("faultshim", format, args);
}

static unsigned long parse_count(const char *variable, const char *text) {
  char *end = NULL;
  errno = 0;
  unsigned long value = strtoul(text, &end, 10);
  if (errno != 0 || *end != '\0' || value == 0 || text[0] == '-')
    die("%s=%s is not a positive call number; counting starts at 1", variable, text);
  return value;
}

static CK_RV parse_rv(const char *text) {
  for (size_t i = 0; i < sizeof rv_names / sizeof rv_names[0]; ++i)
    if (strcmp(text, rv_names[i].name) == 0) return rv_names[i].value;
  char *end = NULL;
  errno = 0;
  unsigned long value = strtoul(text, &end, 0);
  if (errno != 0 || *end != '\0' || text[0] == '-' || !(text[0] >= '0' && text[0] <= '9'))
    die("FAULTSHIM_RV=%s is neither a known CKR_ name nor a number such as 0x30", text);
  if (value == CKR_OK)
    die("FAULTSHIM_RV=%s is CKR_OK, which would hand the caller outputs never written", text);
  return value;
}

static void load_config(void) {
  const char *function = p11shim_env("FAULTSHIM_FUNCTION");
  const char *call = p11shim_env("FAULTSHIM_CALL"), *nth = p11shim_env("FAULTSHIM_NTH");
  const char *rv = p11shim_env("FAULTSHIM_RV"), *log = p11shim_env("FAULTSHIM_LOG");
  const char *module = p11shim_env("FAULTSHIM_MODULE");
  if (module == NULL) module = "/usr/lib/softhsm/libsofthsm2.so";

  if (function != NULL && nth != NULL)
    die("FAULTSHIM_FUNCTION and FAULTSHIM_NTH are both set; choose one way to pick the call");
  if (call != NULL && function == NULL) die("FAULTSHIM_CALL=%s needs FAULTSHIM_FUNCTION", call);
  if (function != NULL && strcmp(function, "C_GetFunctionList") == 0) {
    config.fail_get_list = 1;
    function = NULL;
  }
  if (function != NULL) {
    for (int i = 0; i < FN_COUNT; ++i)
      if (strcmp(function, function_names[i]) == 0) config.target = (enum function_id)i;
    if (config.target == FN_NONE)
      die("FAULTSHIM_FUNCTION=%s is not a PKCS#11 2.40 function this shim can fail", function);
    config.target_call = call != NULL ? parse_count("FAULTSHIM_CALL", call) : 1;
  }
  if (nth != NULL) config.nth = parse_count("FAULTSHIM_NTH", nth);
  if (rv != NULL) config.rv = parse_rv(rv);
  if (log != NULL) {
    config.log_fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (config.log_fd < 0) die("cannot open FAULTSHIM_LOG=%s: %s", log, strerror(errno));
  }

  config.real = p11shim_load_real("faultshim", "FAULTSHIM_MODULE", module);
  shim_list.version = config.real->version;
}

enum mark { MARK_NONE, MARK_INJECTED, MARK_SPARED };
static const char *const mark_suffix[] = {"", " injected", " spared"};

struct call {
  unsigned long index;
  enum function_id function;
  enum mark mark;
};

static struct call begin_call(enum function_id function) {
  struct call call = {atomic_fetch_add(&calls_counted, 1) + 1, function, MARK_NONE};
  if (config.nth != 0 && call.index == config.nth)
    call.mark = function == FN_C_Finalize ? MARK_SPARED : MARK_INJECTED;
  else if (function == config.target &&
           atomic_fetch_add(&target_calls_counted, 1) + 1 == config.target_call)
    call.mark = MARK_INJECTED;
  return call;
}

static void end_call(const struct call *call, CK_RV rv) {
  if (config.log_fd < 0) return;
  char line[128];
  int length = snprintf(line, sizeof line, "%lu %s 0x%lx%s\n", call->index,
                        function_names[call->function], rv, mark_suffix[call->mark]);
  /* One write() per line on an O_APPEND fd: a kill at any moment leaves only whole lines. */
  if (length > 0 && write(config.log_fd, line, (size_t)length) < 0) {
    /* Nowhere to report it; the test reading the log will see the line missing. */
  }
}

#define SHIM(name, params, args)                                                              \
  static CK_RV shim_##name params {                                                           \
    struct call call = begin_call(FN_##name);                                                 \
    CK_RV rv = call.mark == MARK_INJECTED    ? config.rv                                      \
               : config.real->name == NULL ? CKR_FUNCTION_NOT_SUPPORTED                       \
                                           : config.real->name args;                          \
    end_call(&call, rv);                                                                      \
    return rv;                                                                                \
  }

/* The wrappers, in the one-letter types of p11shim/forwarding.h. */
SHIM(C_Initialize, (void *a), (a))
SHIM(C_Finalize, (void *a), (a))
SHIM(C_GetInfo, (CK_INFO_PTR a), (a))
SHIM(C_GetSlotList, (CK_BBOOL a, CK_SLOT_ID_PTR b, U *c), (a, b, c))
SHIM(C_GetSlotInfo, (CK_SLOT_ID a, CK_SLOT_INFO_PTR b), (a, b))
SHIM(C_GetTokenInfo, (CK_SLOT_ID a, CK_TOKEN_INFO_PTR b), (a, b))
SHIM(C_GetMechanismList, (CK_SLOT_ID a, CK_MECHANISM_TYPE_PTR b, U *c), (a, b, c))
SHIM(C_GetMechanismInfo, (CK_SLOT_ID a, CK_MECHANISM_TYPE b, CK_MECHANISM_INFO_PTR c), (a, b, c))
SHIM(C_InitToken, (CK_SLOT_ID a, B b, U c, B d), (a, b, c, d))
SHIM(C_InitPIN, (S a, B b, U c), (a, b, c))
SHIM(C_SetPIN, (S a, B b, U c, B d, U e), (a, b, c, d, e))
SHIM(C_OpenSession, (CK_SLOT_ID a, CK_FLAGS b, void *c, CK_NOTIFY d, S *e), (a, b, c, d, e))
SHIM(C_CloseSession, (S a), (a))
SHIM(C_CloseAllSessions, (CK_SLOT_ID a), (a))
SHIM(C_GetSessionInfo, (S a, CK_SESSION_INFO_PTR b), (a, b))
SHIM(C_GetOperationState, (S a, B b, U *c), (a, b, c))
SHIM(C_SetOperationState, (S a, B b, U c, O d, O e), (a, b, c, d, e))
SHIM(C_Login, (S a, CK_USER_TYPE b, B c, U d), (a, b, c, d))
SHIM(C_Logout, (S a), (a))
SHIM(C_CreateObject, (S a, A b, U c, O *d), (a, b, c, d))
SHIM(C_CopyObject, (S a, O b, A c, U d, O *e), (a, b, c, d, e))
SHIM(C_DestroyObject, (S a, O b), (a, b))
SHIM(C_GetObjectSize, (S a, O b, U *c), (a, b, c))
SHIM(C_GetAttributeValue, (S a, O b, A c, U d), (a, b, c, d))
SHIM(C_SetAttributeValue, (S a, O b, A c, U d), (a, b, c, d))
SHIM(C_FindObjectsInit, (S a, A b, U c), (a, b, c))
SHIM(C_FindObjects, (S a, O *b, U c, U *d), (a, b, c, d))
SHIM(C_FindObjectsFinal, (S a), (a))
SHIM(C_EncryptInit, (S a, M b, O c), (a, b, c))
SHIM(C_Encrypt, (S a, B b, U c, B d, U *e), (a, b, c, d, e))
SHIM(C_EncryptUpdate, (S a, B b, U c, B d, U *e), (a, b, c, d, e))
SHIM(C_EncryptFinal, (S a, B b, U *c), (a, b, c))
SHIM(C_DecryptInit, (S a, M b, O c), (a, b, c))
SHIM(C_Decrypt, (S a, B b, U c, B d, U *e), (a, b, c, d, e))
SHIM(C_DecryptUpdate, (S a, B b, U c, B d, U *e), (a, b, c, d, e))
SHIM(C_DecryptFinal, (S a, B b, U *c), (a, b, c))
SHIM(C_DigestInit, (S a, M b), (a, b))
SHIM(C_Digest, (S a, B b, U c, B d, U *e), (a, b, c, d, e))
SHIM(C_DigestUpdate, (S a, B b, U c), (a, b, c))
SHIM(C_DigestKey, (S a, O b), (a, b))
SHIM(C_DigestFinal, (S a, B b, U *c), (a, b, c))
SHIM(C_SignInit, (S a, M b, O c), (a, b, c))
SHIM(C_Sign, (S a, B b, U c, B d, U *e), (a, b, c, d, e))
SHIM(C_SignUpdate, (S a, B b, U c), (a, b, c))
SHIM(C_SignFinal, (S a, B b, U *c), (a, b, c))
SHIM(C_SignRecoverInit, (S a, M b, O c), (a, b, c))
SHIM(C_SignRecover, (S a, B b, U c, B d, U *e), (a, b, c, d, e))
SHIM(C_VerifyInit, (S a, M b, O c), (a, b, c))
SHIM(C_Verify, (S a, B b, U c, B d, U e), (a, b, c, d, e))
SHIM(C_VerifyUpdate, (S a, B b, U c), (a, b, c))
SHIM(C_VerifyFinal, (S a, B b, U c), (a, b, c))
SHIM(C_VerifyRecoverInit, (S a, M b, O c), (a, b, c))
SHIM(C_VerifyRecover, (S a, B b, U c, B d, U *e), (a, b, c, d, e))
SHIM(C_DigestEncryptUpdate, (S a, B b, U c, B d, U *e), (a, b, c, d, e))
SHIM(C_DecryptDigestUpdate, (S a, B b, U c, B d, U *e), (a, b, c, d, e))
SHIM(C_SignEncryptUpdate, (S a, B b, U c, B d, U *e), (a, b, c, d, e))
SHIM(C_DecryptVerifyUpdate, (S a, B b, U c, B d, U *e), (a, b, c, d, e))
SHIM(C_GenerateKey, (S a, M b, A c, U d, O *e), (a, b, c, d, e))
SHIM(C_GenerateKeyPair, (S a, M b, A c, U d, A e, U f, O *g, O *h), (a, b, c, d, e, f, g, h))
SHIM(C_WrapKey, (S a, M b, O c, O d, B e, U *f), (a, b, c, d, e, f))
SHIM(C_UnwrapKey, (S a, M b, O c, B d, U e, A f, U g, O *h), (a, b, c, d, e, f, g, h))
SHIM(C_DeriveKey, (S a, M b, O c, A d, U e, O *f), (a, b, c, d, e, f))
SHIM(C_SeedRandom, (S a, B b, U c), (a, b, c))
SHIM(C_GenerateRandom, (S a, B b, U c), (a, b, c))
SHIM(C_GetFunctionStatus, (S a), (a))
SHIM(C_CancelFunction, (S a), (a))
SHIM(C_WaitForSlotEvent, (CK_FLAGS a, CK_SLOT_ID_PTR b, void *c), (a, b, c))

static CK_FUNCTION_LIST shim_list = P11SHIM_FUNCTION_LIST;

__attribute__((visibility("default"))) CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR list) {
  pthread_once(&config_once, load_config);
  if (config.fail_get_list) return config.rv;
  if (list == NULL) return CKR_ARGUMENTS_BAD;
  *list = &shim_list;
  return CKR_OK;
}
