#include "common/time_format.hpp"

#include <cstdio>
#include <ctime>

namespace contex {
namespace {

std::string Format(std::chrono::system_clock::time_point t, const char* suffix) {
    using namespace std::chrono;
    auto us = duration_cast<microseconds>(t.time_since_epoch()).count();
    long long secs = us / 1000000;
    long long frac = us % 1000000;
    if (frac < 0) {
        frac += 1000000;
        secs -= 1;
    }
    std::time_t tt = static_cast<std::time_t>(secs);
    std::tm tm{};
    gmtime_r(&tt, &tm);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06lld%s", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac, suffix);
    return buf;
}

bool Digits(std::string_view s, size_t pos, size_t n, int& out) {
    if (pos + n > s.size()) return false;
    int v = 0;
    for (size_t i = pos; i < pos + n; ++i) {
        if (s[i] < '0' || s[i] > '9') return false;
        v = v * 10 + (s[i] - '0');
    }
    out = v;
    return true;
}

}  // namespace

std::string FormatIsoUtc(std::chrono::system_clock::time_point t) { return Format(t, "+00:00"); }
std::string FormatIsoUtcZ(std::chrono::system_clock::time_point t) { return Format(t, "Z"); }

std::optional<std::chrono::system_clock::time_point> ParseIsoUtc(std::string_view s) {
    int year, mon, day, hour, min, sec;
    if (!Digits(s, 0, 4, year) || s.size() < 19 || s[4] != '-' || !Digits(s, 5, 2, mon) ||
        s[7] != '-' || !Digits(s, 8, 2, day) || (s[10] != 'T' && s[10] != ' ') ||
        !Digits(s, 11, 2, hour) || s[13] != ':' || !Digits(s, 14, 2, min) || s[16] != ':' ||
        !Digits(s, 17, 2, sec)) {
        return std::nullopt;
    }
    size_t pos = 19;
    long long micros = 0;
    if (pos < s.size() && s[pos] == '.') {
        ++pos;
        int ndig = 0;
        while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
            if (ndig < 6) micros = micros * 10 + (s[pos] - '0');
            ++ndig;
            ++pos;
        }
        if (ndig == 0) return std::nullopt;
        for (int i = ndig; i < 6; ++i) micros *= 10;
    }
    int offset_minutes = 0;
    if (pos < s.size()) {
        if (s[pos] == 'Z' && pos + 1 == s.size()) {
            // UTC
        } else if (s[pos] == '+' || s[pos] == '-') {
            int sign = s[pos] == '-' ? -1 : 1;
            int oh = 0, om = 0;
            if (!Digits(s, pos + 1, 2, oh)) return std::nullopt;
            size_t p = pos + 3;
            if (p < s.size()) {
                if (s[p] == ':') ++p;
                if (!Digits(s, p, 2, om) || p + 2 != s.size()) return std::nullopt;
            }
            offset_minutes = sign * (oh * 60 + om);
        } else {
            return std::nullopt;
        }
    }
    std::tm tm{};
    tm.tm_year = year - 1900;
    tm.tm_mon = mon - 1;
    tm.tm_mday = day;
    tm.tm_hour = hour;
    tm.tm_min = min;
    tm.tm_sec = sec;
    std::time_t tt = timegm(&tm);
    using namespace std::chrono;
    auto tp = system_clock::time_point{seconds{tt}} + microseconds{micros} -
              minutes{offset_minutes};
    return tp;
}

double ToUnixSeconds(std::chrono::system_clock::time_point t) {
    using namespace std::chrono;
    return static_cast<double>(duration_cast<microseconds>(t.time_since_epoch()).count()) / 1e6;
}

}  // namespace contex
