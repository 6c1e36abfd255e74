// A step's values checked by the command's own validate() (the code the command runs before it
// touches the token), so a plan that validates is not refused at argument time by its run.
// Files are checked by check_plan against the plan itself; here they are stood in for.
#include <fmt/format.h>

#include <charconv>
#include <filesystem>
#include <functional>

#include "ceremonies/keys/offline_sign.h"
#include "ceremonies/keys/signing_keys.h"
#include "ceremonies/keys/x509_cert.h"
#include "ceremonies/keys/x509_crl.h"
#include "ceremonies/master/master_init.h"
#include "ceremonies/plans/plan_rules.h"
#include "ceremonies/transcript/transcript_ops.h"
#include "core/error.h"

namespace hsm {

namespace {

// Reads a step's values as the command's options would hold them.
class StepValues {
 public:
  StepValues(const Plan& p, const PlanStep& s) : plan_(p), s_(s) {}
  std::string text(const char* key, std::string fallback = {}) const {
    const PlanArg* a = s_.arg(key);
    return a != nullptr && !a->values.empty() ? a->values.front() : fallback;
  }
  bool flag(const char* key) const { return s_.arg(key) != nullptr; }
  int integer(const char* key, int fallback = 0) const {
    const std::string t = text(key);
    int v = fallback;
    if (!t.empty()) std::from_chars(t.data(), t.data() + t.size(), v);
    return v;
  }
  std::string positional() const { return s_.positional.empty() ? "" : s_.positional.front(); }
  // An input file given: the plan file stands in (it exists; check_plan checked the real one).
  std::filesystem::path input(const char* key) const {
    return s_.arg(key) != nullptr ? std::filesystem::path(plan_.source) : std::filesystem::path();
  }
  // An output file given: a name that does not exist stands in.
  std::filesystem::path output(const char* key) const {
    if (s_.arg(key) == nullptr) return {};
    return std::filesystem::temp_directory_path() / "hsmctl-plan-check-no-such-file";
  }

 private:
  const Plan& plan_;
  const PlanStep& s_;
};

void master_shares(const StepValues& v, const PlanStep& s) {
  MasterInitOptions o;
  o.threshold = v.integer("threshold");
  o.custodians = s.list("custodians");
  // --group NAME:M:a,b,c, once per array element (the commas are the group's own).
  if (const PlanArg* g = s.arg("group"); g != nullptr)
    for (const auto& spec : g->values) o.groups.push_back(parse_share_group(spec));
  o.group_threshold = v.integer("group-threshold");
  o.allow_single_custodian = v.flag("allow-single-custodian");
  if (const std::string dir = v.text("shares-out"); !dir.empty()) o.delivery.shares_out = dir;
  o.validate();
}

}  // namespace

void check_step_values(const Plan& plan, const PlanStep& s, PlanProblems& problems) {
  const StepValues v(plan, s);
  std::function<void()> check;
  if (s.run == "master init" || s.run == "master reshare") {
    check = [&] { master_shares(v, s); };
  } else if (s.run == "key generate") {
    check = [&] {
      KeyGenerateOptions o;
      o.label = v.positional();
      o.algorithm = v.text("algo", o.algorithm);
      o.purpose = v.text("purpose", o.purpose);
      o.quorum = v.integer("quorum");
      o.no_backup = v.flag("no-backup");
      o.validate();
    };
  } else if (s.run == "sign file") {
    check = [&] {
      SignFileOptions o;
      o.key = v.text("key");
      o.in = v.input("in");
      o.out = v.output("out");
      o.format = v.text("format", o.format);
      o.cert = v.input("cert");
      o.validate();
    };
  } else if (s.run == "sign cert") {
    check = [&] {
      SignCertOptions o;
      o.key = v.text("key");
      o.self_signed = v.flag("self-signed");
      o.subject = v.text("subject");
      o.issuer_cert = v.input("issuer-cert");
      o.csr = v.input("csr");
      o.out = v.output("out");
      o.days = v.integer("days");
      o.profile = v.text("profile", o.profile);
      if (s.arg("path-len") != nullptr) o.path_length = v.integer("path-len");
      o.validate();
    };
  } else if (s.run == "sign csr") {
    check = [&] {
      SignCsrOptions o;
      o.key = v.text("key");
      o.subject = v.text("subject");
      o.out = v.output("out");
      o.validate();
    };
  } else if (s.run == "sign crl") {
    check = [&] {
      SignCrlOptions o;
      o.key = v.text("key");
      o.issuer_cert = v.input("issuer-cert");
      o.out = v.output("out");
      if (const PlanArg* a = s.arg("revoke")) o.revoke = a->values;
      o.next_update_days = v.integer("next-update");
      o.validate();
    };
  } else if (s.run == "transcript note") {
    check = [&] {
      NoteOptions o;
      o.witness = v.text("witness");
      o.text = v.positional();
      o.validate();
    };
  }
  if (!check) return;
  try {
    check();
  } catch (const Error& e) {
    const std::string message = e.what();
    problems.add(s.line_for(message), fmt::format("step {} ({}): {}", s.number, s.run, message));
  }
}

}  // namespace hsm
