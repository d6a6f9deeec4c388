#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include <openssl/x509.h>

#include "gateway/config/config.hpp"
#include "gateway/security/file_stamp.hpp"

namespace gateway::security {

/// Security profile 3 with TLS terminated at a load balancer (tls.offload): the balancer
/// verified the station's certificate and forwards it in a header; the gateway verifies it
/// again, the same way as its own TLS would: chain against tls.ca_file (which must hold the
/// intermediates: balancers forward the leaf only), dates, key strength, CN = identity,
/// organization. The listener takes the header only from tls.offload_from. Thread-safe.
class ForwardedCertificates {
public:
    /// Reads tls.ca_file. Throws std::runtime_error naming the file.
    explicit ForwardedCertificates(const config::Config::Tls& tls);
    ForwardedCertificates(const ForwardedCertificates&) = delete;
    ForwardedCertificates& operator=(const ForwardedCertificates&) = delete;

    /// Reads tls.ca_file again when it changed (file_stamp), as the gateway's own TLS does
    /// with its files: a CA taken out of the bundle lets nothing in from then on. The
    /// problem when the new bundle cannot be used (the previous one stays), once per change.
    std::optional<std::string> reload_if_changed();

    /// Why the certificate forwarded as `value` does not let station `identity` in, or
    /// nothing. `value`: URL-encoded PEM (nginx $ssl_client_escaped_cert), an Envoy-style
    /// X-Forwarded-Client-Cert element (its Cert="…"), plain PEM, or base64 DER (HAProxy
    /// %[ssl_c_der,base64]).
    std::optional<std::string> check(std::string_view value, const std::string& identity) const;

private:
    using Store = std::shared_ptr<X509_STORE>;
    Store load() const;

    std::string ca_file_;
    std::string organization_;
    mutable std::mutex mutex_;
    Store store_;          // under mutex_
    FileStamp ca_stamp_;  // under mutex_
};

/// The certificate in a forwarding header's `value` (formats as above); nullptr when none.
std::unique_ptr<X509, void (*)(X509*)> forwarded_certificate(std::string_view value);

}  // namespace gateway::security
