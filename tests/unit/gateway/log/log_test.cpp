#include <catch2/catch.hpp>

#include <pthread.h>

#include <string>
#include <thread>

#include "gateway/log/log.hpp"

namespace {

/// The calling thread's name; "(unreadable)" if the system cannot say (Catch2 assertions
/// belong on the test's own thread).
std::string name_of_this_thread() {
    char name[32] = {};
    if (pthread_getname_np(pthread_self(), name, sizeof(name)) != 0) {
        return "(unreadable)";
    }
    return name;
}

}  // namespace

TEST_CASE("a thread is named where operators look, cut to the 15 characters Linux keeps", "[log]") {
    std::string short_name;
    std::string long_name;
    std::thread([&] {
        gateway::log::name_thread("ocpp-io-1");
        short_name = name_of_this_thread();
        gateway::log::name_thread("ocpp-a-much-longer-name");
        long_name = name_of_this_thread();
    }).join();
    CHECK(short_name == "ocpp-io-1");
    CHECK(long_name == "ocpp-a-much-lon");
}
