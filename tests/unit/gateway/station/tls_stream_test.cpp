#include <catch2/catch.hpp>

#include <asio/connect.hpp>
#include <asio/read.hpp>
#include <asio/ssl/error.hpp>
#include <asio/ssl/stream.hpp>
#include <asio/write.hpp>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <array>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "gateway/station/tls_stream.hpp"

namespace {

using gateway::station::TlsStream;
using namespace std::chrono_literals;
using ClientStream = asio::ssl::stream<asio::ip::tcp::socket>;

/// A self-signed P-256 certificate for "localhost" and its key.
struct Identity {
    std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key{EVP_EC_gen("P-256"), &EVP_PKEY_free};
    std::unique_ptr<X509, decltype(&X509_free)> cert{X509_new(), &X509_free};

    Identity() {
        REQUIRE(key);
        REQUIRE(cert);
        ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1);
        X509_gmtime_adj(X509_getm_notBefore(cert.get()), -60);
        X509_gmtime_adj(X509_getm_notAfter(cert.get()), 3600);
        X509_set_pubkey(cert.get(), key.get());
        X509_NAME* name = X509_get_subject_name(cert.get());
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("localhost"), -1,
                                   -1, 0);
        X509_set_issuer_name(cert.get(), name);
        REQUIRE(X509_sign(cert.get(), key.get(), EVP_sha256()) > 0);
    }
};

/// A TlsStream accepted on loopback and an asio ssl::stream client connected to it, both on
/// one io_context that the test runs until what it waits for has happened.
struct Pair {
    Identity identity;
    asio::io_context io;
    asio::ssl::context server_tls{asio::ssl::context::tls_server};
    asio::ssl::context client_tls{asio::ssl::context::tls_client};
    std::optional<TlsStream> stream;  // made once server_tls is set up: an SSL copies its context's certificate
    ClientStream client{io, client_tls};
    int client_records = 0;  // application-data records the client received

    Pair() {
        REQUIRE(SSL_CTX_use_certificate(server_tls.native_handle(), identity.cert.get()) == 1);
        REQUIRE(SSL_CTX_use_PrivateKey(server_tls.native_handle(), identity.key.get()) == 1);
        SSL_CTX_set_num_tickets(server_tls.native_handle(), 0);  // no records after the handshake
        stream.emplace(io, server_tls);
        X509_STORE_add_cert(SSL_CTX_get_cert_store(client_tls.native_handle()), identity.cert.get());
        client_tls.set_verify_mode(asio::ssl::verify_peer);
        SSL_set_msg_callback(client.native_handle(), &Pair::on_record);
        SSL_set_msg_callback_arg(client.native_handle(), this);

        asio::ip::tcp::acceptor acceptor(io, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
        client.next_layer().connect(acceptor.local_endpoint());
        acceptor.accept(server().next_layer());
    }

    static void on_record(int write, int, int type, const void* data, std::size_t size, SSL*, void* self) {
        // Every record's header; after the handshake, TLS 1.3 calls them all application data.
        if (write == 0 && type == SSL3_RT_HEADER && size >= 1 && static_cast<const unsigned char*>(data)[0] == 23) {
            ++static_cast<Pair*>(self)->client_records;
        }
    }

    TlsStream& server() { return *stream; }

    bool run_until(const std::function<bool()>& done) {
        const auto deadline = std::chrono::steady_clock::now() + 10s;
        while (!done() && std::chrono::steady_clock::now() < deadline) {
            if (io.stopped()) {  // out of work once, since the last wait
                io.restart();
            }
            io.run_one_for(100ms);
        }
        return done();
    }

    void handshake() {
        std::optional<asio::error_code> server_done;
        std::optional<asio::error_code> client_done;
        server().async_handshake(asio::ssl::stream_base::server, [&](const asio::error_code& ec) { server_done = ec; });
        client.async_handshake(asio::ssl::stream_base::client, [&](const asio::error_code& ec) { client_done = ec; });
        REQUIRE(run_until([&] { return server_done && client_done; }));
        REQUIRE_FALSE(*server_done);
        REQUIRE_FALSE(*client_done);
        client_records = 0;
    }

    /// The server's next read's result.
    std::pair<asio::error_code, std::string> server_read(std::size_t at_most) {
        std::string buffer(at_most, '\0');
        std::optional<std::pair<asio::error_code, std::size_t>> result;
        server().async_read_some(asio::buffer(buffer),
                               [&](const asio::error_code& ec, std::size_t n) { result.emplace(ec, n); });
        REQUIRE(run_until([&] { return result.has_value(); }));
        buffer.resize(result->second);
        return {result->first, buffer};
    }
};

std::string pattern(std::size_t size) {
    std::string text(size, '\0');
    for (std::size_t i = 0; i < size; ++i) {
        text[i] = static_cast<char>('a' + (i * 7 + i / 251) % 26);
    }
    return text;
}

}  // namespace

TEST_CASE("TlsStream: a handshake and a megabyte each way with asio's own TLS client", "[station][tls]") {
    Pair pair;
    pair.handshake();
    const std::string up = pattern(1 << 20);
    const std::string down = pattern((1 << 20) + 17);

    std::string received(up.size(), '\0');
    std::string echoed(down.size(), '\0');
    std::optional<asio::error_code> sent_up, got_up, sent_down, got_down;
    // Both directions at once, the server reading in small pieces: records larger than the
    // reads are handed out from OpenSSL's buffer, writes outgrow the socket's buffer.
    asio::async_write(pair.client, asio::buffer(up), [&](const asio::error_code& ec, std::size_t) { sent_up = ec; });
    asio::async_read(pair.server(), asio::buffer(received), asio::transfer_all(),
                     [&](const asio::error_code& ec, std::size_t) { got_up = ec; });
    asio::async_write(pair.server(), asio::buffer(down),
                      [&](const asio::error_code& ec, std::size_t) { sent_down = ec; });
    asio::async_read(pair.client, asio::buffer(echoed), [&](const asio::error_code& ec, std::size_t) { got_down = ec; });
    REQUIRE(pair.run_until([&] { return sent_up && got_up && sent_down && got_down; }));
    CHECK_FALSE(*sent_up);
    CHECK_FALSE(*got_up);
    CHECK_FALSE(*sent_down);
    CHECK_FALSE(*got_down);
    CHECK(received == up);
    CHECK(echoed == down);
}

TEST_CASE("TlsStream: small buffers written together go out as one record", "[station][tls]") {
    Pair pair;
    pair.handshake();
    const std::string header = "\x81\x05";
    const std::string payload = "hello";
    std::vector<asio::const_buffer> frame{asio::buffer(header), asio::buffer(payload)};
    std::optional<std::pair<asio::error_code, std::size_t>> wrote;
    pair.server().async_write_some(frame, [&](const asio::error_code& ec, std::size_t n) { wrote.emplace(ec, n); });
    std::string got(7, '\0');
    std::optional<asio::error_code> read;
    asio::async_read(pair.client, asio::buffer(got), [&](const asio::error_code& ec, std::size_t) { read = ec; });
    REQUIRE(pair.run_until([&] { return wrote && read; }));
    CHECK_FALSE(wrote->first);
    CHECK(wrote->second == 7);
    CHECK_FALSE(*read);
    CHECK(got == header + payload);
    CHECK(pair.client_records == 1);

    SECTION("a frame larger than a record: the first record is full, header included") {
        const std::string large = pattern(TlsStream::kGatherBytes + 100);
        std::vector<asio::const_buffer> two{asio::buffer(header), asio::buffer(large)};
        wrote.reset();
        pair.client_records = 0;
        pair.server().async_write_some(two, [&](const asio::error_code& ec, std::size_t n) { wrote.emplace(ec, n); });
        std::string first(TlsStream::kGatherBytes, '\0');
        read.reset();
        asio::async_read(pair.client, asio::buffer(first), [&](const asio::error_code& ec, std::size_t) { read = ec; });
        REQUIRE(pair.run_until([&] { return wrote && read; }));
        CHECK_FALSE(wrote->first);
        CHECK(wrote->second == TlsStream::kGatherBytes);
        CHECK(first == header + large.substr(0, TlsStream::kGatherBytes - header.size()));
        CHECK(pair.client_records == 1);
    }

    SECTION("more buffers than one write gathers: it takes the first ones, async_write the rest") {
        // Three frames more than a write gathers, each a header and a payload, with an empty
        // buffer among them (skipped, not counted).
        std::vector<std::string> parts;
        for (std::size_t i = 0; i < TlsStream::kGatherPieces + 3; ++i) {
            parts.push_back(i % 2 == 0 ? "\x81\x03" : pattern(3 + i));
        }
        std::vector<asio::const_buffer> many{asio::const_buffer()};
        std::string all;
        for (const auto& part : parts) {
            many.push_back(asio::buffer(part));
            all += part;
        }
        wrote.reset();
        pair.server().async_write_some(many, [&](const asio::error_code& ec, std::size_t n) { wrote.emplace(ec, n); });
        REQUIRE(pair.run_until([&] { return wrote.has_value(); }));
        CHECK_FALSE(wrote->first);
        std::size_t first_pieces = 0;
        for (std::size_t i = 0; i < TlsStream::kGatherPieces; ++i) {
            first_pieces += parts[i].size();
        }
        CHECK(wrote->second == first_pieces);

        // One write at a time: the whole text as one buffer, then the pieces again.
        std::optional<asio::error_code> whole;
        std::optional<asio::error_code> rest;
        asio::async_write(pair.server(), asio::buffer(all), [&](const asio::error_code& ec, std::size_t) {
            whole = ec;
            asio::async_write(pair.server(), many, [&](const asio::error_code& e, std::size_t) { rest = e; });
        });
        std::string got(first_pieces + 2 * all.size(), '\0');
        read.reset();
        asio::async_read(pair.client, asio::buffer(got), [&](const asio::error_code& ec, std::size_t) { read = ec; });
        REQUIRE(pair.run_until([&] { return whole && rest && read; }));
        CHECK_FALSE(*whole);
        CHECK_FALSE(*rest);
        CHECK_FALSE(*read);
        CHECK(got == all.substr(0, first_pieces) + all + all);
    }
}

TEST_CASE("TlsStream: a gathered write that meets a full socket is retried with the same bytes",
          "[station][tls]") {
    Pair pair;
    pair.handshake();
    // Frames of a 2-byte header and a 1000-byte payload, written one after the other while
    // the client reads nothing: the socket's buffers fill, a gathered record waits for
    // writable and is written again from the gather space.
    constexpr int kFrames = 20000;
    const std::string header = "\x81\x7e";
    const std::string payload = pattern(1000);
    int written = 0;
    std::optional<asio::error_code> failed;
    std::function<void()> write_next = [&] {
        std::vector<asio::const_buffer> frame{asio::buffer(header), asio::buffer(payload)};
        asio::async_write(pair.server(), frame, [&](const asio::error_code& ec, std::size_t) {
            if (ec) {
                failed = ec;
                return;
            }
            if (++written < kFrames) {
                write_next();
            }
        });
    };
    write_next();
    pair.io.restart();  // out of work since the handshake
    while (pair.io.poll() > 0) {  // until the writes wait for the socket
    }
    REQUIRE_FALSE(failed.has_value());
    REQUIRE(written < kFrames);  // the socket filled up before all were written
    REQUIRE(written > 0);

    std::string received(kFrames * (header.size() + payload.size()), '\0');
    std::optional<asio::error_code> read;
    asio::async_read(pair.client, asio::buffer(received), [&](const asio::error_code& ec, std::size_t) { read = ec; });
    REQUIRE(pair.run_until([&] { return (written == kFrames || failed) && read; }));
    REQUIRE_FALSE(failed.has_value());
    CHECK_FALSE(*read);
    bool all_equal = true;
    for (std::size_t at = 0; at < received.size(); at += header.size() + payload.size()) {
        all_equal = all_equal && received.compare(at, header.size(), header) == 0 &&
                    received.compare(at + header.size(), payload.size(), payload) == 0;
    }
    CHECK(all_equal);
}

TEST_CASE("TlsStream: a read after the socket was emptied waits first and sees what came meanwhile",
          "[station][tls]") {
    Pair pair;
    pair.handshake();
    const auto client_write = [&pair](const std::string& text) {
        std::optional<asio::error_code> sent;
        asio::async_write(pair.client, asio::buffer(text), [&](const asio::error_code& ec, std::size_t) { sent = ec; });
        REQUIRE(pair.run_until([&] { return sent.has_value(); }));
        REQUIRE_FALSE(*sent);
    };
    client_write("one");
    auto [ec, got] = pair.server_read(100);  // less than asked for: the socket is empty now
    REQUIRE_FALSE(ec);
    REQUIRE(got == "one");

    SECTION("a record that arrived before the read started") {
        client_write("two");  // on loopback, in the server's socket once the write completed
        auto [e, text] = pair.server_read(100);
        CHECK_FALSE(e);
        CHECK(text == "two");
    }

    SECTION("a record that arrives while the read waits") {
        std::string buffer(100, '\0');
        std::optional<std::pair<asio::error_code, std::size_t>> result;
        pair.server().async_read_some(asio::buffer(buffer),
                                      [&](const asio::error_code& e, std::size_t n) { result.emplace(e, n); });
        pair.io.restart();
        pair.io.poll();
        REQUIRE_FALSE(result.has_value());
        client_write("three");
        REQUIRE(pair.run_until([&] { return result.has_value(); }));
        CHECK_FALSE(result->first);
        CHECK(buffer.substr(0, result->second) == "three");
    }

    SECTION("two records at once: the second is read from OpenSSL's buffer without waiting") {
        client_write("four");
        client_write("five");
        auto [e1, first] = pair.server_read(100);
        REQUIRE_FALSE(e1);
        std::string all = first;
        if (all.size() < 8) {
            auto [e2, second] = pair.server_read(100);
            REQUIRE_FALSE(e2);
            all += second;
        }
        CHECK(all == "fourfive");
    }
}

TEST_CASE("TlsStream: completions never run inside the call that starts them", "[station][tls]") {
    Pair pair;
    pair.handshake();
    const std::string message = pattern(1000);
    std::optional<asio::error_code> sent;
    asio::async_write(pair.client, asio::buffer(message), [&](const asio::error_code& ec, std::size_t) { sent = ec; });
    auto [ec, first] = pair.server_read(100);  // the record's rest stays in OpenSSL's buffer
    REQUIRE_FALSE(ec);
    REQUIRE(first == message.substr(0, 100));

    bool starting = true;
    bool inside = false;
    std::optional<std::size_t> second;
    std::string rest(2000, '\0');
    pair.server().async_read_some(asio::buffer(rest), [&](const asio::error_code& e, std::size_t n) {
        inside = starting;
        CHECK_FALSE(e);
        second = n;
    });
    starting = false;
    REQUIRE(pair.run_until([&] { return second.has_value(); }));
    CHECK_FALSE(inside);
    CHECK(rest.substr(0, *second) == message.substr(100, *second));

    std::optional<std::size_t> none;
    pair.server().async_read_some(asio::mutable_buffer(), [&](const asio::error_code& e, std::size_t n) {
        CHECK_FALSE(e);
        none = n;
    });
    REQUIRE_FALSE(none.has_value());
    REQUIRE(pair.run_until([&] { return none.has_value(); }));
    CHECK(*none == 0);
}

TEST_CASE("TlsStream: how a connection ends, as asio's stream reports it", "[station][tls]") {
    Pair pair;
    pair.handshake();

    SECTION("close_notify from the peer: end of stream") {
        pair.client.async_shutdown([](const asio::error_code&) {});  // waits for the server's answer
        auto [ec, data] = pair.server_read(100);
        CHECK(ec == asio::error::eof);
        CHECK(data.empty());
    }
    SECTION("TCP closed without close_notify: a truncated stream") {
        pair.client.next_layer().close();
        CHECK(pair.server_read(100).first == asio::ssl::error::stream_truncated);
    }
    SECTION("a read waiting when the socket is cancelled: aborted") {
        std::optional<asio::error_code> result;
        std::array<char, 16> buffer{};
        pair.server().async_read_some(asio::buffer(buffer),
                                    [&](const asio::error_code& ec, std::size_t) { result = ec; });
        pair.io.poll();
        REQUIRE_FALSE(result.has_value());
        pair.server().lowest_layer().cancel();
        REQUIRE(pair.run_until([&] { return result.has_value(); }));
        CHECK(*result == asio::error::operation_aborted);
    }
    SECTION("a quiet shutdown completes without waiting for the peer") {
        SSL_set_quiet_shutdown(pair.server().native_handle(), 1);
        std::optional<asio::error_code> shut;
        pair.server().async_shutdown([&](const asio::error_code& ec) { shut = ec; });
        REQUIRE(pair.run_until([&] { return shut.has_value(); }));
        CHECK_FALSE(*shut);
    }
}

TEST_CASE("TlsStream: a peer that does not speak TLS fails the handshake with OpenSSL's reason", "[station][tls]") {
    Pair pair;
    std::optional<asio::error_code> result;
    pair.server().async_handshake(asio::ssl::stream_base::server, [&](const asio::error_code& ec) { result = ec; });
    const std::string http = "GET /ocpp/CP1 HTTP/1.1\r\nHost: localhost\r\n\r\n";
    asio::write(pair.client.next_layer(), asio::buffer(http));
    REQUIRE(pair.run_until([&] { return result.has_value(); }));
    CHECK(result->category() == asio::error::get_ssl_category());
    CHECK(ERR_GET_REASON(static_cast<unsigned long>(result->value())) == SSL_R_HTTP_REQUEST);
}
