#include "ocpp/rfc3339.hpp"

#include <cstdint>
#include <cstdio>

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

// Days since 1970-01-01 of a proleptic Gregorian date, and back (civil calendar arithmetic
// on 400-year eras).
std::int64_t days_from_civil(int y, int m, int d) {
    y -= m <= 2 ? 1 : 0;
    const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
    const int yoe = static_cast<int>(y - era * 400);
    const int doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    const int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

void civil_from_days(std::int64_t z, int& y, int& m, int& d) {
    z += 719468;
    const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const int doe = static_cast<int>(z - era * 146097);
    const int yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const int doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const int mp = (5 * doy + 2) / 153;
    d = doy - (153 * mp + 2) / 5 + 1;
    m = mp < 10 ? mp + 3 : mp - 9;
    y = static_cast<int>(yoe + era * 400) + (m <= 2 ? 1 : 0);
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

std::optional<std::string> local_date_time_to_utc(std::string_view text, int offset_minutes) {
    int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
    if (text.size() < 19 || !digits(text, 0, 4, year) || text[4] != '-' || !digits(text, 5, 2, month) ||
        text[7] != '-' || !digits(text, 8, 2, day) || (text[10] != 'T' && text[10] != 't') ||
        !digits(text, 11, 2, hour) || text[13] != ':' || !digits(text, 14, 2, minute) ||
        text[16] != ':' || !digits(text, 17, 2, second)) {
        return std::nullopt;
    }
    std::string_view fraction = text.substr(19);
    if (!fraction.empty()) {
        if (fraction.size() < 2 || fraction[0] != '.' ||
            fraction.find_first_not_of("0123456789", 1) != std::string_view::npos) {
            return std::nullopt;
        }
    }
    // The same checks as a full date-time, by asking the validator about the UTC spelling.
    std::string utc_spelling(text);
    utc_spelling += 'Z';
    if (!is_rfc3339_date_time(utc_spelling) || second == 60) {
        return std::nullopt;  // a leap second cannot be moved to another minute safely
    }
    std::int64_t minutes = days_from_civil(year, month, day) * 1440 + hour * 60 + minute - offset_minutes;
    const std::int64_t days = minutes >= 0 ? minutes / 1440 : (minutes - 1439) / 1440;
    minutes -= days * 1440;
    civil_from_days(days, year, month, day);
    if (year < 0 || year > 9999) {
        return std::nullopt;
    }
    char buffer[80];
    std::snprintf(buffer, sizeof(buffer), "%04d-%02d-%02dT%02d:%02d:%02d", year, month, day,
                  static_cast<int>(minutes / 60), static_cast<int>(minutes % 60), second);
    std::string out(buffer);
    out += fraction;
    out += 'Z';
    return out;
}

std::optional<int> parse_utc_offset(std::string_view text) {
    if (text == "Z" || text == "z") {
        return 0;
    }
    int hours = 0;
    int minutes = 0;
    if (text.size() != 6 || (text[0] != '+' && text[0] != '-') || !digits(text, 1, 2, hours) ||
        text[3] != ':' || !digits(text, 4, 2, minutes) || hours > 23 || minutes > 59) {
        return std::nullopt;
    }
    const int total = hours * 60 + minutes;
    return text[0] == '-' ? -total : total;
}

}  // namespace ocpp
