#pragma once

#ifndef ASIO_STANDALONE
#define ASIO_STANDALONE
#endif
#include <netinet/in.h>

#include <websocketpp/client.hpp>
#include <websocketpp/concurrency/none.hpp>
#include <websocketpp/config/asio_client.hpp>
#include <websocketpp/config/asio_no_tls_client.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace loadgen {

/// Masking keys and handshake nonces for the client side. A load generator needs no
/// cryptographic quality here, and std::random_device per frame costs a system call.
template <typename IntType>
class FastRng {
public:
    using int_type = IntType;

    FastRng() : state_(0x9E3779B97F4A7C15ULL ^ reinterpret_cast<std::uintptr_t>(this)) {}

    int_type operator()() {
        // xorshift64*
        state_ ^= state_ >> 12;
        state_ ^= state_ << 25;
        state_ ^= state_ >> 27;
        return static_cast<int_type>((state_ * 0x2545F4914F6CDD1DULL) >> 32);
    }

private:
    std::uint64_t state_;
};

/// websocketpp asio transport that connects to pre-resolved endpoints (the one whose
/// "host:port" the connection's URI names), optionally binding
/// each outgoing socket to the next of a list of local addresses first (round-robin), so one
/// client can open more connections to one server port than one source address has ports.
///
/// The stock transport cannot do this: its range connect closes and reopens the socket, which
/// drops a bind made in the socket-init handler.
template <typename TransportConfig>
class BoundTransport : public websocketpp::transport::asio::endpoint<TransportConfig> {
    using Base = websocketpp::transport::asio::endpoint<TransportConfig>;

public:
    using transport_con_ptr = typename Base::transport_con_ptr;

    /// Where connections go ("host:port" as a URI names it, and its resolved endpoint), the
    /// local addresses to bind (empty: let the kernel pick), the index of the first address
    /// used, and the TCP connect timeout.
    void set_targets(std::vector<std::pair<std::string, asio::ip::tcp::endpoint>> targets,
                     std::vector<asio::ip::address> sources, std::size_t first_source,
                     std::chrono::milliseconds connect_timeout) {
        targets_ = std::move(targets);
        sources_ = std::move(sources);
        next_source_ = sources_.empty() ? 0 : first_source % sources_.size();
        connect_timeout_ = connect_timeout;
    }

protected:
    // Hides the stock transport's async_connect: the client role calls it qualified through
    // its transport type.
    void async_connect(transport_con_ptr tcon, websocketpp::uri_ptr uri,
                       websocketpp::transport::connect_handler callback) {
        tcon->set_uri(uri);
        auto& socket = tcon->get_raw_socket();
        const std::string key = uri->get_host() + ":" + uri->get_port_str();
        const asio::ip::tcp::endpoint* target = nullptr;
        for (const auto& [name, endpoint] : targets_) {
            if (name == key) {
                target = &endpoint;
            }
        }
        if (target == nullptr) {
            asio::post(socket.get_executor(), [callback] {
                callback(websocketpp::error::make_error_code(websocketpp::error::invalid_uri));
            });
            return;
        }
        asio::error_code ec;
        socket.open(target->protocol(), ec);
        if (!ec && !sources_.empty()) {
            const asio::ip::address& source = sources_[next_source_];
            next_source_ = (next_source_ + 1) % sources_.size();
#ifdef IP_BIND_ADDRESS_NO_PORT
            // Let connect() pick the port per 4-tuple instead of reserving one per address.
            if (source.is_v4()) {
                asio::error_code ignored;
                socket.set_option(
                    asio::detail::socket_option::boolean<IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT>(true),
                    ignored);
            }
#endif
            socket.bind(asio::ip::tcp::endpoint(source, 0), ec);
        }
        if (ec) {
            asio::post(socket.get_executor(), [callback, ec] { callback(ec); });
            return;
        }
        auto finished = std::make_shared<bool>(false);
        auto timer = tcon->set_timer(
            static_cast<long>(connect_timeout_.count()),
            [tcon, callback, finished](const websocketpp::lib::error_code& tec) {
                if (tec || *finished) {
                    return;  // cancelled: the connect completed first
                }
                *finished = true;
                asio::error_code ignored;
                tcon->get_raw_socket().cancel(ignored);
                callback(websocketpp::transport::error::make_error_code(
                    websocketpp::transport::error::timeout));
            });
        socket.async_connect(*target, [callback, timer, finished](const asio::error_code& cec) {
            if (*finished) {
                return;  // timed out already
            }
            *finished = true;
            timer->cancel();
            callback(cec);
        });
    }

private:
    std::vector<std::pair<std::string, asio::ip::tcp::endpoint>> targets_;
    std::vector<asio::ip::address> sources_;
    std::size_t next_source_ = 0;
    std::chrono::milliseconds connect_timeout_{10000};
};

/// Client settings over websocketpp's plain or TLS client configuration: one io_context per
/// thread and every connection of a thread handled on it, so no locking and no strands; quiet
/// logs; small read buffers (answers are small, and this buffer is allocated per connection).
template <typename Base>
struct QuietConfig : Base {
    using type = QuietConfig;
    using base = Base;

    using concurrency_type = websocketpp::concurrency::none;
    using elog_type = websocketpp::log::basic<concurrency_type, websocketpp::log::elevel>;
    using alog_type = websocketpp::log::basic<concurrency_type, websocketpp::log::alevel>;
    using rng_type = FastRng<std::uint32_t>;

    static const websocketpp::log::level elog_level = websocketpp::log::elevel::none;
    static const websocketpp::log::level alog_level = websocketpp::log::alevel::none;
    static const bool enable_multithreading = false;
    static const std::size_t connection_read_buffer_size = 4096;

    struct transport_config : Base::transport_config {
        using concurrency_type = type::concurrency_type;
        using elog_type = type::elog_type;
        using alog_type = type::alog_type;
        static const bool enable_multithreading = false;
    };
    using transport_type = BoundTransport<transport_config>;
};

using PlainConfig = QuietConfig<websocketpp::config::asio_client>;
using TlsConfig = QuietConfig<websocketpp::config::asio_tls_client>;

template <typename Config>
using ClientOf = websocketpp::client<Config>;
using Client = ClientOf<PlainConfig>;
using TlsClient = ClientOf<TlsConfig>;

/// The subprotocol the server selected. websocketpp's client never fills get_subprotocol(),
/// so this reads the handshake response.
template <typename ConnectionPtr>
std::string selected_subprotocol(const ConnectionPtr& con) {
    return con->get_response_header("Sec-WebSocket-Protocol");
}

}  // namespace loadgen
