#include <catch2/catch.hpp>

#include <cstddef>
#include <cstdlib>
#include <filesystem>
#include <string>

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "gateway/app/systemd_notify.hpp"

namespace {

/// A service manager's end: a unix datagram socket bound to `name` (an abstract one when it
/// starts with '@'), and $NOTIFY_SOCKET naming it for as long as it lives.
struct ServiceManager {
    int fd = -1;
    std::string name;

    explicit ServiceManager(std::string socket_name) : name(std::move(socket_name)) {
        fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        REQUIRE(fd >= 0);
        sockaddr_un address{};
        address.sun_family = AF_UNIX;
        name.copy(address.sun_path, name.size());
        if (name[0] == '@') {
            address.sun_path[0] = '\0';
        }
        REQUIRE(::bind(fd, reinterpret_cast<const sockaddr*>(&address),
                       static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size())) == 0);
        ::setenv("NOTIFY_SOCKET", name.c_str(), 1);
    }

    ~ServiceManager() {
        ::unsetenv("NOTIFY_SOCKET");
        ::close(fd);
        if (name[0] == '/') {
            std::filesystem::remove(name);
        }
    }

    /// The next datagram (the sender has already sent it: sendto returned).
    std::string received() const {
        char buffer[512] = {};
        const ssize_t n = ::recv(fd, buffer, sizeof(buffer), MSG_DONTWAIT);
        REQUIRE(n >= 0);
        return {buffer, static_cast<std::size_t>(n)};
    }
};

}  // namespace

TEST_CASE("the service manager hears READY and STOPPING on its notify socket", "[app]") {
    using gateway::app::notify_service_manager;
    const std::string pid = std::to_string(::getpid());
    for (const std::string& name : {std::filesystem::temp_directory_path().string() + "/notify-" + pid + ".sock",
                                    "@ocpp-gateway-notify-test-" + pid}) {
        INFO(name);
        ServiceManager manager(name);
        CHECK(notify_service_manager("READY=1\nSTATUS=serving").empty());
        CHECK(manager.received() == "READY=1\nSTATUS=serving");
        CHECK(notify_service_manager("STOPPING=1").empty());
        CHECK(manager.received() == "STOPPING=1");
    }
}

TEST_CASE("without a notify socket nothing is told, a broken one is said in words", "[app]") {
    using gateway::app::notify_service_manager;
    ::unsetenv("NOTIFY_SOCKET");
    CHECK(notify_service_manager("READY=1").empty());
    ::setenv("NOTIFY_SOCKET", "relative/path", 1);
    CHECK_THAT(notify_service_manager("READY=1"), Catch::Contains("not a usable socket path"));
    ::setenv("NOTIFY_SOCKET", "/nonexistent-dir/notify.sock", 1);
    CHECK_THAT(notify_service_manager("READY=1"), Catch::Contains("cannot notify the service manager"));
    ::unsetenv("NOTIFY_SOCKET");
}
