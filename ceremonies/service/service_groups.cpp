// The group routes of `hsmctl serve`: GET /v1/groups/{name}/public-key and POST
// /v1/groups/{name}/sign, which signs data as `group sign --as MEMBER` does, the member
// authorised by their own password and code. Bodies are never logged; secrets go into Secrets
// and the body is wiped.
#include <fmt/format.h>
#include <httplib.h>
#include <sodium.h>

#include <nlohmann/json.hpp>

#include "ceremonies/groups/group_admin.h"
#include "ceremonies/service/service_api.h"
#include "ceremonies/service/service_sign.h"
#include "ceremonies/users/user_layers.h"
#include "core/error.h"

namespace hsm {

namespace {

// The request's fields, checked before any token work: Error(usage) for each problem.
ServiceGroupSignRequest parse_group_sign_request(const std::string& group, std::string& body) {
  nlohmann::json doc = nlohmann::json::parse(body, nullptr, false);
  sodium_memzero(body.data(), body.size());  // it held the password
  if (doc.is_discarded()) fail(Category::usage, "the body is not JSON");
  if (!doc.is_object()) fail(Category::usage, "the body must be a JSON object");
  ServiceGroupSignRequest r;
  r.group = group;
  r.password = take_secret(doc, "password");  // secrets first: no refusal leaves them behind
  const bool has_otp = doc.contains("otp");
  r.otp = take_secret(doc, "otp");
  if (!r.password) fail(Category::usage, "\"password\" (the member's) is missing or not a string");
  if (has_otp && !r.otp) fail(Category::usage, "\"otp\" must be a string");
  if (!doc.contains("member") || !doc["member"].is_string())
    fail(Category::usage, "\"member\" (the user who signs for the group) is missing or not a string");
  r.member = doc["member"].get<std::string>();
  if (!valid_user_name(r.member)) fail(Category::usage, fmt::format("'{}' is not a user name", r.member));
  if (doc.contains("digest"))
    fail(Category::usage, "a group signs data only: give \"data\" (base64), not \"digest\"");
  if (!doc.contains("data") || !doc["data"].is_string())
    fail(Category::usage, "\"data\" (base64) is missing or not a string");
  try {
    r.input = from_base64(doc["data"].get<std::string>());
  } catch (const Error&) {
    fail(Category::usage, "\"data\" is not base64");
  }
  if (r.input.empty()) fail(Category::usage, "\"data\" is empty");
  return r;
}

}  // namespace

SigningService::Reply SigningService::group_public_key(const std::string& name,
                                                       const ClientIdentity& client) {
  if (!valid_user_name(name)) return Reply::error(400, fmt::format("'{}' is not a group name", name));
  if (!config_.may_use_group(client, name))
    return Reply::error(403, not_allowed_message(client, name, "group"));
  try {
    const TokenGate::Turn one_at_a_time(gate_);
    Workspace ws(config_.workspace);
    return {200, group_public_pem(ws, name), "application/x-pem-file"};
  } catch (const Error& e) {
    return Reply::error(e.category() == Category::not_found ? 404 : 500, e.what());
  }
}

SigningService::Reply SigningService::group_sign(const std::string& name, std::string& body,
                                                 const ClientIdentity& client) {
  if (!valid_user_name(name)) {
    sodium_memzero(body.data(), body.size());
    return Reply::error(400, fmt::format("'{}' is not a group name", name));
  }
  if (!config_.may_use_group(client, name)) {
    sodium_memzero(body.data(), body.size());
    return Reply::error(403, not_allowed_message(client, name, "group"));
  }
  ServiceGroupSignRequest r;
  try {
    r = parse_group_sign_request(name, body);
  } catch (const Error& e) {
    return Reply::error(400, e.what());
  }
  config_.admit_user(r.member);
  r.client = client.fingerprint;
  r.max_auth_failures = config_.max_auth_failures;
  const UserFactors factors = request_factors(r.member, r.password, r.otp);
  return sign_at_token(
      {{"group", name}, {"as", r.member}, {"client_fingerprint", client.fingerprint}},
      [&](Workspace& ws, Recorder& rec, const MasterKeys& mk, AuthOutcome& outcome) {
        return serve_group_sign(rec, ws, mk, r, factors, outcome);
      });
}

void SigningService::install_group_routes(httplib::Server& server) {
  server.Get(R"(/v1/groups/([^/]+)/public-key)",
             [this](const httplib::Request& req, httplib::Response& res) {
               respond(res, [&] { return group_public_key(req.matches[1], client_identity(req)); });
             });
  server.Post(R"(/v1/groups/([^/]+)/sign)",
              [this](const httplib::Request& req, httplib::Response& res) {
                // The body holds the password: wiped once parsed (see service_api.cpp).
                std::string& body = const_cast<std::string&>(req.body);
                respond(res, [&] { return group_sign(req.matches[1], body, client_identity(req)); });
              });
}

}  // namespace hsm
