#include "ocpp/rfc3339.hpp"

namespace ocpp {
namespace {

bool digits(std::string_view s, std::size_t pos, std::size_t count, int& out) {
    if (pos + count > s.size()) {
        return false;
    }
    int value = 0;
    for (std::size_t i = pos; i < pos + count; ++i) {
        if (s[i] < '0' || s[i] > '9') {
            return false;
        }
        value = value * 10 + (s[i] - '0');
    }
    out = value;
    return true;
}

bool is_leap(int year) { return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0; }

int days_in_month(int year, int month) {
    static constexpr int kDays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return month == 2 && is_leap(year) ? 29 : kDays[month - 1];
}

}  // namespace

bool is_rfc3339_date_time(std::string_view s) {
    // 0123456789012345678
    // YYYY-MM-DDTHH:MM:SS
    int year = 0;
    int month = 0;
    int day = 0;
    int hour = 0;
    int minute = 0;
    int second = 0;
    if (!digits(s, 0, 4, year) || s.size() < 20 || s[4] != '-' || !digits(s, 5, 2, month) ||
        s[7] != '-' || !digits(s, 8, 2, day) || (s[10] != 'T' && s[10] != 't') ||
        !digits(s, 11, 2, hour) || s[13] != ':' || !digits(s, 14, 2, minute) || s[16] != ':' ||
        !digits(s, 17, 2, second)) {
        return false;
    }
    if (month < 1 || month > 12 || day < 1 || day > days_in_month(year, month) || hour > 23 ||
        minute > 59 || second > 60) {
        return false;
    }
    std::size_t pos = 19;
    if (s[pos] == '.') {
        const std::size_t frac_begin = ++pos;
        while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
            ++pos;
        }
        if (pos == frac_begin) {
            return false;
        }
    }
    if (pos >= s.size()) {
        return false;
    }
    if (s[pos] == 'Z' || s[pos] == 'z') {
        return pos + 1 == s.size();
    }
    if (s[pos] != '+' && s[pos] != '-') {
        return false;
    }
    int offset_hour = 0;
    int offset_minute = 0;
    return pos + 6 == s.size() && digits(s, pos + 1, 2, offset_hour) && s[pos + 3] == ':' &&
           digits(s, pos + 4, 2, offset_minute) && offset_hour <= 23 && offset_minute <= 59;
}

}  // namespace ocpp
