#include "tools/loadgen/run.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "tools/loadgen/ports.hpp"
#include "tools/loadgen/report.hpp"
#include "tools/loadgen/tls.hpp"
#include "tools/loadgen/worker.hpp"

namespace loadgen {

namespace {

using namespace std::chrono_literals;

// Descriptors beyond one per station: stdio, timers, epoll, a margin.
constexpr rlim_t kSpareDescriptors = 256;

void raise_descriptor_limit(std::size_t stations) {
    rlimit lim{};
    if (getrlimit(RLIMIT_NOFILE, &lim) != 0) {
        return;
    }
    const rlim_t want = static_cast<rlim_t>(stations) + kSpareDescriptors;
    if (lim.rlim_cur >= want) {
        return;
    }
    const rlim_t old = lim.rlim_cur;
    lim.rlim_cur = lim.rlim_max == RLIM_INFINITY ? want : std::min(want, lim.rlim_max);
    if (setrlimit(RLIMIT_NOFILE, &lim) != 0 || lim.rlim_cur < want) {
        fmt::print(stderr,
                   "ocpp-loadgen: warning: open-file limit {} (hard {}) is below the {} "
                   "descriptors {} stations need; raise it with ulimit -n\n",
                   old, lim.rlim_max, want, stations);
    }
}

Clock::duration seconds(double s) {
    return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
}

double seconds_between(Clock::time_point a, Clock::time_point b) {
    return std::chrono::duration<double>(b - a).count();
}

}  // namespace

std::size_t stations_of_process(const Options& o) {
    // Station g belongs to thread g % (processes * threads) of the run, numbered process by
    // process (worker.cpp).
    const std::size_t per_round = std::size_t{o.processes} * o.threads;
    const std::size_t first = std::size_t{o.process_index} * o.threads;
    const std::size_t rest = o.stations % per_round;
    const std::size_t extra = rest > first ? std::min<std::size_t>(rest - first, o.threads) : 0;
    return o.stations / per_round * o.threads + extra;
}

Report run_slice(const Options& o, const std::vector<Target>& targets, PhaseSync* sync, int& status) {
    const std::size_t mine = stations_of_process(o);
    raise_descriptor_limit(mine);
    std::FILE* info = o.json ? stderr : stdout;
    // With --processes, process 0 speaks for all.
    const bool chatty = o.process_index == 0;
    if (const auto range = chatty ? local_port_range() : std::nullopt) {
        if (auto crowded = crowded_ports_warning(o.stations, targets.size(),
                                                 o.source_addresses.size(), *range)) {
            fmt::print(stderr, "ocpp-loadgen: warning: {}\n", *crowded);
        }
    }

    std::optional<TlsClientSetup> tls;
    if (targets.front().tls) {
        auto setup = TlsClientSetup::create(o);
        if (!setup) {
            fmt::print(stderr, "ocpp-loadgen: {}\n", setup.error());
            status = 2;
            return Report{};
        }
        tls.emplace(std::move(setup).value());
    }
    Shared shared;
    std::vector<std::unique_ptr<WorkerBase>> workers;
    for (unsigned k = 0; k < o.threads; ++k) {
        if (tls) {
            workers.push_back(std::make_unique<Worker<TlsConfig>>(o, targets, &*tls, k, shared));
        } else {
            workers.push_back(std::make_unique<Worker<PlainConfig>>(o, targets, nullptr, k, shared));
        }
    }
    std::vector<std::thread> threads;
    for (auto& w : workers) {
        threads.emplace_back([&w] { w->run(); });
    }

    // Ramp-up: connect and boot every station.
    const auto ramp_start = Clock::now() + 5ms;
    for (auto& w : workers) {
        w->start_connecting(ramp_start);
    }
    const auto ramp_deadline =
        ramp_start + seconds(static_cast<double>(o.stations) / o.connect_rate) + 25s + o.timeout +
        seconds(15.0 * o.connect_retries);
    auto next_progress = Clock::now() + 2s;
    while (shared.settled.load() < mine && Clock::now() < ramp_deadline) {
        std::this_thread::sleep_for(10ms);
        if (chatty && Clock::now() >= next_progress) {
            next_progress += 2s;
            fmt::print(stderr, "ramp-up: {} of {} stations settled, {} booted, {} connections open{}\n",
                       shared.settled.load(), mine, shared.ready.load(), shared.open.load(),
                       o.processes > 1 ? " (process 0)" : "");
        }
    }
    const double ramp_s = seconds_between(ramp_start, Clock::now());
    if (shared.settled.load() < mine) {
        fmt::print(stderr, "ocpp-loadgen: ramp-up did not finish: {} of {} stations settled\n",
                   shared.settled.load(), mine);
    }
    // Every process starts the next phase at the same moment.
    const auto phase_start = sync != nullptr ? sync->ramped_up() : Clock::now() + 20ms;

    const std::size_t ready = shared.ready.load();
    Clock::time_point drop_time{};
    if (ready == 0) {
        fmt::print(stderr, "ocpp-loadgen: no station could connect and boot\n");
        status = 1;
    } else if (o.idle) {
        if (chatty) {
            fmt::print(info,
                       "all stations connected: {} of {} connected and booted in {:.2f} s; "
                       "holding idle for {} s{}\n",
                       ready, mine, ramp_s, o.duration_s,
                       o.processes > 1 ? " (process 0)" : "");
            std::fflush(info);
        }
        std::this_thread::sleep_until(phase_start);
        const auto until = phase_start + seconds(o.duration_s);
        while (Clock::now() < until) {
            std::this_thread::sleep_for(std::min<Clock::duration>(100ms, until - Clock::now()));
        }
        if (chatty) {
            fmt::print(info, "idle hold over: {} connections still open{}\n", shared.open.load(),
                       o.processes > 1 ? " (process 0)" : "");
        }
    } else if (o.storm) {
        // Settle for the warm-up, then every connection drops at the same moment and the
        // stations come back at --connect-rate, as after a power cut or a network outage.
        drop_time = phase_start + seconds(o.warmup_s);
        std::this_thread::sleep_until(drop_time);
        if (chatty) {
            fmt::print(info, "storm: dropping {} connections; reconnecting at {:.0f}/s{}\n",
                       shared.open.load(), o.connect_rate, o.processes > 1 ? " (process 0)" : "");
            std::fflush(info);
        }
        for (auto& w : workers) {
            w->drop_and_reconnect(drop_time);
        }
        const auto storm_deadline = drop_time +
                                    seconds(static_cast<double>(o.stations) / o.connect_rate) +
                                    25s + 2 * o.timeout + seconds(15.0 * o.connect_retries);
        auto next = Clock::now() + 2s;
        while (shared.storm_done.load() < mine && Clock::now() < storm_deadline) {
            std::this_thread::sleep_for(10ms);
            if (chatty && Clock::now() >= next) {
                next += 2s;
                fmt::print(stderr, "storm: {} of {} stations back, {} connections open{}\n",
                           shared.storm_done.load(), mine, shared.open.load(),
                           o.processes > 1 ? " (process 0)" : "");
            }
        }
        if (shared.storm_done.load() < mine) {
            fmt::print(stderr, "ocpp-loadgen: the storm's way back did not finish: {} of {} "
                               "stations done\n",
                       shared.storm_done.load(), mine);
        }
    } else {
        const auto t0 = phase_start;
        for (auto& w : workers) {
            w->start_traffic(t0);
        }
        if (chatty) {
            // A mark for scripts measuring the target during the traffic only.
            std::this_thread::sleep_until(t0);
            fmt::print(stderr, "traffic: {:.0f} CALLs/s from {} stations{}\n", o.rate,
                       shared.ready.load(), o.processes > 1 ? " (process 0's count)" : "");
        }
        // Every measured CALL is answered or times out by window end + timeout.
        const auto hard_end = t0 + seconds(o.warmup_s + o.duration_s) + o.timeout + 5s;
        while (shared.finished.load() < o.threads && Clock::now() < hard_end) {
            std::this_thread::sleep_for(10ms);
        }
    }

    for (auto& w : workers) {
        w->close_all();
    }
    const auto close_deadline = Clock::now() + 5s;
    while (shared.open.load() > 0 && Clock::now() < close_deadline) {
        std::this_thread::sleep_for(10ms);
    }
    for (auto& w : workers) {
        w->stop();
    }
    for (auto& t : threads) {
        t.join();
    }

    Report r;
    r.options = o;
    count_versions(r);
    r.ramp_up_s = ramp_s;
    r.window_s = o.duration_s;
    r.traffic = ready > 0 && !o.idle && !o.storm;
    r.storm = ready > 0 && o.storm;
    for (auto& w : workers) {
        r.connections.merge(w->connections());
        r.calls.merge(std::move(w->calls()));
        r.oddities.merge(w->oddities());
        r.storm_stats.merge(std::move(w->storm()));
    }
    if (r.storm && r.storm_stats.booted > 0) {
        r.storm_all_booted_s = seconds_between(drop_time, r.storm_stats.last_booted);
    }
    workers.clear();
    return r;
}

int run_load(const Options& o, const std::vector<Target>& targets) {
    if (o.processes > 1) {
        return run_processes(o, targets);
    }
    int status = 0;
    Report r = run_slice(o, targets, nullptr, status);
    if (status != 2) {
        print_report(r);
    }
    return status;
}

}  // namespace loadgen
