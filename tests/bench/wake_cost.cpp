// What waking a sleeping thread costs the thread woken, in its own CPU time: one thread writes
// a byte to a pipe every GAP µs, another (pinned to core 1) blocks reading it. With a gap the
// reader sleeps before every byte and pays for being switched in; without one it never sleeps.
// The writer runs on the reader's core or on core 0, as a station's frame or a broker's answer
// arrives from the core that sent it. docs/benchmarks.md "Where the CPU goes, in every run".
//
//   wake_cost [ROUNDS]   (default 20000; needs two cores)
#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <thread>

namespace {

bool pin_to(int core) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(core, &set);
    return pthread_setaffinity_np(pthread_self(), sizeof(set), &set) == 0;
}

double thread_cpu_seconds() {
    timespec now{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
    return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) * 1e-9;
}

long context_switches() {
    rusage usage{};
    getrusage(RUSAGE_THREAD, &usage);
    return usage.ru_nvcsw + usage.ru_nivcsw;
}

struct Result {
    double cpu_us_per_wake;
    double switches_per_wake;
};

// One run: `rounds` bytes, `gap_us` apart, written from `writer_core`, read on core 1.
bool measure(int rounds, int gap_us, int writer_core, Result& result) {
    std::array<int, 2> fds{};
    if (pipe(fds.data()) != 0 || !pin_to(1)) {
        return false;
    }
    bool written = true;
    const double cpu_before = thread_cpu_seconds();
    const long switches_before = context_switches();
    std::thread writer([&] {
        written = pin_to(writer_core);
        const char byte = 1;
        for (int i = 0; written && i < rounds; ++i) {
            if (gap_us > 0) {
                usleep(static_cast<useconds_t>(gap_us));
            }
            written = write(fds[1], &byte, 1) == 1;
        }
        close(fds[1]);
    });
    char byte = 0;
    int read_count = 0;
    while (read(fds[0], &byte, 1) == 1) {
        ++read_count;
    }
    const double cpu = thread_cpu_seconds() - cpu_before;
    const long switches = context_switches() - switches_before;
    writer.join();
    close(fds[0]);
    if (!written || read_count != rounds) {
        return false;
    }
    result = {cpu * 1e6 / rounds, static_cast<double>(switches) / rounds};
    return true;
}

}  // namespace

int main(int argc, char** argv) {
    const int rounds = argc > 1 ? std::atoi(argv[1]) : 20000;
    if (rounds < 1 || std::thread::hardware_concurrency() < 2) {
        std::fprintf(stderr, "usage: wake_cost [ROUNDS >= 1], on a machine with two cores or more\n");
        return 2;
    }
    std::printf("| gap between bytes | writer on | reader CPU µs per byte | reader switches per byte |\n");
    std::printf("|---|---|---|---|\n");
    for (const int gap_us : {0, 500}) {
        for (const int writer_core : {1, 0}) {
            Result result{};
            if (!measure(rounds, gap_us, writer_core, result)) {
                std::fprintf(stderr, "wake_cost: the run with gap %d µs and writer on core %d failed\n",
                             gap_us, writer_core);
                return 1;
            }
            std::printf("| %d µs | core %d%s | %.2f | %.2f |\n", gap_us, writer_core,
                        writer_core == 1 ? " (the reader's)" : " (the other)",
                        result.cpu_us_per_wake, result.switches_per_wake);
        }
    }
    return 0;
}
