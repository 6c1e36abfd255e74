// Routes of the CSC API v2 (/csc/v2/...): parsing with CSC's error descriptions, the token work
// in csc_sign.cpp, answers and errors in CSC's JSON shape.
#include "ceremonies/service/csc_api.h"

#include <fmt/format.h>
#include <httplib.h>
#include <sodium.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <set>

#include "ceremonies/service/csc_sign.h"
#include "ceremonies/service/service_api.h"
#include "ceremonies/users/user_layers.h"
#include "core/error.h"

namespace hsm {

namespace {

constexpr const char* kCscSha256 = "2.16.840.1.101.3.4.2.1";
constexpr const char* kCscSha384 = "2.16.840.1.101.3.4.2.2";
constexpr const char* kCscEcdsaSha256 = "1.2.840.10045.4.3.2";
constexpr const char* kCscEcdsaSha384 = "1.2.840.10045.4.3.3";
constexpr const char* kCscEcPublicKey = "1.2.840.10045.2.1";

// A refusal in CSC's terms, thrown while a request is read and answered as it says.
struct CscRefusal {
  int status;
  std::string error, description;
};
[[noreturn]] void csc_refuse(std::string description, std::string error = "invalid_request",
                         int status = 400) {
  throw CscRefusal{status, std::move(error), std::move(description)};
}

nlohmann::json csc_body(const std::string& body) {
  nlohmann::json doc = body.empty() ? nlohmann::json::object()
                                    : nlohmann::json::parse(body, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) csc_refuse("The request body is not a JSON object");
  return doc;
}

std::string csc_string(const nlohmann::json& doc, const char* key) {
  const auto it = doc.find(key);
  if (it == doc.end() || !it->is_string())
    csc_refuse(fmt::format("Missing (or invalid type) string parameter {}", key));
  return it->get<std::string>();
}

bool csc_flag(const nlohmann::json& doc, const char* key) {
  const auto it = doc.find(key);
  if (it == doc.end()) return false;
  if (!it->is_boolean()) csc_refuse(fmt::format("Invalid parameter {}", key));
  return it->get<bool>();
}

// "sha256" or "sha384" for a hash OID, or a refusal.
std::string csc_hash_of_oid(const std::string& oid) {
  if (oid == kCscSha256) return "sha256";
  if (oid == kCscSha384) return "sha384";
  csc_refuse("Invalid parameter hashAlgorithmOID");
}

std::vector<Bytes> csc_hashes(const nlohmann::json& doc, const std::string& digest_alg) {
  const auto it = doc.find("hashes");
  if (it == doc.end() || !it->is_array()) csc_refuse("Missing (or invalid type) array parameter hashes");
  if (it->empty()) csc_refuse("Empty hash array");
  if (it->size() > kMaxSadHashes) csc_refuse("Numbers of signatures is too high");
  std::vector<Bytes> out;
  for (const auto& h : *it) {
    if (!h.is_string()) csc_refuse("Invalid Base64 hash string parameter");
    try {
      out.push_back(from_base64(h.get<std::string>()));
    } catch (const Error&) {
      csc_refuse("Invalid Base64 hash string parameter");
    }
    if (out.back().size() != (digest_alg == "sha384" ? 48u : 32u))
      csc_refuse("Invalid digest value length");
  }
  return out;
}

// A PIN or OTP from "authData" [{"id": ..., "value": ...}] (CSC 2.0.0.2) or a top-level member
// (2.0.0.0); copied into a Secret, and every string the parser made for it wiped (a request
// that gives it twice keeps the last).
std::shared_ptr<const Secret> csc_take_auth(nlohmann::json& doc, const char* id) {
  std::vector<nlohmann::json*> values;
  if (auto it = doc.find(id); it != doc.end()) values.push_back(&*it);
  if (auto data = doc.find("authData"); data != doc.end() && data->is_array())
    for (auto& object : *data)
      if (object.is_object() && object.contains("id") && object["id"] == id &&
          object.contains("value"))
        values.push_back(&object["value"]);
  std::shared_ptr<const Secret> secret;
  bool mistyped = false;
  for (nlohmann::json* value : values) {
    if (!value->is_string()) {
      mistyped = true;
      continue;
    }
    std::string& s = value->get_ref<std::string&>();
    secret = std::make_shared<const Secret>(Secret::copy_of(std::string_view(s)));
    sodium_memzero(s.data(), s.size());
  }
  if (mistyped) csc_refuse(fmt::format("Invalid parameter {}", id));
  return secret;
}

// credentials/info for one user (and credentials/list with credentialInfo).
nlohmann::json csc_credential_info(const keystore::UserRecord& u, std::chrono::seconds ttl) {
  const std::string hash = csc_hash_alg(u);
  nlohmann::json key{{"status", !u.locked && !hash.empty() ? "enabled" : "disabled"}};
  if (u.algorithm == "p256") key.update({{"algo", {kCscEcdsaSha256}}, {"len", 256},
                                         {"curve", "1.2.840.10045.3.1.7"}});
  else if (u.algorithm == "p384") key.update({{"algo", {kCscEcdsaSha384}}, {"len", 384},
                                              {"curve", "1.3.132.0.34"}});
  else if (u.algorithm == "rsa3072") key.update({{"algo", {"1.2.840.113549.1.1.10"}}, {"len", 3072}});
  else key.update({{"algo", {"1.3.101.112"}}, {"len", 256}});
  nlohmann::json objects{{{"type", "Password"}, {"id", "PIN"}, {"format", "A"},
                          {"label", "Password"}, {"description", "the user's password"}}};
  if (u.otp.enrolled)
    objects.push_back({{"type", "Password"}, {"id", "OTP"}, {"format", "N"},
                       {"generator", "totp"}, {"label", "One-time code"},
                       {"description", "the current code of the user's authenticator"}});
  std::string description = fmt::format(
      "hsmctl user {} ({}); a SAD is valid {} s, for one signHash of exactly its hashes", u.name,
      user_algorithm(u.algorithm).signature, ttl.count());
  if (u.locked) description += "; the user is locked";
  else if (hash.empty()) description += "; this key signs data only (POST /v1/users/NAME/sign)";
  return {{"description", description},
          {"key", key},
          {"auth", {{"mode", "explicit"},
                    {"expression", u.otp.enrolled ? "PIN AND OTP" : "PIN"},
                    {"objects", objects}}},
          {"SCAL", "2"},
          {"multisign", kMaxSadHashes},
          {"lang", "en-US"}};
}

}  // namespace

struct CscApi::Reply {
  int status = 200;
  nlohmann::json body;
};

CscApi::CscApi(const SigningServiceConfig& config, ServiceMetrics& metrics, SadStore& sads,
               TokenGate& gate, GroupCommit& batches)
    : config_(config), metrics_(metrics), sads_(sads), gate_(gate), batches_(batches) {}

// 403 access_denied for a credential the allow-list does not give this client.
void CscApi::require_allowed(const ClientIdentity& client, const std::string& credential) const {
  if (!config_.may_use_user(client, credential))
    csc_refuse(not_allowed_message(client, credential), "access_denied", 403);
}

CscApi::Reply CscApi::credentials_list(const std::string& body, const ClientIdentity& client) {
  const nlohmann::json doc = csc_body(body);
  const bool with_info = csc_flag(doc, "credentialInfo");
  const bool only_valid = csc_flag(doc, "onlyValid");
  std::optional<std::string> user;
  if (doc.contains("userID")) user = csc_string(doc, "userID");
  std::vector<keystore::UserRecord> users;
  {
    const TokenGate::Turn one_at_a_time(gate_);
    Workspace ws(config_.workspace);
    users = ws.keystore().list_users();
  }
  nlohmann::json ids = nlohmann::json::array(), infos = nlohmann::json::array();
  for (const auto& u : users) {
    if ((user && u.name != *user) || !config_.may_use_user(client, u.name)) continue;
    nlohmann::json info = csc_credential_info(u, config_.sad_ttl);
    if (only_valid && info["key"]["status"] != "enabled") continue;
    ids.push_back(u.name);
    info["credentialID"] = u.name;
    infos.push_back(std::move(info));
  }
  nlohmann::json out{{"credentialIDs", ids}};
  if (with_info) out["credentialInfos"] = infos;
  if (only_valid) out["onlyValid"] = true;
  return {200, out};
}

CscApi::Reply CscApi::credentials_info(const std::string& body, const ClientIdentity& client) {
  const std::string id = csc_string(csc_body(body), "credentialID");
  if (!valid_user_name(id)) csc_refuse("Invalid parameter credentialID");
  require_allowed(client, id);
  std::optional<keystore::UserRecord> u;
  {
    const TokenGate::Turn one_at_a_time(gate_);
    Workspace ws(config_.workspace);
    u = ws.keystore().find_user(id);
  }
  if (!u) csc_refuse("Invalid parameter credentialID");
  return {200, csc_credential_info(*u, config_.sad_ttl)};
}

CscApi::Reply CscApi::authorize(std::string& body, const ClientIdentity& client) {
  nlohmann::json doc = csc_body(body);
  sodium_memzero(body.data(), body.size());  // it held the PIN and the OTP
  CscAuthorizeRequest r;
  r.pin = csc_take_auth(doc, "PIN");
  r.otp = csc_take_auth(doc, "OTP");
  r.credential = csc_string(doc, "credentialID");
  if (!valid_user_name(r.credential)) csc_refuse("Invalid parameter credentialID");
  require_allowed(client, r.credential);
  config_.admit_user(r.credential);
  const auto n = doc.find("numSignatures");
  if (n == doc.end() || !n->is_number_integer())
    csc_refuse("Missing (or invalid type) integer parameter numSignatures");
  if (n->get<std::int64_t>() < 1) csc_refuse("Invalid value for parameter numSignatures");
  if (n->get<std::int64_t>() > static_cast<std::int64_t>(kMaxSadHashes))
    csc_refuse("Numbers of signatures is too high");
  r.digest_alg = csc_hash_of_oid(csc_string(doc, "hashAlgorithmOID"));
  r.hashes = csc_hashes(doc, r.digest_alg);
  if (static_cast<std::int64_t>(r.hashes.size()) != n->get<std::int64_t>())
    csc_refuse("numSignatures must equal the number of hashes: a SAD binds exactly its hashes");
  if (!r.pin) csc_refuse("The authentication data is invalid: the PIN (the user's password) is missing",
                     "invalid_authentication_data");
  r.client = client.fingerprint;
  r.max_auth_failures = config_.max_auth_failures;
  r.ttl = config_.sad_ttl;
  AuthOutcome outcome;
  try {
    const TokenGate::Turn one_at_a_time(gate_);
    Workspace ws(config_.workspace);
    ws.use_pin(Secret::copy_of(config_.pin->bytes()));
    const CscAuthorization a = csc_authorize(ws, sads_, r, outcome);
    return {200, {{"SAD", a.sad}, {"expiresIn", r.ttl.count()}}};
  } catch (const Error& e) {
    if (outcome.locked_now) metrics_.count_lockout();
    if (e.category() == Category::token) metrics_.count_token_error();
    if (e.category() == Category::not_found && outcome.factors_checked)
      csc_refuse("Invalid parameter credentialID");
    if (e.category() == Category::usage) csc_refuse(e.what());
    if (e.category() == Category::auth && outcome.factors_checked) {
      if (outcome.was_locked) csc_refuse(fmt::format("Credential locked: {}", e.what()));
      csc_refuse(fmt::format("The authentication data is invalid: {}", e.what()),
             "invalid_authentication_data");
    }
    if (e.category() == Category::general && std::string_view(e.what()).find("SADs") !=
                                                 std::string_view::npos)
      csc_refuse(e.what(), "temporarily_unavailable", 503);
    throw;
  }
}

CscApi::Reply CscApi::sign_hash(const std::string& body, const ClientIdentity& client) {
  const nlohmann::json doc = csc_body(body);
  CscSignRequest r;
  r.credential = csc_string(doc, "credentialID");
  require_allowed(client, r.credential);
  config_.admit_user(r.credential);
  r.sad = csc_string(doc, "SAD");
  const std::string sign_algo = csc_string(doc, "signAlgo");
  std::string implied;
  if (sign_algo == kCscEcdsaSha256) implied = "sha256";
  else if (sign_algo == kCscEcdsaSha384) implied = "sha384";
  else if (sign_algo != kCscEcPublicKey) csc_refuse("Invalid parameter signAlgo");
  if (doc.contains("hashAlgorithmOID")) {
    r.digest_alg = csc_hash_of_oid(csc_string(doc, "hashAlgorithmOID"));
    if (!implied.empty() && implied != r.digest_alg) csc_refuse("Invalid parameter hashAlgorithmOID");
  } else if (implied.empty()) {
    csc_refuse("Missing (or invalid type) string parameter hashAlgorithmOID");
  } else {
    r.digest_alg = implied;
  }
  if (doc.contains("operationMode") && doc["operationMode"] != "S")
    csc_refuse("Invalid parameter operationMode");
  r.hashes = csc_hashes(doc, r.digest_alg);
  r.client = client.fingerprint;
  try {
    RedeemedSad redeemed = redeem_sad(sads_, r);
    CscSignatures s;
    GroupCommit::Result done = batches_.run(
        {{"user", r.credential}, {"via", "csc"}, {"client_fingerprint", r.client}},
        [&](Workspace& ws, Recorder& rec, const MasterKeys& mk, AuthOutcome&) {
          s = csc_sign_hashes(rec, ws, mk, r, redeemed);
          return std::vector<std::uint64_t>{};  // CSC's answer carries no receipts
        });
    if (done.refused) throw *done.refused;
    if (!done.ok) throw done.error.value_or(Error(Category::general, "internal: no answer"));
    nlohmann::json signatures = nlohmann::json::array();
    for (const Bytes& sig : s.signatures) signatures.push_back(to_base64(sig));
    return {200, {{"signatures", signatures}}};
  } catch (const Error& e) {
    if (e.category() == Category::token) metrics_.count_token_error();
    if (e.category() == Category::usage) csc_refuse(e.what());
    if (e.category() == Category::not_found) csc_refuse("Invalid parameter credentialID");
    if (e.category() == Category::auth) csc_refuse(fmt::format("Invalid parameter SAD: {}", e.what()));
    throw;
  }
}

void CscApi::install(httplib::Server& server) {
  // Every route answers JSON; a refusal or a failure answers CSC's error shape.
  const auto route = [](auto handler) {
    return [handler](const httplib::Request& req, httplib::Response& res) {
      CscApi::Reply r;
      int retry_after = 0;
      try {
        r = handler(req);
      } catch (const NotAdmitted& n) {  // a full queue, a rate limit
        r = {n.status, {{"error", "temporarily_unavailable"}, {"error_description", n.why}}};
        retry_after = n.retry_after_seconds;
      } catch (const CscRefusal& refusal) {
        r = {refusal.status, {{"error", refusal.error}, {"error_description", refusal.description}}};
      } catch (const std::exception& e) {
        r = {500, {{"error", "server_error"}, {"error_description", e.what()}}};
      }
      res.status = r.status;
      if (retry_after > 0) res.set_header("Retry-After", std::to_string(retry_after));
      res.set_content(r.body.dump() + "\n", "application/json");
    };
  };
  server.Post("/csc/v2/info", route([](const httplib::Request&) {
    const nlohmann::json methods{"credentials/list", "credentials/info", "credentials/authorize",
                                 "signatures/signHash"};
    return Reply{200,
                 {{"specs", "2.0.0.0"},
                  {"name", "hsmctl"},
                  {"logo", ""},
                  {"region", ""},
                  {"lang", "en-US"},
                  {"description", "hsmctl serve: users' keys on a PKCS#11 token, clients "
                                  "authenticated by TLS certificate"},
                  {"authType", {"TLS"}},
                  {"methods", methods},
                  {"signAlgorithms", {{"algos", {kCscEcdsaSha256, kCscEcdsaSha384}}}},
                  {"signature_formats", {{"formats", nlohmann::json::array()}}},
                  {"conformance_levels", nlohmann::json::array()}}};
  }));
  server.Post("/csc/v2/credentials/list", route([this](const httplib::Request& req) {
    return credentials_list(req.body, client_identity(req));
  }));
  server.Post("/csc/v2/credentials/info", route([this](const httplib::Request& req) {
    return credentials_info(req.body, client_identity(req));
  }));
  server.Post("/csc/v2/credentials/authorize", route([this](const httplib::Request& req) {
    // The body holds the PIN and the OTP: wiped once parsed (see service_api.cpp).
    return authorize(const_cast<std::string&>(req.body), client_identity(req));
  }));
  server.Post("/csc/v2/signatures/signHash", route([this](const httplib::Request& req) {
    return sign_hash(req.body, client_identity(req));
  }));
}

}  // namespace hsm
