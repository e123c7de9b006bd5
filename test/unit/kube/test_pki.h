// Certificates made fresh for each test run (so none expire in the repository): a CA, a
// server certificate for 127.0.0.1 and a client certificate, all ECDSA P-256, as PEM.
#pragma once

#include <string>

namespace gpushare::kube::testing {

struct TestPki {
  std::string ca_cert;
  std::string ca_key;
  std::string server_cert;
  std::string server_key;
  std::string client_cert;  // CN "gpushare-test-client"
  std::string client_key;
};

// Built once per process.
const TestPki& test_pki();

}  // namespace gpushare::kube::testing
