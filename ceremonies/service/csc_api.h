// The Cloud Signature Consortium API v2 of `hsmctl serve`, under /csc/v2/: info,
// credentials/list, credentials/info, credentials/authorize and signatures/signHash. A
// credential is a user (credentialID = the user name); the application is authenticated by its
// TLS client certificate (authType "TLS"), the user per authorisation by password (PIN) and
// TOTP code (OTP). Errors have CSC's shape {"error": ..., "error_description": ...}. Request
// bodies are never logged; the PIN and OTP go into Secrets and the body is wiped.
#pragma once

#include <mutex>
#include <string>

#include "ceremonies/service/admission.h"
#include "ceremonies/service/allow_list.h"
#include "ceremonies/service/group_commit.h"
#include "ceremonies/service/sad_store.h"
#include "ceremonies/service/service_metrics.h"

namespace httplib {
class Server;
}

namespace hsm {

struct SigningServiceConfig;

class CscApi {
 public:
  // `gate` is the worker's one turn at the token and `batches` its batches of signatures, both
  // shared with the /v1 routes.
  CscApi(const SigningServiceConfig& config, ServiceMetrics& metrics, SadStore& sads,
         TokenGate& gate, GroupCommit& batches);
  void install(httplib::Server& server);

  struct Reply;

 private:
  Reply credentials_list(const std::string& body, const ClientIdentity& client);
  Reply credentials_info(const std::string& body, const ClientIdentity& client);
  Reply authorize(std::string& body, const ClientIdentity& client);
  Reply sign_hash(const std::string& body, const ClientIdentity& client);
  void require_allowed(const ClientIdentity& client, const std::string& credential) const;
  const SigningServiceConfig& config_;
  ServiceMetrics& metrics_;
  SadStore& sads_;
  TokenGate& gate_;
  GroupCommit& batches_;
};

}  // namespace hsm
