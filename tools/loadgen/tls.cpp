#include "tools/loadgen/tls.hpp"

#include <asio/ip/address.hpp>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <fmt/format.h>

namespace loadgen {

namespace {

std::string openssl_error() {
    const unsigned long e = ERR_get_error();
    ERR_clear_error();
    if (e == 0) {
        return "unknown error";
    }
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    return buf;
}

bool is_address(const std::string& host) {
    asio::error_code ec;
    (void)asio::ip::make_address(host, ec);
    return !ec;
}

}  // namespace

std::string with_station_id(std::string_view path, std::string_view id) {
    std::string out;
    constexpr std::string_view kId = "{id}";
    while (true) {
        const auto at = path.find(kId);
        out += path.substr(0, at);
        if (at == std::string_view::npos) {
            return out;
        }
        out += id;
        path.remove_prefix(at + kId.size());
    }
}

ocpp::Result<TlsClientSetup, std::string> TlsClientSetup::create(const Options& o) {
    TlsClientSetup setup;
    setup.context_ = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
    SSL_CTX* ctx = setup.context_->native_handle();
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    // Sessions are kept per station by the worker (SSL_get1_session), not in a shared cache.
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    if (o.ca_file.empty()) {
        return std::string("wss:// needs --ca-file (the CA that signed the gateway's certificate)");
    }
    if (SSL_CTX_load_verify_locations(ctx, o.ca_file.c_str(), nullptr) != 1) {
        return fmt::format("--ca-file {}: {}", o.ca_file, openssl_error());
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
    setup.cert_template_ = o.client_cert;
    setup.key_template_ = o.client_key;
    setup.per_station_cert_ = o.client_cert.find("{id}") != std::string::npos ||
                              o.client_key.find("{id}") != std::string::npos;
    if (!o.client_cert.empty() && !setup.per_station_cert_) {
        if (SSL_CTX_use_certificate_chain_file(ctx, o.client_cert.c_str()) != 1) {
            return fmt::format("--client-cert {}: {}", o.client_cert, openssl_error());
        }
        if (SSL_CTX_use_PrivateKey_file(ctx, o.client_key.c_str(), SSL_FILETYPE_PEM) != 1) {
            return fmt::format("--client-key {}: {}", o.client_key, openssl_error());
        }
        if (SSL_CTX_check_private_key(ctx) != 1) {
            return fmt::format("--client-key {} does not belong to --client-cert {}",
                               o.client_key, o.client_cert);
        }
    }
    return setup;
}

std::optional<std::string> TlsClientSetup::prepare(SSL* ssl, const std::string& host,
                                                   std::string_view id,
                                                   SSL_SESSION* resume) const {
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
    const int named = is_address(host) ? X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str())
                                       : X509_VERIFY_PARAM_set1_host(param, host.c_str(), 0);
    if (named != 1) {
        return fmt::format("cannot check the server certificate for {}: {}", host,
                           openssl_error());
    }
    if (per_station_cert_) {
        const std::string cert = with_station_id(cert_template_, id);
        const std::string key = with_station_id(key_template_, id);
        if (SSL_use_certificate_chain_file(ssl, cert.c_str()) != 1) {
            return fmt::format("client certificate {}: {}", cert, openssl_error());
        }
        if (SSL_use_PrivateKey_file(ssl, key.c_str(), SSL_FILETYPE_PEM) != 1) {
            return fmt::format("client key {}: {}", key, openssl_error());
        }
    }
    if (resume != nullptr && SSL_set_session(ssl, resume) != 1) {
        return fmt::format("cannot offer the saved TLS session: {}", openssl_error());
    }
    return std::nullopt;
}

}  // namespace loadgen
