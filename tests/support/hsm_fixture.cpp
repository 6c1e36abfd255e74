// SoftHSM temp tokens and the hsmctl runner for end-to-end tests.
#include "support/hsm_fixture.h"

#include "core/pkcs11/module.h"

#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace hsm::test {

TempDir::TempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "hsmctl-test-XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

bool through_proxy() {
  const char* v = std::getenv("HSMCTL_TEST_PROXY");
  return v != nullptr && std::string(v) == "1";
}

std::string test_module() {
  return through_proxy() ? p11::Module::find_p11_kit_proxy() : HSMCTL_SOFTHSM_MODULE;
}

SoftHsm::SoftHsm(const std::filesystem::path& dir) {
  std::filesystem::create_directories(dir / "tokens");
  conf_ = dir / "softhsm2.conf";
  std::ofstream(conf_) << "directories.tokendir = " << (dir / "tokens").string()
                       << "\nobjectstore.backend = file\nlog.level = ERROR\n"
                          "slots.removable = false\n";
  // p11-kit reads ~/.config/pkcs11 as $XDG_CONFIG_HOME/pkcs11; "user-config: only" there makes
  // it ignore the system's modules (tpm2-pkcs11, opensc, ...), so the proxy reaches this
  // SoftHSM alone, which reads SOFTHSM2_CONF from the environment as ever. p11-kit ignores user
  // configuration for root: scripts/lib/proxy_pass.sh then hides the system's modules instead.
  if (through_proxy()) {
    p11_kit_config_ = dir / "xdg";
    std::filesystem::create_directories(p11_kit_config_ / "pkcs11" / "modules");
    std::ofstream(p11_kit_config_ / "pkcs11" / "pkcs11.conf") << "user-config: only\n";
    std::ofstream(p11_kit_config_ / "pkcs11" / "modules" / "softhsm2.module")
        << "module: " << HSMCTL_SOFTHSM_MODULE << "\n";
  }
}

std::map<std::string, std::string> SoftHsm::env() const {
  std::map<std::string, std::string> env{{"SOFTHSM2_CONF", conf_.string()}};
  if (!p11_kit_config_.empty()) env["XDG_CONFIG_HOME"] = p11_kit_config_.string();
  return env;
}

unsigned long SoftHsm::slot_of(const std::string& label) const {
  auto env = this->env();
  env["HSMCTL_MODULE"] = test_module();
  const RunResult r = run_program({HSMCTL_BINARY, "--json", "token", "list"}, env);
  if (r.code != 0) throw std::runtime_error("token list failed: " + r.err);
  const nlohmann::json listed = r.json();
  for (const auto& slot : listed["slots"])
    if (!slot["token"].is_null() && slot["token"]["label"] == label)
      return slot["slot_id"].get<unsigned long>();
  throw std::runtime_error("no token labelled '" + label + "': " + r.out);
}

void SoftHsm::init_token(const std::string& label, const std::string& so_pin,
                         const std::string& pin) {
  const RunResult r = run_program({"/usr/bin/softhsm2-util", "--init-token", "--free", "--label",
                                   label, "--so-pin", so_pin, "--pin", pin},
                                  env());
  ASSERT_EQ(r.code, 0) << r.out << r.err;
}

HsmTest::HsmTest() : hsm_(tmp_.path() / "softhsm"), ws_(tmp_.path() / "ws") {
  std::filesystem::create_directories(ws_);
  hsm_.init_token("test");
}

std::map<std::string, std::string> HsmTest::base_env() const {
  auto env = hsm_.env();
  env["HSMCTL_MODULE"] = test_module();
  env["HSMCTL_TOKEN"] = "test";
  env["HSMCTL_DIR"] = ws_.string();
  env["HSMCTL_PIN_SOURCE"] = "env:HSMCTL_TEST_PIN";
  env["HSMCTL_TEST_PIN"] = kPin;
  env["USER"] = "tester";
  return env;
}

RunResult HsmTest::hsmctl(const std::vector<std::string>& args,
                          const std::map<std::string, std::string>& extra,
                          const std::string& stdin_data) {
  std::vector<std::string> argv{HSMCTL_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  auto env = base_env();
  for (const auto& [k, v] : extra) env[k] = v;
  std::vector<std::string> unset;
  for (auto it = env.begin(); it != env.end();) {
    if (it->second == "<unset>") {
      unset.push_back(it->first);
      it = env.erase(it);
    } else {
      ++it;
    }
  }
  RunResult r = run_program(argv, env, stdin_data, unset);
  // Every human output of the suite: hsmctl escapes control characters in what it prints, so
  // none may reach a terminal raw (line feeds and tabs aside). JSON on stdout is for tools and
  // carries values as JSON allows (DEL, for one, unescaped).
  const bool json = std::find(args.begin(), args.end(), "--json") != args.end();
  for (const std::string* stream : {&r.out, &r.err}) {
    if (json && stream == &r.out) continue;
    const auto raw = std::find_if(stream->begin(), stream->end(), [](char c) {
      const auto u = static_cast<unsigned char>(c);
      return (u < 0x20 && c != '\n' && c != '\t') || u == 0x7F;
    });
    EXPECT_EQ(raw, stream->end())
        << "raw control character 0x" << std::hex
        << (raw == stream->end() ? 0 : static_cast<unsigned>(static_cast<unsigned char>(*raw)))
        << " in the " << (stream == &r.out ? "stdout" : "stderr") << " of hsmctl "
        << testing::PrintToString(args);
  }
  return r;
}

RunResult HsmTest::openssl(const std::vector<std::string>& args) {
  std::vector<std::string> argv{"/usr/bin/openssl"};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_program(argv);
}

RunResult HsmTest::master_init(const std::filesystem::path& shares) {
  make_private_dir(shares);
  return hsmctl({"master", "init", "--threshold", "2", "--custodians", "a,b,c", "--shares-out",
                 shares.string()});
}

std::filesystem::path HsmTest::write_file(const std::string& name, const std::string& content,
                                          unsigned mode) {
  const auto p = tmp_.path() / name;
  std::ofstream(p, std::ios::binary) << content;
  ::chmod(p.c_str(), mode);
  return p;
}

std::string HsmTest::read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void make_private_dir(const std::filesystem::path& dir) {
  std::filesystem::create_directories(dir);
  std::filesystem::permissions(dir, std::filesystem::perms::owner_all,
                               std::filesystem::perm_options::replace);
}

void expect_failure(const RunResult& r, int code, const std::string& needle) {
  EXPECT_EQ(r.code, code) << "stdout:\n" << r.out << "\nstderr:\n" << r.err;
  const auto lines = r.err_lines();
  int errors = 0;
  for (const auto& l : lines)
    if (l.rfind("hsmctl: error: ", 0) == 0) ++errors;
  EXPECT_EQ(errors, 1) << "expected exactly one 'hsmctl: error:' line, stderr:\n" << r.err;
  EXPECT_NE(r.err.find(needle), std::string::npos)
      << "stderr does not mention '" << needle << "':\n" << r.err;
}

std::string profile_shim_module() {
  return (std::filesystem::path(HSMCTL_BINARY).parent_path() / "tests" / "profileshim" /
          "hsmprofileshim.so").string();
}

std::string shipped_profile(const std::string& name) {
  return std::string(HSMCTL_SOURCE_DIR) + "/tests/profiles/" + name + ".profile";
}

}  // namespace hsm::test
