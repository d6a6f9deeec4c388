#include "gateway/security/tls.hpp"

#include "gateway/security/x509.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <stdexcept>

namespace gateway::security {
namespace {

std::string openssl_error() {
    std::string out;
    while (const unsigned long e = ERR_get_error()) {
        char buffer[256];
        ERR_error_string_n(e, buffer, sizeof(buffer));
        if (!out.empty()) {
            out += "; ";
        }
        out += buffer;
    }
    return out.empty() ? "unknown OpenSSL error" : out;
}

int peer_index() {
    static const int index = SSL_get_ex_new_index(
        0, nullptr, nullptr, nullptr,
        [](void*, void* data, CRYPTO_EX_DATA*, int, long, void*) { delete static_cast<std::string*>(data); });
    return index;
}

std::string peer_address(SSL* ssl) {
    if (const auto* known = static_cast<std::string*>(SSL_get_ex_data(ssl, peer_index()))) {
        return *known;
    }
    const int fd = SSL_get_fd(ssl);
    sockaddr_storage storage{};
    socklen_t length = sizeof(storage);
    if (fd < 0 || getpeername(fd, reinterpret_cast<sockaddr*>(&storage), &length) != 0) {
        return "unknown";
    }
    char text[INET6_ADDRSTRLEN] = {};
    if (storage.ss_family == AF_INET) {
        inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(&storage)->sin_addr, text, sizeof(text));
    } else if (storage.ss_family == AF_INET6) {
        const auto* a6 = reinterpret_cast<sockaddr_in6*>(&storage);
        if (IN6_IS_ADDR_V4MAPPED(&a6->sin6_addr)) {
            inet_ntop(AF_INET, &a6->sin6_addr.s6_addr[12], text, sizeof(text));
        } else {
            inet_ntop(AF_INET6, &a6->sin6_addr, text, sizeof(text));
        }
    }
    return text;
}

int context_index() {
    static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
    return index;
}

}  // namespace

void TlsContext::remember_peer(void* ssl, const std::string& address) {
    auto* s = static_cast<SSL*>(ssl);
    delete static_cast<std::string*>(SSL_get_ex_data(s, peer_index()));
    SSL_set_ex_data(s, peer_index(), new std::string(address));
}

const char* const TlsContext::kCiphers12 =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384";
const char* const TlsContext::kSuites13 = "TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256";

TlsContext::TlsContext(const config::Config::Tls& settings, int profile, Rejected on_rejected)
    : settings_(settings), profile_(profile), on_rejected_(std::move(on_rejected)) {
    context_ = build();
    times_ = file_times();
}

TlsContext::~TlsContext() = default;

std::shared_ptr<asio::ssl::context> TlsContext::current() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return context_;
}

std::map<std::string, FileStamp> TlsContext::file_times() const {
    std::map<std::string, FileStamp> times;
    auto add = [&times](const std::string& path) { times[path] = file_stamp(path); };
    for (const auto& pair : settings_.certificates) {
        add(pair.cert);
        add(pair.key);
    }
    if (!settings_.ca_file.empty()) {
        add(settings_.ca_file);
    }
    return times;
}

std::optional<std::string> TlsContext::reload_if_changed() {
    const auto times = file_times();
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (times == times_) {
            return std::nullopt;
        }
    }
    try {
        auto fresh = build();
        std::lock_guard<std::mutex> lock(mutex_);
        context_ = std::move(fresh);
        times_ = times;
        return std::nullopt;
    } catch (const std::exception& e) {
        std::lock_guard<std::mutex> lock(mutex_);
        times_ = times;  // report once per change, not on every check
        return std::string(e.what());
    }
}

std::shared_ptr<asio::ssl::context> TlsContext::build() const {
    auto context = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server);
    SSL_CTX* ctx = context->native_handle();
    auto fail = [](const std::string& what) {
        throw std::runtime_error("TLS: " + what + ": " + openssl_error());
    };
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                                 SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_TICKET);
    if (SSL_CTX_set_cipher_list(ctx, kCiphers12) != 1) {
        fail("cipher list");
    }
    if (SSL_CTX_set_ciphersuites(ctx, kSuites13) != 1) {
        fail("TLS 1.3 suites");
    }
    if (settings_.certificates.empty()) {
        throw std::runtime_error("TLS: security profiles 2 and 3 need tls.certificates (a certificate and its key)");
    }
    for (const auto& pair : settings_.certificates) {
        if (SSL_CTX_use_certificate_chain_file(ctx, pair.cert.c_str()) != 1) {
            fail("certificate chain " + pair.cert);
        }
        if (SSL_CTX_use_PrivateKey_file(ctx, pair.key.c_str(), SSL_FILETYPE_PEM) != 1) {
            fail("private key " + pair.key);
        }
        if (SSL_CTX_check_private_key(ctx) != 1) {
            fail("private key " + pair.key + " does not belong to " + pair.cert);
        }
        if (auto weak = weak_key(SSL_CTX_get0_certificate(ctx))) {
            throw std::runtime_error("TLS: certificate " + pair.cert + ": " + *weak);
        }
    }
    if (profile_ >= 3) {
        if (settings_.ca_file.empty()) {
            throw std::runtime_error("TLS: security profile 3 needs tls.ca_file (the CAs that sign station certificates)");
        }
        if (SSL_CTX_load_verify_locations(ctx, settings_.ca_file.c_str(), nullptr) != 1) {
            fail("CA bundle " + settings_.ca_file);
        }
        STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(settings_.ca_file.c_str());
        if (names == nullptr) {
            fail("CA bundle " + settings_.ca_file);
        }
        SSL_CTX_set_client_CA_list(ctx, names);
        SSL_CTX_set_ex_data(ctx, context_index(), const_cast<TlsContext*>(this));
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
                           [](int preverified, X509_STORE_CTX* store) {
                               return TlsContext::verify(preverified, store);
                           });
        SSL_CTX_set_verify_depth(ctx, 4);
        // Lets a station resume its TLS session (OpenSSL refuses to resume sessions with a
        // verified peer without one). A resumed session keeps the certificate verified at its
        // full handshake; check_client() checks its dates again. A reload builds a new
        // context and with it a new session cache, so a CA change takes effect at once.
        static constexpr unsigned char kSessionContext[] = "ocpp-gateway/profile-3";
        SSL_CTX_set_session_id_context(ctx, kSessionContext, sizeof kSessionContext - 1);
    }
    return context;
}

int TlsContext::verify(int preverified, void* raw) {
    auto* store = static_cast<X509_STORE_CTX*>(raw);
    const int depth = X509_STORE_CTX_get_error_depth(store);
    X509* cert = X509_STORE_CTX_get_current_cert(store);
    std::string problem;
    if (preverified == 0) {
        problem = X509_verify_cert_error_string(X509_STORE_CTX_get_error(store));
    } else if (depth == 0 && cert != nullptr) {
        if (auto weak = weak_key(cert)) {
            problem = *weak;
        }
    }
    if (problem.empty()) {
        return 1;
    }
    auto* ssl = static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
    if (ssl != nullptr) {
        auto* self = static_cast<TlsContext*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), context_index()));
        const auto cn = cert != nullptr ? name_entry(X509_get_subject_name(cert), NID_commonName) : std::nullopt;
        if (self != nullptr && self->on_rejected_) {
            self->on_rejected_(peer_address(ssl), "client certificate" + (cn ? " CN=" + *cn : std::string()) +
                                                      " at depth " + std::to_string(depth) + ": " + problem);
        }
    }
    return 0;
}

std::optional<std::string> TlsContext::check_client(void* raw, const std::string& identity) const {
    auto* ssl = static_cast<SSL*>(raw);
    X509* cert = SSL_get0_peer_certificate(ssl);
    if (cert == nullptr) {
        return std::string("no client certificate");
    }
    if (SSL_get_verify_result(ssl) != X509_V_OK) {
        return std::string("client certificate not verified");
    }
    // Verified at the session's full handshake; a resumed session may be older than that.
    return station_certificate_problem(cert, identity, settings_.organization);
}

}  // namespace gateway::security
