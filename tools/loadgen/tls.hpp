#pragma once

#ifndef ASIO_STANDALONE
#define ASIO_STANDALONE
#endif
#include <asio/ssl/context.hpp>
#include <openssl/ssl.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "ocpp/result.hpp"
#include "tools/loadgen/options.hpp"

namespace loadgen {

/// A TLS session kept between a station's connections, for resumption.
struct SessionFree {
    void operator()(SSL_SESSION* s) const { SSL_SESSION_free(s); }
};
using TlsSession = std::unique_ptr<SSL_SESSION, SessionFree>;

/// The client side of wss://: one context per worker thread, and what each connection needs
/// before its handshake (the server name checked, the station's own certificate, a session to
/// resume).
class TlsClientSetup {
public:
    /// Reads --ca-file and, when the paths name no station (no "{id}"), the client certificate
    /// and key once. The error is one line in words.
    static ocpp::Result<TlsClientSetup, std::string> create(const Options& o);

    /// The context every connection of one worker shares.
    const std::shared_ptr<asio::ssl::context>& context() const { return context_; }

    /// Prepares `ssl` for station `id` connecting to `host`: the name or address the server
    /// certificate must carry, the client certificate (the per-station files when the paths
    /// contain "{id}"), and `resume` when there is one. Returns the problem in words.
    std::optional<std::string> prepare(SSL* ssl, const std::string& host, std::string_view id,
                                       SSL_SESSION* resume) const;

private:
    TlsClientSetup() = default;

    std::shared_ptr<asio::ssl::context> context_;
    std::string cert_template_;
    std::string key_template_;
    bool per_station_cert_ = false;
};

/// `path` with every "{id}" replaced by `id`.
std::string with_station_id(std::string_view path, std::string_view id);

}  // namespace loadgen
