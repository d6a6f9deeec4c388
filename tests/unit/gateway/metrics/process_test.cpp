#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "gateway/metrics/process.hpp"

using gateway::metrics::ProcessStats;
using gateway::metrics::read_process_stats;
using gateway::metrics::render_process;

TEST_CASE("the process's own figures are read from /proc", "[metrics]") {
    const auto before = read_process_stats();
    REQUIRE(before);
    // Three descriptors more while they are open, as many fewer once they are closed.
    std::vector<int> fds;
    for (int i = 0; i < 3; ++i) {
        fds.push_back(::open("/dev/null", O_RDONLY | O_CLOEXEC));
        REQUIRE(fds.back() >= 0);
    }
    const auto opened = read_process_stats();
    for (const int fd : fds) {
        ::close(fd);
    }
    const auto closed = read_process_stats();
    REQUIRE(opened);
    REQUIRE(closed);
    CHECK(opened->open_fds == before->open_fds + 3);
    CHECK(closed->open_fds == before->open_fds);

    // 64 MiB written stays resident while it is held.
    std::vector<char> block(64u << 20, 1);
    const auto holding = read_process_stats();
    REQUIRE(holding);
    CHECK(holding->resident_bytes >= before->resident_bytes + 60.0 * (1 << 20));
    CHECK(holding->virtual_bytes >= holding->resident_bytes);

    // CPU time only grows; 50 ms of work is counted (ticks are 10 ms). The work is measured
    // on the process's own CPU clock: on a busy machine 50 ms of wall time may hold far less.
    const auto cpu_ms = [] {
        timespec t{};
        ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
        return t.tv_sec * 1000.0 + t.tv_nsec / 1e6;
    };
    const double until = cpu_ms() + 50;
    volatile unsigned spin = 0;
    while (cpu_ms() < until) {
        spin = spin + 1;
    }
    const auto worked = read_process_stats();
    REQUIRE(worked);
    CHECK(worked->cpu_seconds >= before->cpu_seconds + 0.03);

    rlimit limit{};
    REQUIRE(::getrlimit(RLIMIT_NOFILE, &limit) == 0);
    if (limit.rlim_cur == RLIM_INFINITY) {
        CHECK_FALSE(before->max_fds);
    } else {
        CHECK(before->max_fds == static_cast<double>(limit.rlim_cur));
    }
    CHECK(before->threads >= 1);
    // Started in the past, after the year 2020.
    const double now = std::chrono::duration<double>(
                           std::chrono::system_clock::now().time_since_epoch()).count();
    CHECK(before->start_time_seconds <= now + 1);
    CHECK(before->start_time_seconds > 1577836800.0);
}

TEST_CASE("process figures are exported under Prometheus's standard names", "[metrics]") {
    ProcessStats s;
    s.cpu_seconds = 12.5;
    s.resident_bytes = 1048576;
    s.virtual_bytes = 2097152;
    s.start_time_seconds = 1764806400;
    s.threads = 9;
    s.open_fds = 10003;
    s.max_fds = 20000;
    const std::string text = render_process(s);
    CHECK_THAT(text, Catch::Contains("# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total 12.5\n"));
    CHECK_THAT(text, Catch::Contains("# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes 1048576\n"));
    CHECK_THAT(text, Catch::Contains("process_virtual_memory_bytes 2097152\n"));
    CHECK_THAT(text, Catch::Contains("process_start_time_seconds 1764806400\n"));
    CHECK_THAT(text, Catch::Contains("process_threads 9\n"));
    CHECK_THAT(text, Catch::Contains("process_open_fds 10003\n"));
    CHECK_THAT(text, Catch::Contains("# TYPE process_max_fds gauge\nprocess_max_fds 20000\n"));
    // An unlimited soft limit is not a number to export.
    s.max_fds.reset();
    CHECK_THAT(render_process(s), !Catch::Contains("process_max_fds"));
}

TEST_CASE("the boot time from the clocks is /proc/stat's, where a service sees no /proc/stat", "[metrics]") {
    std::ifstream in("/proc/stat");
    std::optional<double> btime;
    for (std::string line; std::getline(in, line);) {
        if (line.rfind("btime ", 0) == 0) {
            btime = std::stod(line.substr(6));
        }
    }
    REQUIRE(btime);  // this test runs without systemd's ProcSubset=pid
    const auto by_clock = gateway::metrics::boot_time_by_clock();
    REQUIRE(by_clock);
    // btime is whole seconds; NTP slewing since boot moves the clocks' difference a little.
    CHECK(std::abs(*by_clock - *btime) < 5.0);
}
