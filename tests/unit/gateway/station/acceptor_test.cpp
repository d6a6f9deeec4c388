#include <catch2/catch.hpp>

#include <asio/executor_work_guard.hpp>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "gateway/station/acceptor.hpp"
#include "gateway/station/transport.hpp"

namespace {

using gateway::station::Acceptor;
using gateway::station::WsServer;
using namespace std::chrono_literals;

/// One station port whose accept loop may run on either of two threads, closed from a third.
/// Its connections run on a context of their own with one thread, as each connection of the
/// gateway does (websocketpp runs without strands: a connection's handlers need one thread).
struct Port {
    // Declared first, destroyed last: handlers left in `io` hold connections whose sockets
    // belong to this context.
    asio::io_context connections{1};
    asio::executor_work_guard<asio::io_context::executor_type> connections_work{connections.get_executor()};
    std::thread connections_thread;
    asio::io_context io;
    asio::executor_work_guard<asio::io_context::executor_type> work{io.get_executor()};
    WsServer server;
    std::optional<Acceptor<WsServer>> acceptor;
    std::vector<std::thread> threads;

    std::mutex mutex;
    std::condition_variable changed;
    int accepted = 0;

    Port() {
        server.init_asio(&io);
        server.set_contexts({&connections});
        connections_thread = std::thread([this] { connections.run(); });
        server.set_tcp_pre_init_handler([this](websocketpp::connection_hdl) {
            std::lock_guard lock(mutex);
            ++accepted;
            changed.notify_all();
        });
        acceptor.emplace(io, server);
    }

    ~Port() {
        work.reset();
        io.stop();
        for (auto& t : threads) {
            t.join();
        }
        connections_work.reset();
        connections.stop();
        connections_thread.join();
    }

    void run(int n) {
        for (int i = 0; i < n; ++i) {
            threads.emplace_back([this] { io.run(); });
        }
    }

    bool wait_accepted(int n) {
        std::unique_lock lock(mutex);
        return changed.wait_for(lock, 10s, [&] { return accepted >= n; });
    }
};

/// One connection attempt, ended with a reset: a normal close would leave the client's
/// ephemeral port in TIME_WAIT for a minute, and thousands of those can take the port another
/// test's broker is about to bind.
std::error_code connect_once(const asio::ip::tcp::endpoint& to) {
    asio::io_context io;
    asio::ip::tcp::socket socket(io);
    std::error_code ec;
    socket.connect(to, ec);
    if (!ec) {
        std::error_code ignored;
        socket.set_option(asio::socket_base::linger(true, 0), ignored);
        socket.close(ignored);  // explicitly: asio's destructor turns the linger setting off
    }
    return ec;
}

constexpr int kConnectionsPerRound = 50;  // bounded: a few thousand sockets over the test

}  // namespace

TEST_CASE("the station port closes while connections keep arriving on both I/O threads", "[station]") {
    // The start of a drain closes the port from the main thread while the accept loop runs on
    // the I/O threads; run it many times so that a race between the two cannot hide (the
    // sanitizer builds run this test too).
    for (int round = 0; round < 20; ++round) {
        Port port;
        port.acceptor->listen(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0),
                              1024, "127.0.0.1:0");
        const auto at = port.acceptor->local_endpoint();
        REQUIRE(at.port() != 0);
        port.run(2);

        std::thread client([&] {  // still connecting while the port closes
            for (int i = 0; i < kConnectionsPerRound; ++i) {
                if (connect_once(at) == asio::error::connection_refused) {
                    return;
                }
            }
        });
        REQUIRE(port.wait_accepted(5));
        port.acceptor->stop();
        // Closed means closed: the next connection attempt is refused by the kernel.
        CHECK(connect_once(at) == asio::error::connection_refused);
        client.join();
    }
}

TEST_CASE("a station port already in use is refused with the address and the reason", "[station]") {
    Port first;
    first.acceptor->listen(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0), 64,
                           "127.0.0.1:0");
    const auto at = first.acceptor->local_endpoint();
    Port second;
    const std::string where = "127.0.0.1:" + std::to_string(at.port());
    CHECK_THROWS_WITH(second.acceptor->listen(at, 64, where),
                      Catch::Contains("cannot listen on " + where + ": ") &&
                          Catch::Contains("in use"));
}

TEST_CASE("connections are dealt out to the I/O threads' own contexts in turn and stay there", "[station]") {
    // The gateway runs one io_context per I/O thread: the accept loop lives on the first, each
    // connection on the context it was given, so its handlers all run on one thread.
    asio::io_context first(1);
    asio::io_context second(1);
    auto work_first = asio::make_work_guard(first);
    auto work_second = asio::make_work_guard(second);
    WsServer server;
    server.init_asio(&first);
    server.set_contexts({&first, &second});

    std::mutex mutex;
    std::condition_variable changed;
    std::vector<const asio::io_context*> contexts;   // of each connection, in accept order
    std::vector<std::thread::id> threads;            // where its first handler ran
    server.set_tcp_pre_init_handler([&](websocketpp::connection_hdl hdl) {
        auto con = server.get_con_from_hdl(hdl);
        std::lock_guard lock(mutex);
        contexts.push_back(&con->context());
        threads.push_back(std::this_thread::get_id());
        changed.notify_all();
    });
    Acceptor<WsServer> acceptor(first, server);
    acceptor.listen(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0), 64, "127.0.0.1:0");
    std::thread first_thread([&] { first.run(); });
    std::thread second_thread([&] { second.run(); });
    const auto first_id = first_thread.get_id();
    const auto second_id = second_thread.get_id();

    constexpr int kConnections = 10;
    for (int i = 0; i < kConnections; ++i) {
        REQUIRE_FALSE(connect_once(acceptor.local_endpoint()));
        std::unique_lock lock(mutex);  // one at a time: the order of accepts is the order here
        REQUIRE(changed.wait_for(lock, 10s, [&] { return static_cast<int>(contexts.size()) > i; }));
    }
    acceptor.stop();
    work_first.reset();
    work_second.reset();
    first.stop();
    second.stop();
    first_thread.join();
    second_thread.join();

    for (int i = 0; i < kConnections; ++i) {
        INFO("connection " << i);
        const bool even = i % 2 == 0;
        CHECK(contexts[i] == (even ? &first : &second));
        CHECK(threads[i] == (even ? first_id : second_id));
    }
}
