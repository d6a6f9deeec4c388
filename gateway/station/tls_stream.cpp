#include "gateway/station/tls_stream.hpp"

#include <asio/ssl/error.hpp>
#include <openssl/bio.h>
#include <openssl/err.h>

#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <system_error>

namespace gateway::station {

/// OpenSSL's view of the stream's TCP socket: one recv or send per call, never blocking
/// (MSG_DONTWAIT, whatever mode asio left the descriptor in) and never raising SIGPIPE
/// (MSG_NOSIGNAL). "Would block" is a retry, which OpenSSL turns into SSL_ERROR_WANT_*.
struct SocketBio {
    static TlsStream& stream(BIO* bio) { return *static_cast<TlsStream*>(BIO_get_data(bio)); }

    static int read(BIO* bio, char* data, std::size_t size, std::size_t* done) {
        BIO_clear_retry_flags(bio);
        TlsStream& s = stream(bio);
        const ssize_t n = ::recv(s.socket_.native_handle(), data, size, MSG_DONTWAIT);
        s.drained_ = false;
        if (n > 0) {
            *done = static_cast<std::size_t>(n);
            s.drained_ = *done < size;  // less than asked for: nothing more had arrived
            return 1;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
            s.drained_ = errno != EINTR;
            BIO_set_retry_read(bio);
        } else if (n == 0) {
            s.peer_closed_ = true;  // BIO_eof: OpenSSL then reports an unexpected EOF
        } else {
            s.last_errno_ = errno;
        }
        *done = 0;
        return 0;
    }

    static int write(BIO* bio, const char* data, std::size_t size, std::size_t* done) {
        BIO_clear_retry_flags(bio);
        TlsStream& s = stream(bio);
        const ssize_t n = ::send(s.socket_.native_handle(), data, size, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n >= 0) {
            *done = static_cast<std::size_t>(n);
            return 1;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
            BIO_set_retry_write(bio);
        } else {
            s.last_errno_ = errno;
        }
        *done = 0;
        return 0;
    }

    static long control(BIO* bio, int command, long, void*) {
        switch (command) {
            case BIO_CTRL_FLUSH:
                return 1;  // nothing is buffered here
            case BIO_CTRL_EOF:
                return stream(bio).peer_closed_ ? 1 : 0;
            default:
                return 0;
        }
    }

    static int create(BIO* bio) {
        BIO_set_init(bio, 1);
        return 1;
    }

    static BIO_METHOD* method() {
        static BIO_METHOD* const kMethod = [] {
            BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "ocpp-gateway station socket");
            if (m != nullptr) {
                BIO_meth_set_read_ex(m, &SocketBio::read);
                BIO_meth_set_write_ex(m, &SocketBio::write);
                BIO_meth_set_ctrl(m, &SocketBio::control);
                BIO_meth_set_create(m, &SocketBio::create);
            }
            return m;
        }();
        return kMethod;
    }
};

namespace {

[[noreturn]] void out_of_memory(const char* what) {
    ERR_clear_error();
    throw std::system_error(std::make_error_code(std::errc::not_enough_memory), what);
}

}  // namespace

TlsStream::TlsStream(asio::io_context& io, asio::ssl::context& context) : socket_(io) {
    BIO_METHOD* method = SocketBio::method();
    if (method == nullptr) {
        out_of_memory("TLS: BIO method");
    }
    ssl_ = SSL_new(context.native_handle());
    if (ssl_ == nullptr) {
        out_of_memory("TLS: SSL_new");
    }
    BIO* bio = BIO_new(method);
    if (bio == nullptr) {
        SSL_free(ssl_);
        out_of_memory("TLS: BIO_new");
    }
    BIO_set_data(bio, this);
    SSL_set_bio(ssl_, bio, bio);  // the SSL owns it now
    // Record buffers only while they hold something; partial writes, so that a write of
    // several records completes with what went out; a retried write may come from another
    // address (gathered into the thread's gather space).
    SSL_set_mode(ssl_, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
                           SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    // One recv for what has arrived, not one for each record's header and one for its body;
    // what it read beyond the record waits in OpenSSL's buffer, where every read looks first.
    SSL_set_read_ahead(ssl_, 1);
}

TlsStream::~TlsStream() { SSL_free(ssl_); }

void TlsStream::set_role(asio::ssl::stream_base::handshake_type type) {
    if (type == asio::ssl::stream_base::server) {
        SSL_set_accept_state(ssl_);
    } else {
        SSL_set_connect_state(ssl_);
    }
}

std::pair<void*, std::size_t> TlsStream::bytes_of(Kind kind, const Pieces& pieces) {
    if (pieces.count == 0) {
        return {nullptr, 0};
    }
    const asio::const_buffer first = pieces.buffers[0];
    if (kind != Kind::write || pieces.count == 1 || first.size() >= kGatherBytes) {
        return {const_cast<void*>(first.data()), first.size()};
    }
    thread_local std::array<char, kGatherBytes> space;
    std::size_t size = 0;
    for (std::size_t i = 0; i < pieces.count && size < kGatherBytes; ++i) {
        const std::size_t n = std::min(pieces.buffers[i].size(), kGatherBytes - size);
        std::memcpy(space.data() + size, pieces.buffers[i].data(), n);
        size += n;
    }
    return {space.data(), size};
}

TlsStream::Step TlsStream::step(Kind kind, void* data, std::size_t size) {
    if ((kind == Kind::read || kind == Kind::write) && size == 0) {
        return {};  // as on a socket: nothing asked, nothing done
    }
    ERR_clear_error();
    last_errno_ = 0;
    std::size_t bytes = 0;
    int result = 0;
    switch (kind) {
        case Kind::handshake:
            result = SSL_do_handshake(ssl_);
            break;
        case Kind::read:
            result = SSL_read_ex(ssl_, data, size, &bytes);
            break;
        case Kind::write:
            result = SSL_write_ex(ssl_, data, size, &bytes);
            break;
        case Kind::shutdown:
            result = SSL_shutdown(ssl_);
            if (result == 0) {  // close_notify sent; now the peer's
                result = SSL_shutdown(ssl_);
            }
            break;
    }
    if (result > 0) {
        return {Want::nothing, {}, bytes};
    }
    const int error = SSL_get_error(ssl_, result);
    switch (error) {
        case SSL_ERROR_WANT_READ:
            return {Want::read, {}, 0};
        case SSL_ERROR_WANT_WRITE:
            return {Want::write, {}, 0};
        case SSL_ERROR_ZERO_RETURN:
            return {Want::nothing, asio::error::eof, 0};
        case SSL_ERROR_SYSCALL:
            if (ERR_peek_error() == 0) {
                if (last_errno_ != 0) {
                    return {Want::nothing, asio::error_code(last_errno_, asio::error::get_system_category()), 0};
                }
                return {Want::nothing, asio::ssl::error::stream_truncated, 0};
            }
            break;
        default:
            break;
    }
    const unsigned long code = ERR_get_error();
    ERR_clear_error();
    if (ERR_GET_LIB(code) == ERR_LIB_SSL && ERR_GET_REASON(code) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
        return {Want::nothing, asio::ssl::error::stream_truncated, 0};
    }
    if (code == 0) {  // no OpenSSL error queued: a failure without a reason
        return {Want::nothing, asio::error_code(static_cast<int>(error), asio::error::get_ssl_category()), 0};
    }
    return {Want::nothing, asio::error_code(static_cast<int>(code), asio::error::get_ssl_category()), 0};
}

}  // namespace gateway::station
