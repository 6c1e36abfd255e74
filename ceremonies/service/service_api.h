// The HTTP face of `hsmctl serve` in one worker process: the routes, JSON in and out, the
// status codes, one log line and the metrics for every request. The signatures are made in
// batches (group_commit.h), one batch at a time per worker, each in a workspace opened for it;
// the other token work one request at a time. Request bodies
// are never logged; the password and the code go into Secrets and the body is wiped.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <mutex>
#include <string>

#include "ceremonies/service/admission.h"
#include "ceremonies/service/allow_list.h"
#include "ceremonies/service/csc_api.h"
#include "ceremonies/service/group_commit.h"
#include "ceremonies/service/sad_store.h"
#include "ceremonies/service/service_metrics.h"
#include "ceremonies/service/service_sign.h"
#include "ceremonies/workspace.h"
#include "core/secure/secret.h"

namespace httplib {
class Server;
struct Request;
struct Response;
}

namespace hsm {

// The largest request body taken (413 above).
inline constexpr std::size_t kMaxServiceBody = 1 << 20;

struct SigningServiceConfig {
  WorkspaceOptions workspace;     // its pin_source is not read: `pin` is used
  const Secret* pin = nullptr;    // read once by the supervisor
  std::int64_t max_auth_failures = 5;
  std::chrono::seconds sad_ttl{kDefaultSadTtlSeconds};  // CSC: a SAD's lifetime
  const AllowList* allow = nullptr;  // --allow; null: every client may use every user
  int queue_limit = kDefaultServeQueue;  // --queue: requests waiting per worker
  int request_timeout_seconds = 10;      // --request-timeout: each read and write
  double client_rate = 0;               // --client-rate: requests/s per client certificate
  double user_rate = kDefaultUserRate;  // --user-rate: signing requests/s per user
  RateLimiter* rates = nullptr;         // shared by the workers; null: no rate limit
  ServiceMetrics* metrics = nullptr;    // counts the refusals of admit_user
  // Throws NotAdmitted 429 when `user` is over --user-rate.
  void admit_user(std::string_view user) const;
  bool may_use_user(const ClientIdentity& c, std::string_view user) const {
    return allow == nullptr || allow->may_use_user(c, user);
  }
  bool may_use_group(const ClientIdentity& c, std::string_view group) const {
    return allow == nullptr || allow->may_use_group(c, group);
  }
};

// Copies the string member `key` of a parsed request into a Secret and wipes the parser's
// string; null when it is missing or not a string.
std::shared_ptr<const Secret> take_secret(nlohmann::json& doc, const char* key);

// The client certificate's SHA-256 fingerprint and subject CN.
ClientIdentity client_identity(const httplib::Request& req);
// The one-sentence refusal of a client the allow-list does not let use `user`.
std::string not_allowed_message(const ClientIdentity& c, std::string_view user,
                                std::string_view kind = "user");

class SigningService {
 public:
  // `log` takes the worker's messages, `access` one JSON object per request (the access log);
  // calls are serialized.
  SigningService(const SigningServiceConfig& config, ServiceMetrics& metrics, SadStore& sads,
                 std::function<void(const std::string&)> log,
                 std::function<void(const std::string&)> access);
  // Adds the routes (the CSC API's too, csc_api.h), the limits, the error bodies and the per-request log to `server`.
  void install(httplib::Server& server);

 private:
  struct Reply {
    int status = 200;
    std::string body;
    std::string type = "application/json";
    int retry_after = 0;  // seconds, for 429 and 503
    static Reply error(int status, const std::string& message);  // {"error": message}
  };
  // The answer of a signature: 200 with signature, algorithm, seq and the receipt when one
  // can be made.
  Reply signed_answer(const ServiceSignature& s, const std::string* receipt);
  // One request's token work, in a batch (group_commit.h): the signed answer, or the status of
  // the failure (sign_failure). `request` names what is signed for whom, for the batch's
  // ceremony.begin.
  Reply sign_at_token(
      nlohmann::json request,
      const std::function<ServiceSignature(Workspace&, Recorder&, const MasterKeys&,
                                           AuthOutcome&)>& work,
      GroupCommit::Prepare prepare = nullptr);
  // A request's factors, its password stretched (one KDF at a time in a worker); `row`, if
  // given, gets the user's row as read for the KDF costs (without the lock: a hint).
  UserFactors request_factors(const std::string& user,
                              const std::shared_ptr<const Secret>& password,
                              const std::shared_ptr<const Secret>& otp,
                              std::optional<keystore::UserRecord>* row = nullptr);
  // The status of a failed signature request (400, 401, 404, 423, 500), counting a lockout.
  Reply sign_failure(const Error& e, const AuthOutcome& outcome);
  // Answers what `make` returns; a request it does not admit (NotAdmitted) gets its 503 or
  // 429 with Retry-After.
  static void respond(httplib::Response& res, const std::function<Reply()>& make);
  Reply healthz();
  Reply checkpoint();
  Reply public_key(const std::string& name, const ClientIdentity& client);
  Reply sign(const std::string& name, std::string& body, const ClientIdentity& client);
  // service_groups.cpp
  Reply group_public_key(const std::string& name, const ClientIdentity& client);
  Reply group_sign(const std::string& name, std::string& body, const ClientIdentity& client);
  void install_group_routes(httplib::Server& server);
  // service_data.cpp: POST /v1/groups/{name}/deks and /v1/groups/{name}/deks/open.
  void install_data_routes(httplib::Server& server);
  void log(const std::string& line);
  const SigningServiceConfig& config_;
  ServiceMetrics& metrics_;
  std::function<void(const std::string&)> log_, access_;
  std::mutex log_mutex_;
  TokenGate gate_;        // the token, one request (or batch) at a time; csc_ shares it
  GroupCommit batches_;   // and the batches of signatures
  std::mutex kdf_mutex_;  // one KDF at a time; guards hints_
  std::unique_ptr<keystore::Keystore> hints_;  // read without the lock, for KDF costs only
  CscApi csc_;
};

}  // namespace hsm
