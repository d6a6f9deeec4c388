#pragma once

#ifndef ASIO_STANDALONE
#define ASIO_STANDALONE
#endif
#include <asio/ssl/context.hpp>

#include <ctime>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "gateway/config/config.hpp"
#include "gateway/security/file_stamp.hpp"

namespace gateway::security {

/// The station listener's TLS settings (security profiles 2 and 3), as OCPP 2.0.1 Part 2 A00
/// and the 1.6 security whitepaper ask: TLS 1.2 and 1.3 only, ECDHE with AES-GCM, RSA and
/// ECDSA certificates side by side, no compression, no renegotiation. Profile 3 verifies the
/// client's chain against the configured CA bundle and refuses weak keys (RSA < 2048 bits,
/// EC < 224 bits); the identity check (CN) happens at the HTTP upgrade. Certificates are
/// reloaded when their files change. Thread-safe.
class TlsContext {
public:
    /// Called for every client certificate refused during the handshake: peer address, why.
    using Rejected = std::function<void(const std::string& address, const std::string& detail)>;

    /// Throws std::runtime_error naming the file and the problem.
    TlsContext(const config::Config::Tls& settings, int profile, Rejected on_rejected);
    ~TlsContext();

    /// The context new connections use.
    std::shared_ptr<asio::ssl::context> current() const;
    /// Rebuilds the context when a file's modification time changed. Returns the problem in
    /// words when the new files are unusable (the old context stays).
    std::optional<std::string> reload_if_changed();

    /// Profile 3, after the handshake: the verified client certificate of `ssl` must name
    /// `identity` as its CN (case-insensitive), carry the configured organization, if any,
    /// and be within its dates now (a resumed session was verified at an earlier handshake).
    /// The problem in words, or nothing.
    std::optional<std::string> check_client(void* ssl, const std::string& identity) const;

    /// Remembers the peer address of a connection (`ssl`: its SSL*) for the handshake's
    /// security events; OpenSSL sees memory buffers, not the socket.
    static void remember_peer(void* ssl, const std::string& address);

    /// The TLS 1.2 cipher list and the TLS 1.3 suites offered.
    static const char* const kCiphers12;
    static const char* const kSuites13;

private:
    std::shared_ptr<asio::ssl::context> build() const;
    std::map<std::string, FileStamp> file_times() const;
    static int verify(int preverified, void* store);

    config::Config::Tls settings_;
    int profile_;
    Rejected on_rejected_;
    mutable std::mutex mutex_;
    std::shared_ptr<asio::ssl::context> context_;
    std::map<std::string, FileStamp> times_;
};

}  // namespace gateway::security
