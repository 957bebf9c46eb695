#include "protocol/startup.h"

#include <algorithm>
#include <cctype>
#include <string_view>

#include "protocol/frame.h"
#include "protocol/reader.h"

namespace storegate::protocol {

namespace {

constexpr size_t kCodeOnlyLength = 8;
constexpr size_t kCancelLength = 16;
constexpr uint32_t kMajorThree = 3;

bool has_param(const StartupPacket& p, std::string_view name) {
    return std::any_of(p.params.begin(), p.params.end(),
                       [&](const auto& kv) { return kv.first == name; });
}

// "StartupMessage": name/value String pairs, then a single zero byte that must be the last
// byte of the packet. An empty name anywhere else is the terminator in the wrong place.
StartupStatus read_params(std::string_view payload, StartupPacket& out) {
    Reader r(payload);
    for (;;) {
        std::string_view name;
        std::string_view value;
        if (!r.cstring(name)) {
            return StartupStatus::kMalformed;
        }
        if (name.empty()) {
            break;
        }
        if (!r.cstring(value) || has_param(out, name)) {
            return StartupStatus::kMalformed;
        }
        out.params.emplace_back(std::string(name), std::string(value));
    }
    if (!r.at_end() || out.param("user").empty()) {
        return StartupStatus::kMalformed;
    }
    return StartupStatus::kReady;
}

// SSLRequest, GSSENCRequest and CancelRequest carry a fixed layout, so any other length is a
// malformed packet rather than a longer one to wait for.
StartupStatus decode_special(const uint8_t* p, size_t length, StartupPacket& out) {
    if (out.version == kCancelRequestCode) {
        if (length != kCancelLength) {
            return StartupStatus::kMalformed;
        }
        out.kind = StartupKind::kCancel;
        out.cancel_pid = static_cast<int32_t>(read_u32(p + 8));
        out.cancel_secret = static_cast<int32_t>(read_u32(p + 12));
        return StartupStatus::kReady;
    }
    if (length != kCodeOnlyLength) {
        return StartupStatus::kMalformed;
    }
    out.kind = out.version == kSslRequestCode ? StartupKind::kSsl : StartupKind::kGssEnc;
    return StartupStatus::kReady;
}

}  // namespace

std::string_view StartupPacket::param(std::string_view name) const {
    for (const auto& [key, value] : params) {
        if (key == name) {
            return value;
        }
    }
    return {};
}

// "Start-up": the first packet has no type byte; an int32 length (counting itself) and an
// int32 protocol version or request code. The length is checked before waiting for the rest,
// so an absurd length costs nothing.
StartupStatus decode_startup(std::span<const uint8_t> in, StartupPacket& out, size_t& consumed) {
    if (in.size() < 4) {
        return StartupStatus::kNeedMore;
    }
    const uint32_t length = read_u32(in.data());
    if (length < kCodeOnlyLength) {
        return StartupStatus::kTooShort;
    }
    if (length > kMaxStartupPacket) {
        return StartupStatus::kTooLong;
    }
    if (in.size() < length) {
        return StartupStatus::kNeedMore;
    }
    out = StartupPacket{};
    out.version = read_u32(in.data() + 4);
    StartupStatus status;
    if (out.version == kCancelRequestCode || out.version == kSslRequestCode ||
        out.version == kGssEncRequestCode) {
        status = decode_special(in.data(), length, out);
    } else if ((out.version >> 16) != kMajorThree) {
        status = StartupStatus::kBadVersion;
    } else {
        const auto* body = reinterpret_cast<const char*>(in.data()) + kCodeOnlyLength;
        status = read_params(std::string_view(body, length - kCodeOnlyLength), out);
    }
    if (status == StartupStatus::kReady) {
        consumed = length;
    }
    return status;
}

namespace {

// The server's pg_split_opts: words are separated by whitespace and a backslash makes the next
// character part of the word, whatever it is.
std::vector<std::string> split_words(std::string_view text) {
    std::vector<std::string> words;
    size_t i = 0;
    while (i < text.size()) {
        while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) {
            ++i;
        }
        if (i == text.size()) {
            break;
        }
        std::string word;
        while (i < text.size() && !std::isspace(static_cast<unsigned char>(text[i]))) {
            if (text[i] == '\\' && ++i == text.size()) {
                break;  // a trailing backslash escapes nothing and is dropped
            }
            word.push_back(text[i++]);
        }
        words.push_back(std::move(word));
    }
    return words;
}

// The server's ParseLongOption: "name=value", with dashes in the name read as underscores.
bool split_setting(std::string_view text, std::vector<StartupOption>& out) {
    const size_t eq = text.find('=');
    if (eq == std::string_view::npos || eq == 0) {
        return false;
    }
    StartupOption option{std::string(text.substr(0, eq)), std::string(text.substr(eq + 1))};
    std::replace(option.name.begin(), option.name.end(), '-', '_');
    out.push_back(std::move(option));
    return true;
}

}  // namespace

// The words are then read as the server reads its command-line switches
// (process_postgres_switches): "-c name=value", "-cname=value" and "--name=value" set a
// parameter; any other switch is handed back untouched in `other`.
bool parse_options(std::string_view options, std::vector<StartupOption>& out,
                   std::vector<std::string>& other) {
    const std::vector<std::string> words = split_words(options);
    for (size_t i = 0; i < words.size(); ++i) {
        const std::string_view word = words[i];
        bool ok = true;
        if (word == "-c") {
            ok = i + 1 < words.size() && split_setting(words[++i], out);
        } else if (word.starts_with("-c")) {
            ok = split_setting(word.substr(2), out);
        } else if (word.starts_with("--")) {
            ok = split_setting(word.substr(2), out);
        } else {
            other.push_back(words[i]);
        }
        if (!ok) {
            return false;
        }
    }
    return true;
}

}  // namespace storegate::protocol
