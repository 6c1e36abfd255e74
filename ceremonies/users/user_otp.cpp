// TOTP enrolment: authenticate, new seed from the token, seal, store, record.
#include "ceremonies/users/user_otp.h"

#include <fmt/format.h>

#include "ceremonies/recorder.h"
#include "ceremonies/users/user_layers.h"
#include "core/error.h"
#include "core/otp/enrolment.h"
#include "core/otp/totp.h"

namespace hsm {

void OtpEnrolOptions::validate() const {
  if (!valid_user_name(name)) fail(Category::usage, fmt::format("'{}' is not a user name", name));
}

OtpEnrolment user_otp_enroll(Workspace& ws, const OtpEnrolOptions& o) {
  o.validate();
  OtpEnrolment out;
  run_ceremony(ws, "user.otp-enroll", {{"name", o.name}}, [&](Recorder& rec) {
    const p11::Session& s = ws.login();
    const MasterKeys mk = require_master(s);
    // Only the user enrols their second factor; replacing one needs the current code too.
    const UnlockedUser u = authenticate_user(rec, ws, mk, o.name, o.factors, o.max_auth_failures);

    const Secret seed = s.random_secret(otp::kSeedSize);
    const keystore::SealedBlob sealed = seal_otp_seed(s, mk.derive, o.name, seed);
    out.otpauth_uri = otp::otpauth_uri(kOtpIssuer, o.name, seed);

    keystore::Keystore& ks = ws.keystore();
    keystore::Transaction tx(ks);
    ks.set_user_otp(o.name, sealed, true);
    rec.record("user.otp-enrolled", {{"name", o.name},
                                     {"replaced", u.user.otp.enrolled},
                                     {"issuer", kOtpIssuer},
                                     {"type", "totp"},
                                     {"algorithm", "SHA1"},
                                     {"digits", otp::kDigits},
                                     {"period", otp::kTimeStep}});
    tx.commit();
  });
  return out;
}

}  // namespace hsm
