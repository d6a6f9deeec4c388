#pragma once

#include <optional>
#include <string>

#include <openssl/x509.h>

namespace gateway::security {

/// The first entry `nid` (NID_commonName, …) of `name` as UTF-8, if there is one.
std::optional<std::string> name_entry(X509_NAME* name, int nid);
/// Why the key of `cert` is too weak for OCPP (RSA < 2048 bits, EC < 224, other types), or
/// nothing.
std::optional<std::string> weak_key(X509* cert);
/// Why `cert` does not belong to station `identity` now: outside its dates, a CN that is not
/// the identity (case-insensitive), not the `organization` (when not empty). Or nothing.
std::optional<std::string> station_certificate_problem(X509* cert, const std::string& identity,
                                                       const std::string& organization);

}  // namespace gateway::security
