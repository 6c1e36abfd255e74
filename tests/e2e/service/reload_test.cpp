// SIGHUP: the service reads its certificate, key, CA and allow-list files again. New workers
// take the running ones' place (they finish what they hold); files that do not make a server
// change nothing and are logged. Checked with openssl s_client, which shows the certificate
// the service presents.
#include <sys/wait.h>

#include <algorithm>
#include <fstream>
#include <thread>

#include "e2e/service/serve_fixture.h"

namespace hsm::test {
namespace {

class ServeReload : public ServeTest {
 protected:
  // The subject the service presents now, as openssl s_client prints it ("CN = server").
  std::string presented_subject() {
    const RunResult r = run_program(
        {"/usr/bin/openssl", "s_client", "-connect", "127.0.0.1:" + port_, "-CAfile",
         pki("ca.crt"), "-cert", pki("client.crt"), "-key", pki("client.key"), "-brief"},
        {}, "");
    const std::string all = r.out + r.err;
    const auto at = all.find("Peer certificate: ");
    if (at == std::string::npos) return {};
    const auto end = all.find('\n', at);
    return all.substr(at + 18, end - at - 18);
  }
  void replace_server_files_with(const std::string& leaf) {
    std::filesystem::copy_file(pki(leaf + ".crt"), pki("server.crt"),
                               std::filesystem::copy_options::overwrite_existing);
    std::filesystem::copy_file(pki(leaf + ".key"), pki("server.key"),
                               std::filesystem::copy_options::overwrite_existing);
  }
  bool presents_within(const std::string& cn, std::chrono::seconds limit) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < end) {
      if (presented_subject().find("CN = " + cn) != std::string::npos) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    return false;
  }
};

TEST_F(ServeReload, SighupServesTheNewCertificateAndBadFilesChangeNothing) {
  start(2);
  ASSERT_NE(presented_subject().find("CN = server"), std::string::npos) << presented_subject();
  const std::vector<pid_t> before = children_of(server_->pid());
  ASSERT_EQ(before.size(), 2u);

  make_leaf("renewed", "ca", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth");
  replace_server_files_with("renewed");
  server_->signal(SIGHUP);
  ASSERT_TRUE(presents_within("renewed", std::chrono::seconds(30)));
  EXPECT_TRUE(server_->wait_for_stderr("the workers were replaced", std::chrono::seconds(10)));
  // Two workers again, none of them the old ones: they end once they have finished, with no
  // connection needed to wake them (a worker that lost a race for a connection must not wait
  // in accept() for the next one).
  std::vector<pid_t> after;
  for (int i = 0; i < 50; ++i) {
    after = children_of(server_->pid());
    if (after.size() == 2 && std::find(after.begin(), after.end(), before[0]) == after.end() &&
        std::find(after.begin(), after.end(), before[1]) == after.end())
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(after.size(), 2u);
  for (const pid_t old : before)
    EXPECT_EQ(std::find(after.begin(), after.end(), old), after.end()) << old;
  EXPECT_EQ(get("/healthz").status, 200);

  // A certificate file that is not one: logged, and the service keeps what it had.
  std::ofstream(pki("server.crt"), std::ios::trunc) << "not a certificate\n";
  server_->signal(SIGHUP);
  EXPECT_TRUE(server_->wait_for_stderr("the running workers keep the files they read",
                                       std::chrono::seconds(10)));
  EXPECT_NE(presented_subject().find("CN = renewed"), std::string::npos);
  EXPECT_EQ(get("/healthz").status, 200);
  EXPECT_EQ(children_of(server_->pid()).size(), 2u);
}

}  // namespace
}  // namespace hsm::test
