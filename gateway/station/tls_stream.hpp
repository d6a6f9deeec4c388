#pragma once

#ifndef ASIO_STANDALONE
#define ASIO_STANDALONE
#endif
#include <asio/async_result.hpp>
#include <asio/buffer.hpp>
#include <asio/compose.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/post.hpp>
#include <asio/ssl/context.hpp>
#include <asio/ssl/stream_base.hpp>
#include <openssl/ssl.h>

#include <array>
#include <cstddef>
#include <system_error>
#include <type_traits>
#include <utility>

namespace gateway::station {

/// A TLS connection on a TCP socket: the asio async-stream interface websocketpp writes to
/// (async_handshake, async_read_some, async_write_some, async_shutdown), with OpenSSL reading
/// and writing the socket itself.
///
/// asio's own `ssl::stream` puts two 17 KiB buffers of its own and a BIO pair with two more
/// between OpenSSL and the socket, and holds all four for the connection's life: about 70 KiB
/// per idle station (docs/benchmarks.md, "Idle stations over TLS: memory"). Here OpenSSL's
/// record buffers are the only ones, and it releases them whenever they are empty
/// (`SSL_MODE_RELEASE_BUFFERS`): an idle connection holds its `SSL` object and nothing more.
/// A read waits for the socket to become readable, not with a buffer posted.
///
/// Every operation tries OpenSSL first and waits for the socket only when OpenSSL asks for it
/// (a read may need to write and a write to read) — except a read when OpenSSL holds no bytes
/// and its last recv emptied the socket: that one waits first. Completions never run inside the
/// call that starts them. One read and one write may be outstanding at once, as on a socket;
/// all of a stream's handlers must run on one thread at a time (a context with one thread, as
/// every connection's), and the stream must outlive them (websocketpp's handlers hold the
/// connection that owns it). After a write fails or is cancelled, OpenSSL may still hold part
/// of a record: the stream is then good for reading and shutting down, not for writing other
/// bytes (websocketpp never writes again after an error).
///
/// Errors, as asio's stream gives them (websocketpp tells them apart the same way):
/// `asio::error::eof` when the peer closed TLS (close_notify), `asio::ssl::error::
/// stream_truncated` when it closed TCP without, OpenSSL's error in `asio::error::
/// get_ssl_category()` for a protocol failure, the socket's errno otherwise,
/// `asio::error::operation_aborted` when cancelled.
class TlsStream {
public:
    using next_layer_type = asio::ip::tcp::socket;
    using lowest_layer_type = next_layer_type::lowest_layer_type;
    using executor_type = next_layer_type::executor_type;
    using native_handle_type = SSL*;

    /// A stream on a closed socket of `io`, with a fresh `SSL` of `context`. Throws
    /// std::system_error when OpenSSL cannot make one (out of memory).
    TlsStream(asio::io_context& io, asio::ssl::context& context);
    ~TlsStream();
    TlsStream(const TlsStream&) = delete;
    TlsStream& operator=(const TlsStream&) = delete;

    executor_type get_executor() noexcept { return socket_.get_executor(); }
    next_layer_type& next_layer() noexcept { return socket_; }
    lowest_layer_type& lowest_layer() noexcept { return socket_.lowest_layer(); }
    SSL* native_handle() noexcept { return ssl_; }

    /// Completes with an error_code once the handshake is done or failed.
    template <class Handler>
    auto async_handshake(asio::ssl::stream_base::handshake_type type, Handler&& handler) {
        set_role(type);
        return start<void(asio::error_code)>(Kind::handshake, asio::const_buffer(), std::forward<Handler>(handler));
    }

    /// Completes with (error_code, bytes read): at least one byte unless an error, or 0 for
    /// an empty buffer sequence.
    template <class Buffers, class Handler>
    auto async_read_some(const Buffers& buffers, Handler&& handler) {
        static_assert(asio::is_mutable_buffer_sequence<Buffers>::value, "reads need writable buffers");
        return start<void(asio::error_code, std::size_t)>(Kind::read, buffers, std::forward<Handler>(handler));
    }

    /// Completes with (error_code, bytes written). Small buffers that follow each other (a
    /// frame's header and its payload) go into one TLS record and one send.
    template <class Buffers, class Handler>
    auto async_write_some(const Buffers& buffers, Handler&& handler) {
        return start<void(asio::error_code, std::size_t)>(Kind::write, buffers, std::forward<Handler>(handler));
    }

    /// Sends close_notify unless the SSL is set to a quiet shutdown; completes with an
    /// error_code.
    template <class Handler>
    auto async_shutdown(Handler&& handler) {
        return start<void(asio::error_code)>(Kind::shutdown, asio::const_buffer(), std::forward<Handler>(handler));
    }

    /// A write of several buffers sends up to this many of their bytes as one record: TLS's
    /// largest, so every frame up to 16 KiB is one record and one send.
    static constexpr std::size_t kGatherBytes = 16384;
    /// ... from at most this many buffers (websocketpp writes a frame as two: header and
    /// payload; several queued frames as two each).
    static constexpr std::size_t kGatherPieces = 8;

private:
    enum class Kind { handshake, read, write, shutdown };
    enum class Want { nothing, read, write };
    struct Step {
        Want want = Want::nothing;
        asio::error_code ec;
        std::size_t bytes = 0;
    };
    /// The buffers an operation works on, all it keeps of the caller's sequence: for a read
    /// the first non-empty one, for a write up to kGatherPieces non-empty ones (fewer when
    /// they hold kGatherBytes already). A write of more completes with what it took, as a
    /// socket's write_some may.
    struct Pieces {
        std::array<asio::const_buffer, kGatherPieces> buffers{};
        std::size_t count = 0;
    };

    /// One OpenSSL call of an operation: done (ec, bytes) or waiting for the socket.
    Step step(Kind kind, void* data, std::size_t size);
    void set_role(asio::ssl::stream_base::handshake_type type);

    template <class Buffers>
    static Pieces pieces_of(Kind kind, const Buffers& buffers) {
        Pieces pieces;
        const std::size_t most = kind == Kind::write ? kGatherPieces : 1;
        std::size_t bytes = 0;
        for (auto it = asio::buffer_sequence_begin(buffers), end = asio::buffer_sequence_end(buffers);
             it != end && pieces.count < most && bytes < kGatherBytes; ++it) {
            const asio::const_buffer b(*it);
            if (b.size() > 0) {
                pieces.buffers[pieces.count++] = b;
                bytes += b.size();
            }
        }
        return pieces;
    }

    /// The bytes to read into or write: the first piece, or for a write whose first piece is
    /// smaller than a record and followed by others, the pieces' bytes up to a record's worth
    /// copied into this thread's gather space. The same pieces give the same bytes, which is
    /// what OpenSSL needs when a write is retried.
    static std::pair<void*, std::size_t> bytes_of(Kind kind, const Pieces& pieces);

    /// The operation as a composed asio operation: OpenSSL, then a wait when it asks for one,
    /// until done; a result ready at once is posted, not passed to the handler from within
    /// the call that started the operation.
    template <bool kBytes>
    struct Op {
        TlsStream* stream;
        Kind kind;
        Pieces pieces;
        bool started = false;
        bool posted = false;
        Step result{};

        template <class Self>
        void operator()(Self& self, asio::error_code waited = {}) {
            if (!started && kind == Kind::read && pieces.count != 0 && stream->drained_ &&
                SSL_has_pending(stream->ssl_) == 0) {
                // OpenSSL holds nothing and the socket had nothing more at the last look:
                // wait first instead of a recv that would find nothing (the wait sees data
                // that arrived since).
                started = true;
                stream->socket_.async_wait(asio::socket_base::wait_read, std::move(self));
                return;
            }
            if (!posted) {
                if (waited) {
                    result = Step{Want::nothing, waited, 0};
                } else {
                    const auto [data, size] = bytes_of(kind, pieces);
                    result = stream->step(kind, data, size);
                    if (result.want != Want::nothing) {
                        started = true;
                        stream->socket_.async_wait(result.want == Want::read ? asio::socket_base::wait_read
                                                                             : asio::socket_base::wait_write,
                                                   std::move(self));
                        return;
                    }
                }
                if (!started) {
                    started = true;
                    posted = true;
                    asio::post(stream->socket_.get_executor(), std::move(self));
                    return;
                }
            }
            if constexpr (kBytes) {
                self.complete(result.ec, result.bytes);
            } else {
                self.complete(result.ec);
            }
        }
    };

    /// Starts `kind` as an operation completing with (error_code, bytes) or (error_code).
    template <class Signature, class Buffers, class Handler>
    auto start(Kind kind, const Buffers& buffers, Handler&& handler) {
        constexpr bool kBytes = std::is_same_v<Signature, void(asio::error_code, std::size_t)>;
        return asio::async_compose<Handler, Signature>(Op<kBytes>{this, kind, pieces_of(kind, buffers)}, handler,
                                                       socket_);
    }

    friend struct SocketBio;

    asio::ip::tcp::socket socket_;
    SSL* ssl_ = nullptr;
    int last_errno_ = 0;       // the socket call's that OpenSSL reported as SSL_ERROR_SYSCALL
    bool peer_closed_ = false;  // a recv returned 0
    bool drained_ = false;      // the last recv found the socket empty or emptied it
};

}  // namespace gateway::station
