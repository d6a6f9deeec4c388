#include "gateway/security/x509.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "ocpp/types.hpp"

namespace gateway::security {

std::optional<std::string> name_entry(X509_NAME* name, int nid) {
    if (name == nullptr) {
        return std::nullopt;
    }
    const int index = X509_NAME_get_index_by_NID(name, nid, -1);
    if (index < 0) {
        return std::nullopt;
    }
    ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, index));
    unsigned char* utf8 = nullptr;
    const int length = ASN1_STRING_to_UTF8(&utf8, data);
    if (length < 0) {
        return std::nullopt;
    }
    std::string out(reinterpret_cast<char*>(utf8), static_cast<std::size_t>(length));
    OPENSSL_free(utf8);
    return out;
}

std::optional<std::string> weak_key(X509* cert) {
    EVP_PKEY* key = X509_get0_pubkey(cert);
    if (key == nullptr) {
        return "certificate without a public key";
    }
    const int bits = EVP_PKEY_get_bits(key);
    const int type = EVP_PKEY_get_base_id(key);
    if (type == EVP_PKEY_RSA && bits < 2048) {
        return "RSA key of " + std::to_string(bits) + " bits (at least 2048 required)";
    }
    if (type == EVP_PKEY_EC && bits < 224) {
        return "EC key of " + std::to_string(bits) + " bits (at least 224 required)";
    }
    if (type != EVP_PKEY_RSA && type != EVP_PKEY_EC) {
        return "key type not allowed (RSA or EC only)";
    }
    return std::nullopt;
}

std::optional<std::string> station_certificate_problem(X509* cert, const std::string& identity,
                                                       const std::string& organization) {
    if (X509_cmp_current_time(X509_get0_notAfter(cert)) <= 0) {
        return std::string("client certificate expired");
    }
    if (X509_cmp_current_time(X509_get0_notBefore(cert)) > 0) {
        return std::string("client certificate not yet valid");
    }
    const auto cn = name_entry(X509_get_subject_name(cert), NID_commonName);
    if (!cn || ocpp::ascii_lower(*cn) != ocpp::ascii_lower(identity)) {
        return "client certificate CN " + (cn ? "\"" + *cn + "\"" : std::string("(none)")) +
               " is not the station identity";
    }
    if (!organization.empty()) {
        const auto org = name_entry(X509_get_subject_name(cert), NID_organizationName);
        if (!org || *org != organization) {
            return "client certificate organization is not \"" + organization + "\"";
        }
    }
    return std::nullopt;
}

}  // namespace gateway::security
