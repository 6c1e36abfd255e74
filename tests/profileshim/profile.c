/* Parses and matches mechanism profiles (format: tests/profileshim/README). A profile never
 * adds a capability: every rule only takes something away from the forwarded module. */
#define _POSIX_C_SOURCE 200809L
#include "profile.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "names.h"

static const char *const template_functions[] = {
    "*", "C_CreateObject", "C_CopyObject", "C_SetAttributeValue", "C_GetAttributeValue",
    "C_GenerateKey", "C_GenerateKeyPair", "C_UnwrapKey", "C_DeriveKey"};

static int complain(char *error, size_t size, const char *path, int line, const char *format,
                    ...) {
  va_list args;
  va_start(args, format);
  int n = snprintf(error, size, "%s:%d: ", path, line);
  if (n >= 0 && (size_t)n < size) vsnprintf(error + n, size - (size_t)n, format, args);
  va_end(args);
  return 0;
}

static int parse_value(const char *text, struct refusal *rule) {
  CK_ULONG number;
  if (strcmp(text, "true") == 0 || strcmp(text, "false") == 0) {
    rule->value[0] = text[0] == 't' ? CK_TRUE : CK_FALSE;
    rule->value_len = 1;
  } else if (strncmp(text, "hex:", 4) == 0) {
    const char *hex = text + 4;
    size_t n = strlen(hex);
    if (n % 2 != 0 || n / 2 > PROFILE_MAX_VALUE) return 0;
    for (size_t i = 0; i < n / 2; ++i) {
      unsigned byte;
      if (sscanf(hex + 2 * i, "%2x", &byte) != 1) return 0;
      rule->value[i] = (unsigned char)byte;
    }
    rule->value_len = n / 2;
  } else if (ck_number(text, "CKK_", &number) || ck_number(text, "CKO_", &number) ||
             ck_number(text, "CKM_", &number)) {
    memcpy(rule->value, &number, sizeof number);
    rule->value_len = sizeof number;
  } else {
    return 0;
  }
  rule->has_value = 1;
  return 1;
}

/* refuse FUNCTION CLASS KEYTYPE ATTRIBUTE[=VALUE] CKR_ */
static int parse_refusal(char **word, int words, struct refusal *rule, char *error, size_t size,
                         const char *path, int line) {
  if (words != 6)
    return complain(error, size, path, line,
                    "'refuse' takes FUNCTION CLASS KEYTYPE ATTRIBUTE[=VALUE] CKR_NAME");
  memset(rule, 0, sizeof *rule);
  rule->line = line;
  int known = 0;
  for (size_t i = 0; i < sizeof template_functions / sizeof template_functions[0]; ++i)
    known |= strcmp(word[1], template_functions[i]) == 0;
  if (!known || strlen(word[1]) >= sizeof rule->function)
    return complain(error, size, path, line, "'%s' is not a function that takes a template",
                    word[1]);
  strcpy(rule->function, word[1]);
  rule->any_class = strcmp(word[2], "*") == 0;
  if (!rule->any_class && !ck_number(word[2], "CKO_", &rule->object_class))
    return complain(error, size, path, line, "'%s' is not an object class (CKO_...)", word[2]);
  rule->any_type = strcmp(word[3], "*") == 0;
  if (!rule->any_type && !ck_number(word[3], "CKK_", &rule->key_type))
    return complain(error, size, path, line, "'%s' is not a key type (CKK_...)", word[3]);
  char *equals = strchr(word[4], '=');
  if (equals != NULL) *equals = '\0';
  rule->any_attribute = strcmp(word[4], "*") == 0;
  if (!rule->any_attribute && !ck_number(word[4], "CKA_", &rule->attribute))
    return complain(error, size, path, line, "'%s' is not an attribute (CKA_...)", word[4]);
  if (equals != NULL && (rule->any_attribute || !parse_value(equals + 1, rule)))
    return complain(error, size, path, line,
                    "'%s' is not a value: true, false, a CKK_/CKO_/CKM_ name, a number or "
                    "hex:BYTES", equals + 1);
  if (!ck_number(word[5], "CKR_", &rule->rv) || rule->rv == CKR_OK)
    return complain(error, size, path, line, "'%s' is not a return code other than CKR_OK",
                    word[5]);
  return 1;
}

int profile_load(const char *path, struct profile *profile, char *error, size_t size) {
  memset(profile, 0, sizeof *profile);
  FILE *file = fopen(path, "r");
  if (file == NULL) return complain(error, size, path, 0, "cannot open the profile");
  char text[512];
  int line = 0, ok = 1;
  while (ok && fgets(text, sizeof text, file) != NULL) {
    ++line;
    char *hash = strchr(text, '#');
    if (hash != NULL) *hash = '\0';
    char *word[8];
    int words = 0;
    for (char *save = NULL, *w = strtok_r(text, " \t\r\n", &save); w != NULL;
         w = strtok_r(NULL, " \t\r\n", &save))
      word[words < 8 ? words++ : 7] = w;
    if (words == 0) continue;
    if (strcmp(word[0], "hide") == 0) {
      if (words != 2 || profile->hidden_count == PROFILE_MAX_RULES ||
          !ck_number(word[1], "CKM_", &profile->hidden[profile->hidden_count]))
        ok = complain(error, size, path, line, "'hide' takes one mechanism (CKM_... or 0x...)");
      else
        ++profile->hidden_count;
    } else if (strcmp(word[0], "unlist") == 0) {
      if (words != 2 || profile->unlisted_count == PROFILE_MAX_RULES ||
          !ck_number(word[1], "CKM_", &profile->unlisted[profile->unlisted_count]))
        ok = complain(error, size, path, line, "'unlist' takes one mechanism (CKM_... or 0x...)");
      else
        ++profile->unlisted_count;
    } else if (strcmp(word[0], "disable") == 0) {
      if (words != 2 || strncmp(word[1], "C_", 2) != 0 || strlen(word[1]) >= 32 ||
          profile->disabled_count == PROFILE_MAX_RULES)
        ok = complain(error, size, path, line, "'disable' takes one function name (C_...)");
      else
        strcpy(profile->disabled[profile->disabled_count++], word[1]);
    } else if (strcmp(word[0], "refuse") == 0) {
      if (profile->refusal_count == PROFILE_MAX_RULES)
        ok = complain(error, size, path, line, "more than %d refusals", PROFILE_MAX_RULES);
      else if ((ok = parse_refusal(word, words, &profile->refusals[profile->refusal_count],
                                   error, size, path, line)))
        ++profile->refusal_count;
    } else {
      ok = complain(error, size, path, line, "unknown rule '%s' (hide, unlist, disable or refuse)",
                    word[0]);
    }
  }
  fclose(file);
  return ok;
}

int profile_hides(const struct profile *profile, CK_MECHANISM_TYPE mechanism) {
  for (size_t i = 0; i < profile->hidden_count; ++i)
    if (profile->hidden[i] == mechanism) return 1;
  return 0;
}

int profile_unlists(const struct profile *profile, CK_MECHANISM_TYPE mechanism) {
  for (size_t i = 0; i < profile->unlisted_count; ++i)
    if (profile->unlisted[i] == mechanism) return 1;
  return profile_hides(profile, mechanism);
}

int profile_disables(const struct profile *profile, const char *function) {
  for (size_t i = 0; i < profile->disabled_count; ++i)
    if (strcmp(profile->disabled[i], function) == 0) return 1;
  return 0;
}

static int kind_matches(const struct refusal *rule, struct object_kind kind) {
  return (rule->any_class || (kind.class_known && kind.object_class == rule->object_class)) &&
         (rule->any_type || (kind.type_known && kind.key_type == rule->key_type));
}

static int value_matches(const struct refusal *rule, const CK_ATTRIBUTE *attribute) {
  if (!rule->has_value) return 1;
  if (attribute->pValue == NULL) return 0;
  if (rule->value_len == 1 && attribute->ulValueLen == 1) /* booleans: any non-zero is true */
    return (*(const CK_BBOOL *)attribute->pValue != 0) == (rule->value[0] != 0);
  return attribute->ulValueLen == rule->value_len &&
         memcmp(attribute->pValue, rule->value, rule->value_len) == 0;
}

static void read_kind(struct object_kind *kind, const CK_ATTRIBUTE *attributes, CK_ULONG count) {
  for (CK_ULONG i = 0; i < count; ++i) {
    if (attributes[i].pValue == NULL || attributes[i].ulValueLen != sizeof(CK_ULONG)) continue;
    if (attributes[i].type == CKA_CLASS) {
      kind->class_known = 1;
      memcpy(&kind->object_class, attributes[i].pValue, sizeof(CK_ULONG));
    } else if (attributes[i].type == CKA_KEY_TYPE) {
      kind->type_known = 1;
      memcpy(&kind->key_type, attributes[i].pValue, sizeof(CK_ULONG));
    }
  }
}

const struct refusal *profile_refuses_template(const struct profile *profile,
                                               const char *function, struct object_kind kind,
                                               const CK_ATTRIBUTE *attributes, CK_ULONG count) {
  read_kind(&kind, attributes, count);
  for (size_t r = 0; r < profile->refusal_count; ++r) {
    const struct refusal *rule = &profile->refusals[r];
    if (strcmp(rule->function, "*") != 0 && strcmp(rule->function, function) != 0) continue;
    if (!kind_matches(rule, kind)) continue;
    if (rule->any_attribute) return rule;
    for (CK_ULONG i = 0; i < count; ++i)
      if (attributes[i].type == rule->attribute && value_matches(rule, &attributes[i]))
        return rule;
  }
  return NULL;
}

const struct refusal *profile_refuses_read(const struct profile *profile, struct object_kind kind,
                                           CK_ATTRIBUTE_TYPE attribute) {
  for (size_t r = 0; r < profile->refusal_count; ++r) {
    const struct refusal *rule = &profile->refusals[r];
    if ((strcmp(rule->function, "*") == 0 || strcmp(rule->function, "C_GetAttributeValue") == 0) &&
        !rule->any_attribute && !rule->has_value && rule->attribute == attribute &&
        kind_matches(rule, kind))
      return rule;
  }
  return NULL;
}
