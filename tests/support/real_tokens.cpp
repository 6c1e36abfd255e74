// Starts and stops swtpm + tpm2-pkcs11 and opencryptoki's pkcsslotd for tests (real_tokens.h).
// Every file either token writes lives under the directory it is given.
#include "support/real_tokens.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <fstream>
#include <thread>

namespace hsm::test {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

const char* const kTpm2Module = "/usr/lib/x86_64-linux-gnu/pkcs11/libtpm2_pkcs11.so";
const char* const kOpencryptokiModule = "/usr/lib/x86_64-linux-gnu/pkcs11/libopencryptoki.so";

// Binds 127.0.0.1:port (0: any); returns the port bound, or 0, and the socket in `fd`.
int bind_loopback_port(int port, int& fd) {
  fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  socklen_t len = sizeof a;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0)
    return 0;
  return ntohs(a.sin_port);
}

// A port P with P+1 free too (swtpm's server and control channels), both released again: a
// small race with other programs, which only makes a start fail, never a test pass.
int free_swtpm_ports() {
  for (int attempt = 0; attempt < 20; ++attempt) {
    int fd1 = -1, fd2 = -1;
    const int port = bind_loopback_port(0, fd1);
    const bool pair = port != 0 && port < 65535 && bind_loopback_port(port + 1, fd2) == port + 1;
    if (fd1 >= 0) ::close(fd1);
    if (fd2 >= 0) ::close(fd2);
    if (pair) return port;
  }
  return 0;
}

bool loopback_port_accepts(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  const bool ok = fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  if (fd >= 0) ::close(fd);
  return ok;
}

template <typename Ready>
bool wait_for_token(Ready ready, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  const auto until = Clock::now() + timeout;
  while (Clock::now() < until) {
    if (ready()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return ready();
}

std::chrono::milliseconds ms_since(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
}

void stop_token_process(std::unique_ptr<LiveProcess>& process) {
  if (!process) return;
  process->signal(SIGTERM);
  process->finish(std::chrono::seconds(10));  // kills it if it does not end by then
  process.reset();
}

}  // namespace

RunResult RealToken::run(std::vector<std::string> argv,
                         const std::map<std::string, std::string>& extra) const {
  argv.insert(argv.begin(), prefix.begin(), prefix.end());
  auto all = env;
  for (const auto& [k, v] : extra) all[k] = v;
  return run_program(argv, all);
}

RunResult RealToken::tool(const std::vector<std::string>& args) const {
  std::vector<std::string> argv{"/usr/bin/pkcs11-tool", "--module", module};
  argv.insert(argv.end(), args.begin(), args.end());
  return run(argv);
}

std::string RealToken::snapshot(const std::string& pin) const {
  const RunResult slots = tool({"--list-token-slots"});
  std::string s = "--list-token-slots exit " + std::to_string(slots.code) + "\n" + slots.out;
  if (!pin.empty()) {
    const RunResult objects =
        tool({"--slot", std::to_string(slot), "--login", "--pin", pin, "--list-objects"});
    s += "--list-objects exit " + std::to_string(objects.code) + "\n" + objects.out;
  }
  return s;
}

Tpm2Token::Tpm2Token(const fs::path& dir) {
  const auto start = Clock::now();
  if (!fs::exists("/usr/bin/swtpm") || !fs::exists(kTpm2Module)) {
    failure_ = "swtpm or tpm2-pkcs11 is not installed (scripts/lib/deps.sh lists them)";
    unavailable_ = true;
    return;
  }
  fs::create_directories(dir / "tpm-state");
  fs::create_directories(dir / "tpm2-pkcs11");
  const int port = free_swtpm_ports();
  if (port == 0) {
    failure_ = "no free pair of TCP ports on 127.0.0.1 for swtpm";
    return;
  }
  swtpm_ = std::make_unique<LiveProcess>(
      std::vector<std::string>{"/usr/bin/swtpm", "socket", "--tpm2", "--tpmstate",
                               "dir=" + (dir / "tpm-state").string(), "--server",
                               "type=tcp,port=" + std::to_string(port) + ",bindaddr=127.0.0.1",
                               "--ctrl",
                               "type=tcp,port=" + std::to_string(port + 1) + ",bindaddr=127.0.0.1",
                               "--flags", "not-need-init,startup-clear"},
      std::map<std::string, std::string>{}, false);
  if (!wait_for_token([&] { return loopback_port_accepts(port); })) {
    failure_ = "swtpm did not listen on 127.0.0.1:" + std::to_string(port);
    return;
  }
  token_.name = "tpm2-pkcs11";
  token_.module = kTpm2Module;
  // Direct to swtpm, no tpm2-abrmd: one client at a time is all a test needs.
  token_.env = {{"TPM2_PKCS11_TCTI", "swtpm:host=127.0.0.1,port=" + std::to_string(port)},
                {"TPM2_PKCS11_STORE", (dir / "tpm2-pkcs11").string()},
                {"TPM2_PKCS11_LOG_LEVEL", "0"},
                {"TSS2_LOG", "all+NONE"}};
  // The module shows one empty slot to put a new token in; pkcs11-tool says "Slot 0 (0xID):".
  const RunResult list = token_.tool({"--list-slots"});
  const auto open = list.out.find("(0x");
  if (list.code != 0 || open == std::string::npos) {
    failure_ = "tpm2-pkcs11 shows no slot: " + list.out + list.err;
    return;
  }
  token_.slot = std::stoul(list.out.substr(open + 1), nullptr, 16);
  token_.startup = ms_since(start);
}

Tpm2Token::~Tpm2Token() { stop_token_process(swtpm_); }

OpencryptokiToken::OpencryptokiToken(const fs::path& dir) {
  const auto start = Clock::now();
  if (!fs::exists("/usr/sbin/pkcsslotd") || !fs::exists(kOpencryptokiModule)) {
    failure_ = "opencryptoki is not installed (scripts/lib/deps.sh lists it)";
    unavailable_ = true;
    return;
  }
  if (::geteuid() != 0) {
    failure_ = "opencryptoki 3.8 hardcodes /etc/opencryptoki, /var/lib/opencryptoki and /run, "
               "which only root can mount a private copy over (CI runs as root)";
    unavailable_ = true;
    return;
  }
  const fs::path root = dir / "opencryptoki";
  const fs::path script = dir / "start-pkcsslotd.sh";
  // Slot 0 is the soft token; the token's data directory must be pkcs11-group writable.
  std::ofstream(script) << "set -e\nT='" << root.string() << "'\n"
      "mkdir -p \"$T/etc\" \"$T/lib/swtok/TOK_OBJ\" \"$T/run/lock/opencryptoki/swtok\"\n"
      "printf 'version opencryptoki-3.1\\n\\nslot 0\\n{\\nstdll = libpkcs11_sw.so\\n}\\n' "
      "> \"$T/etc/opencryptoki.conf\"\n"
      "chgrp -R pkcs11 \"$T/lib\" \"$T/run/lock\"\n"
      "chmod -R 0770 \"$T/lib\" \"$T/run/lock/opencryptoki\"\n"
      "mount --bind \"$T/etc\" /etc/opencryptoki\n"
      "mount --bind \"$T/lib\" /var/lib/opencryptoki\n"
      "mount --bind \"$T/run\" /run\n"
      "mount -t tmpfs tmpfs /dev/shm\n"
      "exec /usr/sbin/pkcsslotd -f\n";
  // A mount and IPC namespace of its own: the bind mounts and the daemon's shared memory are
  // seen by no process outside, and vanish with the daemon.
  slotd_ = std::make_unique<LiveProcess>(
      std::vector<std::string>{"/usr/bin/unshare", "--mount", "--ipc", "--propagation", "private",
                               "/bin/sh", script.string()},
      std::map<std::string, std::string>{}, false);
  if (!wait_for_token([&] { return fs::exists(root / "run" / "pkcsslotd.socket"); })) {
    failure_ = "pkcsslotd did not start: " + slotd_->finish(std::chrono::seconds(5)).err;
    slotd_.reset();
    return;
  }
  token_.name = "opencryptoki";
  token_.module = kOpencryptokiModule;
  token_.slot = 0;
  token_.so_pin = kFactorySoPin;
  token_.prefix = {"/usr/bin/nsenter", "--target", std::to_string(slotd_->pid()), "--mount",
                   "--ipc", "--"};
  token_.startup = ms_since(start);
}

OpencryptokiToken::~OpencryptokiToken() { stop_token_process(slotd_); }

}  // namespace hsm::test
