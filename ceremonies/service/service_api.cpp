// Routes of `hsmctl serve`: /healthz, /metrics, /v1/users/{name}/public-key and
// /v1/users/{name}/sign; every error answer is {"error": "..."} (under /csc/v2/, CSC's
// {"error": ..., "error_description": ...}: csc_api.cpp).
#include "ceremonies/service/service_api.h"

#include <fmt/format.h>

#include <algorithm>
#include <httplib.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sodium.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>

#include "ceremonies/service/service_sign.h"
#include "ceremonies/transcript/checkpoint_ops.h"
#include "ceremonies/transcript/receipt_ops.h"
#include "ceremonies/users/user_admin.h"
#include "ceremonies/users/user_layers.h"
#include "core/error.h"
#include "core/printable.h"
#include "core/transcript/entry.h"

namespace hsm {

namespace {

constexpr const char* kJsonType = "application/json";
constexpr const char* kPemType = "application/x-pem-file";
constexpr const char* kCheckpointType = "text/plain; charset=utf-8";

// The time a request's answer started to be made; set when routing begins, per thread (one
// request at a time per pool thread).
thread_local std::chrono::steady_clock::time_point request_started;

Endpoint endpoint_of(const std::string& path) {
  if (path == "/healthz") return Endpoint::healthz;
  if (path == "/metrics") return Endpoint::metrics;
  if (path == "/v1/transcript/checkpoint") return Endpoint::checkpoint;
  if (path.rfind("/csc/v2/", 0) == 0) return Endpoint::csc;
  if (path.rfind("/v1/groups/", 0) == 0) {
    if (path.ends_with("/public-key")) return Endpoint::group_public_key;
    if (path.ends_with("/sign")) return Endpoint::group_sign;
    if (path.ends_with("/deks") || path.ends_with("/deks/open")) return Endpoint::group_deks;
  }
  if (path.rfind("/v1/users/", 0) == 0) {
    if (path.size() > 11 && path.ends_with("/public-key")) return Endpoint::public_key;
    if (path.size() > 5 && path.ends_with("/sign")) return Endpoint::sign;
  }
  return Endpoint::other;
}

std::string error_body(const std::string& message) {
  return nlohmann::json{{"error", message}}.dump() + "\n";
}

}  // namespace

// The SHA-256 fingerprint is "" without a certificate (never: the handshake demands one).
ClientIdentity client_identity(const httplib::Request& req) {
  ClientIdentity out;
  if (req.ssl == nullptr) return out;
  X509* cert = SSL_get1_peer_certificate(req.ssl);
  if (cert == nullptr) return out;
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (X509_digest(cert, EVP_sha256(), md, &len) == 1) out.fingerprint = to_hex(ByteView(md, len));
  char cn[256] = {};
  const int n = X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn,
                                          sizeof cn);
  if (n > 0) out.cn.assign(cn, static_cast<std::size_t>(n));
  X509_free(cert);
  return out;
}

std::string not_allowed_message(const ClientIdentity& c, std::string_view user,
                                std::string_view kind) {
  return fmt::format("the client certificate sha256:{} (CN '{}') may not use {} '{}': the "
                     "service's --allow list does not give it", c.fingerprint, printable(c.cn),
                     kind, printable(user));
}

namespace {

// A string member of the request, or Error(usage) naming it.
const std::string* string_member(const nlohmann::json& doc, const char* key, bool required) {
  const auto it = doc.find(key);
  if (it == doc.end()) {
    if (required) fail(Category::usage, fmt::format("\"{}\" is missing", key));
    return nullptr;
  }
  if (!it->is_string()) fail(Category::usage, fmt::format("\"{}\" must be a string", key));
  return &it->get_ref<const std::string&>();
}

}  // namespace

std::shared_ptr<const Secret> take_secret(nlohmann::json& doc, const char* key) {
  const auto it = doc.find(key);
  if (it == doc.end() || !it->is_string()) return nullptr;
  std::string& s = it->get_ref<std::string&>();
  auto secret = std::make_shared<const Secret>(Secret::copy_of(std::string_view(s)));
  sodium_memzero(s.data(), s.size());
  return secret;
}

namespace {

// The request's fields, checked before any token work: 400 for each problem.
ServiceSignRequest parse_sign_request(const std::string& name, std::string& body) {
  nlohmann::json doc = nlohmann::json::parse(body, nullptr, false);
  // The body held the password: wiped once parsed. (The parser's own buffers are freed
  // without a wipe: the process's heap is not dumped, see docs/design.md.)
  sodium_memzero(body.data(), body.size());
  if (doc.is_discarded()) fail(Category::usage, "the body is not JSON");
  if (!doc.is_object()) fail(Category::usage, "the body must be a JSON object");
  ServiceSignRequest r;
  r.name = name;
  // Secrets first, so that no early refusal leaves them in the parsed document.
  const bool has_password = doc.contains("password") && doc["password"].is_string();
  r.password = take_secret(doc, "password");
  const bool has_otp = doc.contains("otp");
  r.otp = take_secret(doc, "otp");
  if (!has_password) (void)string_member(doc, "password", true);
  if (has_otp && !r.otp) fail(Category::usage, "\"otp\" must be a string");
  const std::string* data = string_member(doc, "data", false);
  const std::string* digest = string_member(doc, "digest", false);
  if ((data == nullptr) == (digest == nullptr))
    fail(Category::usage, "give either \"data\" (base64) or \"digest\" (hex) with \"digest_alg\"");
  if (data != nullptr) {
    try {
      r.input = from_base64(*data);
    } catch (const Error&) {
      fail(Category::usage, "\"data\" is not base64");
    }
    return r;
  }
  r.form = SignedForm::digest;
  r.digest_alg = *string_member(doc, "digest_alg", true);
  if (r.digest_alg != "sha256" && r.digest_alg != "sha384")
    fail(Category::usage, "\"digest_alg\" must be \"sha256\" or \"sha384\"");
  try {
    r.input = from_hex(*digest);
  } catch (const Error&) {
    fail(Category::usage, "\"digest\" is not hex");
  }
  const std::size_t want = r.digest_alg == "sha256" ? 32 : 48;
  if (r.input.size() != want)
    fail(Category::usage, fmt::format("a {} digest is {} bytes ({} hex digits), not {}",
                                      r.digest_alg, want, 2 * want, r.input.size()));
  r.validate();
  return r;
}

}  // namespace

SigningService::Reply SigningService::Reply::error(int status, const std::string& message) {
  return {status, error_body(message), kJsonType};
}

SigningService::SigningService(const SigningServiceConfig& config, ServiceMetrics& metrics,
                               SadStore& sads, std::function<void(const std::string&)> log,
                               std::function<void(const std::string&)> access)
    : config_(config), metrics_(metrics), log_(std::move(log)), access_(std::move(access)),
      gate_(config.queue_limit, metrics),
      batches_(config_.workspace, *config_.pin, gate_, config.queue_limit, metrics),
      csc_(config_, metrics_, sads, gate_, batches_) {}

void SigningService::log(const std::string& line) {
  const std::lock_guard<std::mutex> g(log_mutex_);
  if (log_) log_(line);
}

SigningService::Reply SigningService::healthz() {
  try {
    const TokenGate::Turn one_at_a_time(gate_);
    Workspace ws(config_.workspace);
    ws.use_pin(Secret::copy_of(config_.pin->bytes()));
    check_service_ready(ws);
  } catch (const std::exception& e) {
    return {503, nlohmann::json{{"status", "not ready"}, {"error", e.what()}}.dump() + "\n",
            kJsonType};
  } catch (const NotAdmitted& n) {  // busy: the queue for the token is full
    Reply r{503, nlohmann::json{{"status", "not ready"}, {"error", n.why}}.dump() + "\n",
            kJsonType};
    r.retry_after = n.retry_after_seconds;
    return r;
  }
  return {200, nlohmann::json{{"status", "ready"}}.dump() + "\n", kJsonType};
}

SigningService::Reply SigningService::checkpoint() {
  try {
    const TokenGate::Turn one_at_a_time(gate_);
    Workspace ws(config_.workspace);  // the lock: never a checkpoint half replaced
    const auto note = load_checkpoint(config_.workspace.dir / "transcript.jsonl");
    if (!note)
      return Reply::error(404, "the transcript has no checkpoint yet: the first ceremony, or "
                               "'hsmctl transcript checkpoint', makes one");
    return {200, note->format(), kCheckpointType};
  } catch (const std::exception& e) {
    return Reply::error(500, e.what());
  }
}

SigningService::Reply SigningService::public_key(const std::string& name,
                                                 const ClientIdentity& client) {
  if (!valid_user_name(name)) return Reply::error(400, fmt::format("'{}' is not a user name", name));
  if (!config_.may_use_user(client, name)) return Reply::error(403, not_allowed_message(client, name));
  try {
    const TokenGate::Turn one_at_a_time(gate_);
    Workspace ws(config_.workspace);
    return {200, user_public_pem(ws, name), kPemType};
  } catch (const Error& e) {
    return Reply::error(e.category() == Category::not_found ? 404 : 500, e.what());
  }
}

SigningService::Reply SigningService::sign(const std::string& name, std::string& body,
                                           const ClientIdentity& client) {
  if (!config_.may_use_user(client, name)) {
    sodium_memzero(body.data(), body.size());  // it held the password
    return Reply::error(403, not_allowed_message(client, name));
  }
  ServiceSignRequest r;
  try {
    r = parse_sign_request(name, body);
  } catch (const Error& e) {
    return Reply::error(400, e.what());
  }
  config_.admit_user(name);
  r.client = client.fingerprint;
  r.max_auth_failures = config_.max_auth_failures;
  std::optional<keystore::UserRecord> row;
  const UserFactors factors = request_factors(r.name, r.password, r.otp, &row);
  // The token work that needs no lock is done ahead, from the row read for the KDF hint; the
  // ceremony uses it only if the row under the lock is the same.
  std::optional<PreparedUserSignature> prepared;
  GroupCommit::Prepare prepare;
  if (row)
    prepare = [&](const p11::Session& s, const MasterKeys& mk) {
      prepared = prepare_user_sign(s, mk, *row, r, factors);
    };
  return sign_at_token(
      {{"user", name}, {"client_fingerprint", client.fingerprint}},
      [&](Workspace& ws, Recorder& rec, const MasterKeys& mk, AuthOutcome& outcome) {
        return serve_user_sign(rec, ws, mk, r, factors, outcome, prepared ? &*prepared : nullptr);
      },
      std::move(prepare));
}

UserFactors SigningService::request_factors(const std::string& user,
                                            const std::shared_ptr<const Secret>& password,
                                            const std::shared_ptr<const Secret>& otp,
                                            std::optional<keystore::UserRecord>* row) {
  UserFactors factors;
  factors.password_value = password;
  factors.otp_code = otp;
  if (!password) return factors;
  // One Argon2id buffer per worker: the requests of a worker take turns at the KDF, beside
  // (not behind) the batch at the token. The user's KDF costs come from a connection the
  // worker keeps for such hints; the ceremony reads the row again under the lock.
  const std::lock_guard<std::mutex> one_kdf(kdf_mutex_);
  try {
    if (!hints_) hints_ = Workspace(config_.workspace).unlocked_keystore();
    factors.stretched = stretch_from_hint(*hints_, user, *password, row);
  } catch (const Error&) {
    hints_.reset();  // opened again next time; the ceremony reports what is wrong
  }
  return factors;
}

SigningService::Reply SigningService::sign_at_token(
    nlohmann::json request,
    const std::function<ServiceSignature(Workspace&, Recorder&, const MasterKeys&, AuthOutcome&)>&
        work,
    GroupCommit::Prepare prepare) {
  ServiceSignature made;
  GroupCommit::Result r = batches_.run(
      std::move(request),
      [&](Workspace& ws, Recorder& rec, const MasterKeys& mk, AuthOutcome& outcome) {
        made = work(ws, rec, mk, outcome);
        return std::vector<std::uint64_t>{made.seq};
      },
      std::move(prepare));
  if (r.refused) throw *r.refused;
  if (r.ok) {
    const auto receipt = r.receipts.find(made.seq);
    return signed_answer(made, receipt == r.receipts.end() ? nullptr : &receipt->second);
  }
  if (r.error) return sign_failure(*r.error, r.outcome);
  return Reply::error(500, "internal: a request left its batch without an answer");
}

SigningService::Reply SigningService::signed_answer(const ServiceSignature& s,
                                                   const std::string* receipt) {
  nlohmann::json answer{{"signature", to_base64(s.signature)},
                        {"algorithm", s.algorithm},
                        {"seq", s.seq}};
  // The receipt (c2sp.org/tlog-proof@v1) against the checkpoint the ceremony's end made.
  // Without one (the checkpoint could not be signed) the signature stands: it is logged.
  try {
    answer["receipt"] =
        receipt != nullptr ? *receipt
                           : make_receipt(config_.workspace.dir / "transcript.jsonl", s.seq);
  } catch (const Error& e) {
    log(fmt::format("worker {}: no receipt for seq {}: {}", ::getpid(), s.seq, e.what()));
  }
  return {200, answer.dump() + "\n", kJsonType};
}

SigningService::Reply SigningService::sign_failure(const Error& e, const AuthOutcome& outcome) {
  if (outcome.locked_now) metrics_.count_lockout();
  if (e.category() == Category::token) metrics_.count_token_error();
  switch (e.category()) {
    case Category::usage: return Reply::error(400, e.what());
    case Category::not_found: return Reply::error(outcome.factors_checked ? 404 : 500, e.what());
    case Category::auth:
      if (!outcome.factors_checked) break;  // the token refused the PIN: the service's fault
      return Reply::error(outcome.was_locked ? 423 : 401, e.what());
    default: break;
  }
  return Reply::error(500, e.what());
}

void SigningService::respond(httplib::Response& res, const std::function<Reply()>& make) {
  Reply r;
  try {
    r = make();
  } catch (const NotAdmitted& n) {  // a full queue, a rate limit
    r = Reply::error(n.status, n.why);
    r.retry_after = n.retry_after_seconds;
  }
  res.status = r.status;
  if (r.retry_after > 0) res.set_header("Retry-After", std::to_string(r.retry_after));
  res.set_content(std::move(r.body), r.type.c_str());
}

void SigningServiceConfig::admit_user(std::string_view user) const {
  if (rates == nullptr) return;
  const int wait = rates->take("user:" + std::string(user), user_rate);
  if (wait == 0) return;
  if (metrics != nullptr) metrics->count_refusal(ServiceMetrics::Refusal::user_rate);
  throw NotAdmitted{429, wait, fmt::format("user '{}' is over the signing rate: try again "
                                             "later", printable(user))};
}

void SigningService::install(httplib::Server& server) {
  server.set_payload_max_length(kMaxServiceBody);
  server.set_read_timeout(config_.request_timeout_seconds);
  server.set_write_timeout(config_.request_timeout_seconds);
  server.set_keep_alive_timeout(5);
  // Each keep-alive connection holds a thread: enough of them for the queue (--queue) to fill
  // and the signatures to be batched (group_commit.h), so that overload is answered (503)
  // rather than left unseen in the accept backlog; at most 128 per worker.
  const std::size_t threads =
      std::clamp<std::size_t>(static_cast<std::size_t>(config_.queue_limit) + 4, 8, 128);
  server.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  server.Get("/healthz", [this](const httplib::Request&, httplib::Response& res) {
    respond(res, [&] { return healthz(); });
  });
  server.Get("/v1/transcript/checkpoint",
             [this](const httplib::Request&, httplib::Response& res) {
               respond(res, [&] { return checkpoint(); });
             });
  server.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(metrics_.prometheus_text(), kPrometheusTextType);
  });
  server.Get(R"(/v1/users/([^/]+)/public-key)",
             [this](const httplib::Request& req, httplib::Response& res) {
               respond(res, [&] { return public_key(req.matches[1], client_identity(req)); });
             });
  server.Post(R"(/v1/users/([^/]+)/sign)",
              [this](const httplib::Request& req, httplib::Response& res) {
                // The body holds the password: the handler wipes it once parsed. cpp-httplib
                // hands it over as const, but owns it as a plain (non-const) member of the
                // request it made for this connection.
                std::string& body = const_cast<std::string&>(req.body);
                respond(res, [&] { return sign(req.matches[1], body, client_identity(req)); });
              });
  install_group_routes(server);
  install_data_routes(server);
  csc_.install(server);
  // Before routing: the clock of the request, and the client's rate (the probes of /healthz
  // and /metrics are not counted).
  server.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    request_started = std::chrono::steady_clock::now();
    if (config_.rates == nullptr || req.path == "/healthz" || req.path == "/metrics")
      return httplib::Server::HandlerResponse::Unhandled;
    const ClientIdentity client = client_identity(req);
    const int wait = config_.rates->take("client:" + client.fingerprint, config_.client_rate);
    if (wait == 0) return httplib::Server::HandlerResponse::Unhandled;
    metrics_.count_refusal(ServiceMetrics::Refusal::client_rate);
    res.status = 429;
    res.set_header("Retry-After", std::to_string(wait));
    const std::string why = "this client certificate is over its request rate: try again later";
    if (req.path.rfind("/csc/v2/", 0) == 0)
      res.set_content(nlohmann::json{{"error", "temporarily_unavailable"},
                                     {"error_description", why}}.dump() + "\n", kJsonType);
    else
      res.set_content(error_body(why), kJsonType);
    return httplib::Server::HandlerResponse::Handled;
  });
  // What cpp-httplib answers itself (an unknown path, a body over the limit, a malformed
  // request) gets a JSON error body too.
  const httplib::Server::HandlerWithResponse on_error = [](const httplib::Request& req,
                                                           httplib::Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    const char* why = res.status == 404   ? "no such endpoint"
                      : res.status == 413 ? "the request body is over the limit (1 MiB)"
                                          : "the request cannot be read";
    if (req.path.rfind("/csc/v2/", 0) == 0) {  // CSC: an unknown method is 501, in its shape
      if (res.status == 404) res.status = 501;
      const nlohmann::json csc{{"error", "invalid_request"},
                               {"error_description",
                                res.status == 501 ? fmt::format("The method is not implemented: "
                                                                "{}", printable(req.path))
                                                  : std::string(why)}};
      res.set_content(csc.dump() + "\n", kJsonType);
      return httplib::Server::HandlerResponse::Handled;
    }
    res.set_content(error_body(fmt::format("HTTP {}: {}", res.status, why)), kJsonType);
    return httplib::Server::HandlerResponse::Handled;
  };
  server.set_error_handler(on_error);
  // After each answer: the metrics and one log line (never the body).
  server.set_logger([this](const httplib::Request& req, const httplib::Response& res) {
    const auto now = std::chrono::steady_clock::now();
    const auto started = request_started.time_since_epoch().count() == 0 ? now : request_started;
    request_started = {};
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(now - started);
    metrics_.count_request(endpoint_of(req.path), res.status, us);
    if (!access_) return;
    // The access log: one JSON object a line; no body, no header but the client's identity.
    const ClientIdentity client = client_identity(req);
    nlohmann::json line{{"time", transcript::utc_now_rfc3339()},
                        {"worker", ::getpid()},
                        {"remote", req.remote_addr},
                        {"client", client.fingerprint},
                        {"client_cn", client.cn},
                        {"method", printable(req.method)},
                        {"path", printable(req.path)},
                        {"status", res.status},
                        {"ms", static_cast<double>(us.count() / 100) / 10.0},
                        {"bytes_in", req.body.size()},
                        {"bytes_out", res.body.size()}};
    const std::string text =
        line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    const std::lock_guard<std::mutex> g(log_mutex_);
    access_(text);
  });
}

}  // namespace hsm
