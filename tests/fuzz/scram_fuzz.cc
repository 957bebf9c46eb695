// Feeds arbitrary SCRAM messages to both sides of the exchange and to the verifier and base64
// parsers. The input is split at newlines: the first part goes to the first step, the second
// to the next, so that later steps are reached with valid-looking earlier ones.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "protocol/scram.h"

using namespace storegate::protocol::scram;

namespace {

// One derivation at the lowest cost, reused for every input.
const Verifier& verifier() {
    static const Verifier v = make_verifier("pencil", "salt", 1);
    return v;
}

void run_server(std::string_view first, std::string_view final_msg, bool binding) {
    ServerExchange server(verifier(), "srv", binding ? "cbdata" : "", !binding);
    std::string out;
    if (server.client_first(first, out) == Status::kOk) {
        server.client_final(final_msg, out);
    }
}

void run_client(std::string_view first, std::string_view final_msg) {
    ClientExchange client("pencil", "abc");
    client.client_first();
    std::string out;
    if (client.server_first(first, out) == Status::kOk) {
        client.server_final(final_msg);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view in(reinterpret_cast<const char*>(data), size);
    const size_t nl = in.find('\n');
    const std::string_view first = in.substr(0, nl);
    const std::string_view second = nl == std::string_view::npos ? "" : in.substr(nl + 1);
    run_server(first, second, false);
    run_server(first, second, true);
    // The client derives keys with the server's iteration count; keep that cheap.
    if (first.find(",i=") == std::string_view::npos || first.ends_with(",i=1")) {
        run_client(first, second);
    }
    parse_verifier(in);
    base64_decode(in);
    return 0;
}
