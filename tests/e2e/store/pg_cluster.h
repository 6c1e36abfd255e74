// A PostgreSQL 15 cluster of one test's own, for the fault tests that stop or restart the
// server (the shared cluster of scripts/lib/pg_cluster.sh serves other tests meanwhile): initdb
// in a temp dir, its Unix socket there, no TCP, trust on the socket until a test asks for
// passwords; stopped (immediate) and removed when the object dies. As root the server runs as
// the "postgres" account, as in scripts/lib/pg_cluster.sh.
#pragma once

#include <gtest/gtest.h>
#include <pwd.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "support/process.h"

namespace hsm::test {

class PgCluster {
 public:
  PgCluster() {
    std::string pattern = "/tmp/hsmctl-pgfault-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    dir_ = pattern;
    if (::geteuid() == 0) {
      const passwd* pg = ::getpwnam("postgres");
      if (pg == nullptr || ::chown(dir_.c_str(), pg->pw_uid, pg->pw_gid) != 0)
        throw std::runtime_error("cannot hand " + dir_ + " to the postgres account");
      as_owner_ = {"/usr/sbin/runuser", "-u", "postgres", "--"};
    }
    run_as_owner({kBin + "initdb", "-D", data(), "-U", "hsmctl", "--auth=trust",
                  "--locale=C.UTF-8", "--encoding=UTF8", "--no-sync"});
    start();
    psql("CREATE DATABASE hsmctl", "postgres");
  }
  ~PgCluster() {
    if (std::filesystem::exists(data() + "/postmaster.pid"))
      run_program(owner_argv({kBin + "pg_ctl", "-D", data(), "-m", "immediate", "-w", "stop"}));
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  PgCluster(const PgCluster&) = delete;
  PgCluster& operator=(const PgCluster&) = delete;

  const std::string& dir() const { return dir_; }
  std::string url() const { return "postgresql:///hsmctl?host=" + dir_ + "&user=hsmctl"; }

  void start() {
    run_as_owner({kBin + "pg_ctl", "-D", data(), "-l", dir_ + "/server.log", "-w", "-s", "-o",
                  "-c listen_addresses='' -k " + dir_ + " -c fsync=off", "start"});
  }
  // A fast shutdown: the server ends every session (rolling back what they had open), then stops.
  void stop() { run_as_owner({kBin + "pg_ctl", "-D", data(), "-m", "fast", "-w", "-s", "stop"}); }
  void restart() {
    stop();
    start();
  }
  // The role gets `password`; the socket then asks for it (scram-sha-256).
  void require_passwords(const std::string& password) {
    psql("ALTER ROLE hsmctl PASSWORD '" + password + "'", "postgres");
    std::ofstream(data() + "/pg_hba.conf", std::ios::trunc) << "local all all scram-sha-256\n";
    run_as_owner({kBin + "pg_ctl", "-D", data(), "-s", "reload"});
  }

 private:
  inline static const std::string kBin = "/usr/lib/postgresql/15/bin/";
  std::string data() const { return dir_ + "/data"; }
  std::vector<std::string> owner_argv(std::vector<std::string> argv) const {
    argv.insert(argv.begin(), as_owner_.begin(), as_owner_.end());
    return argv;
  }
  void run_as_owner(const std::vector<std::string>& argv) {
    const RunResult r = run_program(owner_argv(argv));
    if (r.code != 0) {
      std::ifstream log(dir_ + "/server.log");
      const std::string server_log((std::istreambuf_iterator<char>(log)), {});
      throw std::runtime_error(argv[0] + " failed: " + r.err + r.out + server_log);
    }
  }
  void psql(const std::string& sql, const std::string& db) {
    const RunResult r =
        run_program({"/usr/bin/psql", "-X", "-q", "-h", dir_, "-U", "hsmctl", "-d", db, "-c", sql});
    if (r.code != 0) throw std::runtime_error("psql failed: " + r.err);
  }

  std::string dir_;
  std::vector<std::string> as_owner_;
};

}  // namespace hsm::test
