// --processes N: N child processes, forked before any thread exists, each running every N-th
// station (run_slice). Each child reports over a pipe: one byte when its ramp-up is over,
// then its report with every sample as JSON. The parent answers the byte with the moment
// every child starts its next phase, once all of them are there, and merges the reports.
#include <poll.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <chrono>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tools/loadgen/run.hpp"
#include "tools/loadgen/tls.hpp"

namespace loadgen {

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr char kRampedUp = 'R';
// From the last child's ramp-up to the common start: time for the parent to tell them all.
constexpr auto kStartMargin = 50ms;

bool write_all(int fd, const void* data, std::size_t size) {
    const auto* p = static_cast<const char*>(data);
    while (size > 0) {
        const ssize_t n = ::write(fd, p, size);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return false;
        }
        p += n;
        size -= static_cast<std::size_t>(n);
    }
    return true;
}

bool read_all(int fd, void* data, std::size_t size) {
    auto* p = static_cast<char*>(data);
    while (size > 0) {
        const ssize_t n = ::read(fd, p, size);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return false;
        }
        p += n;
        size -= static_cast<std::size_t>(n);
    }
    return true;
}

/// The child's side of the phase barrier. steady_clock is CLOCK_MONOTONIC, one clock for
/// every process of the machine, so a time point can cross the pipe as a count.
class ChildSync final : public PhaseSync {
public:
    ChildSync(int up, int down) : up_(up), down_(down) {}

    Clock::time_point ramped_up() override {
        std::int64_t ns = 0;
        if (!write_all(up_, &kRampedUp, 1) || !read_all(down_, &ns, sizeof ns)) {
            return Clock::now();  // the parent is gone; finish alone
        }
        return Clock::time_point(std::chrono::duration_cast<Clock::duration>(
            std::chrono::nanoseconds(ns)));
    }

private:
    int up_;
    int down_;
};

struct Child {
    pid_t pid = -1;
    int up = -1;    ///< parent reads
    int down = -1;  ///< parent writes
    bool ramped = false;
    bool done = false;  ///< end of file on `up`
    std::string report;
};

[[noreturn]] void run_child(const Options& o, const std::vector<Target>& targets, unsigned k, int up,
                            int down) {
    Options mine = o;
    mine.process_index = k;
    ChildSync sync(up, down);
    int status = 0;
    try {
        const Report r = run_slice(mine, targets, &sync, status);
        const std::string text = raw_report(r).dump();
        if (!write_all(up, text.data(), text.size())) {
            status = 1;
        }
    } catch (const std::exception& e) {
        fmt::print(stderr, "ocpp-loadgen: process {}: {}\n", k, e.what());
        status = 1;
    }
    std::fflush(stdout);
    std::fflush(stderr);
    std::_Exit(status);
}

}  // namespace

int run_processes(const Options& o, const std::vector<Target>& targets) {
    if (targets.front().tls) {
        // Checked once here rather than failing in every child.
        if (auto setup = TlsClientSetup::create(o); !setup) {
            fmt::print(stderr, "ocpp-loadgen: {}\n", setup.error());
            return 2;
        }
    }
    std::fflush(stdout);
    std::fflush(stderr);
    std::vector<Child> children(o.processes);
    for (unsigned k = 0; k < o.processes; ++k) {
        int up[2];
        int down[2];
        if (::pipe(up) != 0 || ::pipe(down) != 0) {
            fmt::print(stderr, "ocpp-loadgen: pipe: {}\n", std::strerror(errno));
            return 1;
        }
        const pid_t pid = ::fork();
        if (pid < 0) {
            fmt::print(stderr, "ocpp-loadgen: fork: {}\n", std::strerror(errno));
            return 1;
        }
        if (pid == 0) {
            for (unsigned e = 0; e < k; ++e) {
                ::close(children[e].up);
                ::close(children[e].down);
            }
            ::close(up[0]);
            ::close(down[1]);
            run_child(o, targets, k, up[1], down[0]);
        }
        ::close(up[1]);
        ::close(down[0]);
        children[k].pid = pid;
        children[k].up = up[0];
        children[k].down = down[1];
    }

    // Read every child to its end; when all are past the ramp-up (or gone), start them.
    bool started = false;
    std::size_t open = children.size();
    char buf[65536];
    while (open > 0) {
        std::vector<pollfd> fds;
        std::vector<Child*> who;
        for (auto& c : children) {
            if (!c.done) {
                fds.push_back({c.up, POLLIN, 0});
                who.push_back(&c);
            }
        }
        if (::poll(fds.data(), fds.size(), -1) < 0) {
            if (errno == EINTR) {
                continue;
            }
            fmt::print(stderr, "ocpp-loadgen: poll: {}\n", std::strerror(errno));
            break;
        }
        for (std::size_t i = 0; i < fds.size(); ++i) {
            if (fds[i].revents == 0) {
                continue;
            }
            Child& c = *who[i];
            const ssize_t n = ::read(c.up, buf, sizeof buf);
            if (n < 0 && errno == EINTR) {
                continue;
            }
            if (n <= 0) {
                c.done = true;
                --open;
                continue;
            }
            std::size_t from = 0;
            if (!c.ramped) {
                c.ramped = buf[0] == kRampedUp;
                from = 1;
            }
            c.report.append(buf + from, static_cast<std::size_t>(n) - from);
        }
        bool all_there = true;
        for (const auto& c : children) {
            all_there = all_there && (c.ramped || c.done);
        }
        if (!started && all_there) {
            started = true;
            const std::int64_t at = std::chrono::duration_cast<std::chrono::nanoseconds>(
                                        (Clock::now() + kStartMargin).time_since_epoch())
                                        .count();
            for (auto& c : children) {
                if (!c.done) {
                    (void)write_all(c.down, &at, sizeof at);
                }
            }
        }
    }

    Report r;
    r.options = o;
    r.window_s = o.duration_s;
    count_versions(r);
    int status = 0;
    bool any_ready = false;
    for (unsigned k = 0; k < o.processes; ++k) {
        Child& c = children[k];
        ::close(c.up);
        ::close(c.down);
        int wstatus = 0;
        while (::waitpid(c.pid, &wstatus, 0) < 0 && errno == EINTR) {
        }
        if (WIFSIGNALED(wstatus)) {
            fmt::print(stderr, "ocpp-loadgen: process {} ended by signal {}; its stations are "
                               "missing from the report\n",
                       k, WTERMSIG(wstatus));
            status = 1;
            continue;
        }
        const int code = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 1;
        try {
            merge_raw(r, nlohmann::json::parse(c.report));
        } catch (const nlohmann::json::exception& e) {
            fmt::print(stderr, "ocpp-loadgen: process {} (exit status {}) sent no readable "
                               "report ({}); its stations are missing from the report\n",
                       k, code, e.what());
            status = 1;
            continue;
        }
        any_ready = any_ready || code == 0;
    }
    if (!any_ready) {
        status = 1;
    }
    print_report(r);
    return status;
}

}  // namespace loadgen
