// Feeds arbitrary bytes to the framing decoder, then each decoded body to the parser of its
// message type, as the relay would on a stream from either side.
#include <cstddef>
#include <cstdint>
#include <span>

#include "protocol/backend.h"
#include "protocol/frame.h"
#include "protocol/frontend.h"

namespace {

using namespace storegate::protocol;

// A small limit so that both the limit check and long bodies are reached.
constexpr uint32_t kFuzzMaxLength = 1 << 16;

void parse_body(const Frame& f) {
    AuthRequest auth;
    ErrorFields fields;
    ParseMessage parse;
    std::string_view a;
    std::string_view b;
    int32_t x = 0;
    int32_t y = 0;
    char c = 0;
    parse_auth_request(f.body, auth);
    parse_error_fields(f.body, fields);
    parse_parameter_status(f.body, a, b);
    parse_backend_key_data(f.body, x, y);
    parse_ready_for_query(f.body, c);
    parse_password(f.body, a);
    parse_sasl_initial_response(f.body, a, b);
    parse_query(f.body, a);
    parse_parse(f.body, parse);
    parse_bind_names(f.body, a, b);
    parse_describe_or_close(f.body, c, a);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::span<const uint8_t> in(data, size);
    Frame frame;
    FrameHeader header;
    decode_header(in, kFuzzMaxLength, header);
    while (decode_frame(in, kFuzzMaxLength, frame) == FrameStatus::kReady) {
        if (frame.size > in.size() || frame.body.size() + kHeaderSize != frame.size) {
            __builtin_trap();
        }
        parse_body(frame);
        in = in.subspan(frame.size);
    }
    return 0;
}
