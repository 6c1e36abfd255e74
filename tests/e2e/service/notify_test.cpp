// Under systemd (Type=notify): the service says READY=1 once its workers are started,
// RELOADING=1 and READY=1 around a SIGHUP, and STOPPING=1 when it drains, on the datagram
// socket NOTIFY_SOCKET names (a socket this test binds, as systemd would).
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "e2e/service/serve_fixture.h"

namespace hsm::test {
namespace {

class ServeNotify : public ServeTest {
 protected:
  void TearDown() override {
    ServeTest::TearDown();
    if (fd_ >= 0) ::close(fd_);
    ::unsetenv("NOTIFY_SOCKET");
  }
  void listen_as_systemd() {
    const std::string path = (tmp_.path() / "notify.sock").string();
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(fd_, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    ASSERT_LT(path.size(), sizeof addr.sun_path);
    std::copy(path.begin(), path.end(), addr.sun_path);
    ASSERT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    timeval tv{30, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setenv("NOTIFY_SOCKET", path.c_str(), 1);  // the service inherits it
  }
  // The next message, or "" after 30 s.
  std::string next_message() {
    char buf[4096];
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
  }
  int fd_ = -1;
};

TEST_F(ServeNotify, ReadyReloadingAndStoppingAreSent) {
  listen_as_systemd();
  start(2);
  const std::string ready = next_message();
  EXPECT_NE(ready.find("READY=1"), std::string::npos) << ready;
  EXPECT_NE(ready.find("STATUS=serving on 127.0.0.1:" + port_ + " with 2 workers"),
            std::string::npos) << ready;
  server_->signal(SIGHUP);
  EXPECT_NE(next_message().find("RELOADING=1"), std::string::npos);
  EXPECT_NE(next_message().find("READY=1"), std::string::npos);
  EXPECT_EQ(get("/healthz").status, 200);
  server_->signal(SIGTERM);
  EXPECT_NE(next_message().find("STOPPING=1"), std::string::npos);
  EXPECT_EQ(server_->finish(std::chrono::seconds(60)).code, 0);
  server_.reset();
}

}  // namespace
}  // namespace hsm::test
