// The one include of the PKCS#11 C header (p11-kit's pkcs11.h, standard names). Only files in
// core/pkcs11/ include this: everywhere else speaks in hsmctl's words.
#pragma once

#include <p11-kit/pkcs11.h>
