#include <catch2/catch.hpp>

#include <asio/executor_work_guard.hpp>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "gateway/config/config.hpp"
#include "gateway/station/acceptor.hpp"
#include "gateway/station/transport.hpp"

namespace {

using gateway::station::Acceptor;
using gateway::station::ProxySettings;
using gateway::station::WsServer;
using namespace std::chrono_literals;

/// What the client's side of a connection looks like at one moment, read without waiting.
std::string client_side(asio::ip::tcp::socket& client) {
    client.non_blocking(true);
    char byte = 0;
    std::error_code ec;
    client.read_some(asio::buffer(&byte, 1), ec);
    if (ec == asio::error::would_block) {
        return "open";
    }
    return ec ? ec.message() : "data";
}

}  // namespace

TEST_CASE("a trusted proxy's connection refused for its header is counted before it closes", "[station]") {
    // Whoever sees the connection end (a proxy, a test) may read the refusal count next: the
    // count must already be there. The hook looks at the client's end while it runs.
    struct Port {
        asio::io_context io{1};
        asio::executor_work_guard<asio::io_context::executor_type> work{io.get_executor()};
        WsServer server;
        std::optional<Acceptor<WsServer>> acceptor;
        std::thread thread;

        explicit Port(std::shared_ptr<const ProxySettings> proxy) {
            server.clear_access_channels(websocketpp::log::alevel::all);
            server.clear_error_channels(websocketpp::log::elevel::all);
            server.init_asio(&io);
            server.set_contexts({&io});
            server.set_proxy_settings(std::move(proxy));
            acceptor.emplace(io, server);
            acceptor->listen(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0), 16,
                             "127.0.0.1:0");
            thread = std::thread([this] { io.run(); });
        }
        ~Port() {  // also when a check below throws: no thread is left running
            acceptor->stop();
            work.reset();
            io.stop();
            thread.join();
        }
    };

    asio::io_context client_io;
    asio::ip::tcp::socket client(client_io);
    std::mutex mutex;
    std::condition_variable changed;
    std::string seen;  // the client's end, as the hook saw it
    std::string problem;

    auto proxy = std::make_shared<ProxySettings>();
    proxy->trusted = {*gateway::config::parse_network("127.0.0.1")};
    proxy->timeout = 200ms;
    proxy->refused = [&](const std::string&, const std::string& what) {
        std::lock_guard lock(mutex);
        seen = client_side(client);
        problem = what;
        changed.notify_all();
    };
    Port port(proxy);

    std::string expected;
    {
        std::lock_guard lock(mutex);  // the hook waits until the client is connected
        client.connect(port.acceptor->local_endpoint());
        SECTION("an HTTP request where the header belongs") {
            asio::write(client, asio::buffer(std::string("GET /ocpp/CS1 HTTP/1.1\r\nHost: x\r\n\r\n")));
            expected = "no PROXY header from a trusted proxy";
        }
        SECTION("nothing within the timeout") {
            expected = "no whole PROXY header in time";
        }
    }
    std::unique_lock lock(mutex);
    REQUIRE(changed.wait_for(lock, 10s, [&] { return !problem.empty(); }));
    CHECK(problem == expected);
    CHECK(seen == "open");
    // Then closed: looked at again until the end shows, for at most 10 s.
    std::string after = client_side(client);
    for (const auto deadline = std::chrono::steady_clock::now() + 10s;
         after == "open" && std::chrono::steady_clock::now() < deadline; after = client_side(client)) {
        std::this_thread::sleep_for(10ms);
    }
    CHECK((after == asio::error::make_error_code(asio::error::eof).message() ||
           after == asio::error::make_error_code(asio::error::connection_reset).message()));
}
