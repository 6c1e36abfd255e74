// The data-key routes of `hsmctl serve` (issue 30; docs/design.md, "Group data keys"):
// POST /v1/groups/{name}/deks makes a DEK wrapped to the group's current key, as `dek new` does
// (no factors: encryption needs no secret), and answers with the DEK in hex and its envelope;
// POST /v1/groups/{name}/deks/open opens a wrapped DEK as `dek open --as USER` does, the member
// authorised by their own password and code, recorded as dek.opened with the client
// certificate's fingerprint. Both honour the allow-list's groups as group sign does. Bodies are
// never logged; the password and the code go into Secrets and the body is wiped.
#include <fmt/format.h>
#include <httplib.h>
#include <sodium.h>

#include <nlohmann/json.hpp>

#include "ceremonies/data/data_decrypt.h"
#include "ceremonies/data/data_encrypt.h"
#include "ceremonies/service/service_api.h"
#include "ceremonies/users/user_layers.h"
#include "core/error.h"

namespace hsm {

namespace {

nlohmann::json dek_answer(const crypto::DekEnvelope& e, const Secret& dek) {
  nlohmann::json envelope = crypto::envelope_json(e);
  envelope["format"] = crypto::kDekFormat;
  return {{"group", e.group},          {"key_version", e.key_version},
          {"dek_id", to_hex(e.dek_id)}, {"context", envelope["context"]},
          {"dek", to_hex(dek.bytes())}, {"envelope", envelope}};
}

// The context of a deks request: {"context": {"k": "v", ...}} (optional; an empty body too).
std::vector<std::string> context_pairs(const std::string& body) {
  std::vector<std::string> pairs;
  if (body.empty()) return pairs;
  const nlohmann::json doc = nlohmann::json::parse(body, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) fail(Category::usage, "the body must be a JSON object");
  if (!doc.contains("context")) return pairs;
  if (!doc["context"].is_object()) fail(Category::usage, "\"context\" must be an object of strings");
  for (const auto& [k, v] : doc["context"].items()) {
    if (!v.is_string()) fail(Category::usage, fmt::format("context value '{}' is not a string", k));
    pairs.push_back(k + "=" + v.get<std::string>());
  }
  return pairs;
}

// An open request's fields, checked before any token work: Error(usage) for each problem.
DataDecryptOptions open_request(const std::string& group, std::string& body) {
  nlohmann::json doc = nlohmann::json::parse(body, nullptr, false);
  sodium_memzero(body.data(), body.size());  // it held the password
  if (doc.is_discarded() || !doc.is_object()) fail(Category::usage, "the body must be a JSON object");
  DataDecryptOptions o;
  o.factors.password_value = take_secret(doc, "password");  // secrets first
  const bool has_otp = doc.contains("otp");
  o.factors.otp_code = take_secret(doc, "otp");
  if (!o.factors.password_value)
    fail(Category::usage, "\"password\" (the member's) is missing or not a string");
  if (has_otp && !o.factors.otp_code) fail(Category::usage, "\"otp\" must be a string");
  if (!doc.contains("user") || !doc["user"].is_string())
    fail(Category::usage, "\"user\" (the member who opens the DEK) is missing or not a string");
  o.as = doc["user"].get<std::string>();
  if (!valid_user_name(o.as)) fail(Category::usage, fmt::format("'{}' is not a user name", o.as));
  if (!doc.contains("envelope") || !doc["envelope"].is_object())
    fail(Category::usage, "\"envelope\" (the wrapped DEK file's JSON) is missing or not an object");
  try {
    o.envelope = crypto::envelope_from_json(doc["envelope"], "the envelope");
  } catch (const Error& e) {
    fail(Category::usage, e.what());
  }
  if (o.envelope->group != group)
    fail(Category::usage, fmt::format("the envelope is wrapped to group '{}', not '{}'",
                                      o.envelope->group, group));
  return o;
}

}  // namespace

void SigningService::install_data_routes(httplib::Server& server) {
  server.Post(R"(/v1/groups/([^/]+)/deks)", [this](const httplib::Request& req,
                                                   httplib::Response& res) {
    respond(res, [&]() -> Reply {
      const std::string name = req.matches[1];
      const ClientIdentity client = client_identity(req);
      if (!valid_user_name(name))
        return Reply::error(400, fmt::format("'{}' is not a group name", name));
      if (!config_.may_use_group(client, name))
        return Reply::error(403, not_allowed_message(client, name, "group"));
      try {
        const std::vector<std::string> context = context_pairs(req.body);
        const TokenGate::Turn one_at_a_time(gate_);
        Workspace ws(config_.workspace);
        const DekNew d = dek_new_envelope(ws, name, context);
        return {200, dek_answer(d.envelope, d.dek).dump(), "application/json"};
      } catch (const Error& e) {
        const int status = e.category() == Category::usage       ? 400
                           : e.category() == Category::not_found ? 404
                                                                 : 500;
        return Reply::error(status, e.what());
      }
    });
  });
  server.Post(R"(/v1/groups/([^/]+)/deks/open)", [this](const httplib::Request& req,
                                                        httplib::Response& res) {
    respond(res, [&]() -> Reply {
      // The body holds the password: wiped once parsed (see service_api.cpp).
      std::string& body = const_cast<std::string&>(req.body);
      const std::string name = req.matches[1];
      const ClientIdentity client = client_identity(req);
      if (!valid_user_name(name) || !config_.may_use_group(client, name)) {
        sodium_memzero(body.data(), body.size());
        return valid_user_name(name)
                   ? Reply::error(403, not_allowed_message(client, name, "group"))
                   : Reply::error(400, fmt::format("'{}' is not a group name", name));
      }
      DataDecryptOptions o;
      try {
        o = open_request(name, body);
      } catch (const Error& e) {
        return Reply::error(400, e.what());
      }
      config_.admit_user(o.as);
      o.client = client.fingerprint;
      o.max_auth_failures = config_.max_auth_failures;
      AuthOutcome outcome;
      try {
        const TokenGate::Turn one_at_a_time(gate_);
        Workspace ws(config_.workspace);
        ws.use_pin(Secret::copy_of(config_.pin->bytes()));
        const DekOpened r = with_auth_outcome(
            ws, o.as, outcome,
            [&](const p11::Session&, const MasterKeys&) { return dek_open(ws, o); });
        nlohmann::json doc = dek_answer(r.envelope, r.dek);
        doc.erase("envelope");
        doc["user"] = o.as;
        doc["seq"] = r.seq;
        return Reply{200, doc.dump(), "application/json"};
      } catch (const Error& e) {
        // A changed envelope (it does not unwrap) is the client's: 422, not the service's 500.
        if (e.category() == Category::integrity) return Reply::error(422, e.what());
        return sign_failure(e, outcome);
      } catch (const std::exception& e) {
        return Reply::error(500, e.what());
      }
    });
  });
}

}  // namespace hsm
