#include "gateway/log/log.hpp"

#include <pthread.h>

#include <cstdio>
#include <mutex>
#include <string>

#include "kafka_bridge/envelope.hpp"

namespace gateway::log {
namespace {

std::atomic<Level> g_level{Level::info};
std::mutex g_mutex;

constexpr std::string_view kNames[] = {"DEBUG", "INFO", "WARN", "ERROR"};

}  // namespace

void set_level(std::string_view name) {
    if (name == "debug") {
        g_level = Level::debug;
    } else if (name == "warn") {
        g_level = Level::warn;
    } else if (name == "error") {
        g_level = Level::error;
    } else {
        g_level = Level::info;
    }
}

bool enabled(Level level) { return level >= g_level.load(std::memory_order_relaxed); }

void name_thread(std::string_view name) {
    const std::string kept(name.substr(0, 15));
    pthread_setname_np(pthread_self(), kept.c_str());
}

void write(Level level, std::string_view message) {
    const std::string line = fmt::format("{} {:5} {}\n", kafka_bridge::now_rfc3339(),
                                         kNames[static_cast<int>(level)], message);
    std::lock_guard<std::mutex> lock(g_mutex);
    std::fwrite(line.data(), 1, line.size(), stderr);
    std::fflush(stderr);
}

std::optional<std::string> ThrottledWarning::due(std::chrono::steady_clock::time_point now) {
    if (last_ != std::chrono::steady_clock::time_point{} && now - last_ < std::chrono::minutes(1)) {
        ++left_out_;
        return std::nullopt;
    }
    std::string note = left_out_ == 0 ? std::string() : fmt::format(" ({} more since the last warning)", left_out_);
    last_ = now;
    left_out_ = 0;
    return note;
}

}  // namespace gateway::log
