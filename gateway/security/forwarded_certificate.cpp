#include "gateway/security/forwarded_certificate.hpp"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <stdexcept>
#include <vector>

#include "gateway/http/url.hpp"
#include "gateway/security/x509.hpp"

namespace gateway::security {

std::unique_ptr<X509, void (*)(X509*)> forwarded_certificate(std::string_view value) {
    std::unique_ptr<X509, void (*)(X509*)> none(nullptr, X509_free);
    while (!value.empty() && (value.front() == ' ' || value.front() == '"')) {
        value.remove_prefix(1);
    }
    std::string text(value);
    // X-Forwarded-Client-Cert: By=…;Hash=…;Cert="<URL-encoded PEM>";Subject=…
    if (const auto cert = text.find("Cert=\""); cert != std::string::npos) {
        const auto end = text.find('"', cert + 6);
        text = text.substr(cert + 6, end == std::string::npos ? std::string::npos : end - cert - 6);
    }
    if (text.rfind("-----BEGIN", 0) == 0 || text.rfind("%2D", 0) == 0 || text.rfind("%2d", 0) == 0) {
        if (text.find('%') != std::string::npos) {
            auto decoded = http::percent_decode(text);
            if (!decoded) {
                return none;
            }
            text = std::move(*decoded);
        }
        std::unique_ptr<BIO, int (*)(BIO*)> bio(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())), BIO_free);
        return {PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr), X509_free};
    }
    // Base64 DER.
    std::string compact;
    for (const char c : text) {
        if (c != '\n' && c != '\r' && c != ' ' && c != '"') {
            compact += c;
        }
    }
    if (compact.empty() || compact.size() % 4 != 0) {
        return none;
    }
    std::vector<unsigned char> der(compact.size() / 4 * 3);
    const int length = EVP_DecodeBlock(der.data(), reinterpret_cast<const unsigned char*>(compact.data()),
                                       static_cast<int>(compact.size()));
    if (length <= 0) {
        return none;
    }
    const unsigned char* p = der.data();
    return {d2i_X509(nullptr, &p, length), X509_free};
}

ForwardedCertificates::ForwardedCertificates(const config::Config::Tls& tls)
    : ca_file_(tls.ca_file), organization_(tls.organization), ca_stamp_(file_stamp(tls.ca_file)) {
    store_ = load();
}

ForwardedCertificates::Store ForwardedCertificates::load() const {
    Store store(X509_STORE_new(), X509_STORE_free);
    if (!store || X509_STORE_load_file(store.get(), ca_file_.c_str()) != 1) {
        throw std::runtime_error("tls.ca_file " + ca_file_ + ": cannot read the CA bundle of station certificates");
    }
    return store;
}

std::optional<std::string> ForwardedCertificates::reload_if_changed() {
    const FileStamp now = file_stamp(ca_file_);
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (now == ca_stamp_) {
            return std::nullopt;
        }
        ca_stamp_ = now;  // a bundle that cannot be used is reported once per change
    }
    try {
        Store fresh = load();
        std::lock_guard<std::mutex> lock(mutex_);
        store_ = std::move(fresh);
        return std::nullopt;
    } catch (const std::exception& e) {
        return std::string(e.what());
    }
}

std::optional<std::string> ForwardedCertificates::check(std::string_view value, const std::string& identity) const {
    if (value.empty()) {
        return std::string("no client certificate forwarded");
    }
    const auto cert = forwarded_certificate(value);
    if (!cert) {
        return std::string("the forwarded client certificate cannot be read");
    }
    Store store;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        store = store_;
    }
    std::unique_ptr<X509_STORE_CTX, void (*)(X509_STORE_CTX*)> context(X509_STORE_CTX_new(), X509_STORE_CTX_free);
    if (!context || X509_STORE_CTX_init(context.get(), store.get(), cert.get(), nullptr) != 1) {
        return std::string("cannot verify the forwarded client certificate");
    }
    X509_STORE_CTX_set_purpose(context.get(), X509_PURPOSE_SSL_CLIENT);
    if (X509_verify_cert(context.get()) != 1) {
        return std::string("forwarded client certificate: ") +
               X509_verify_cert_error_string(X509_STORE_CTX_get_error(context.get()));
    }
    if (auto weak = weak_key(cert.get())) {
        return "forwarded client certificate: " + *weak;
    }
    return station_certificate_problem(cert.get(), identity, organization_);
}

}  // namespace gateway::security
