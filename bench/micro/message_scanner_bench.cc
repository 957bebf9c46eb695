// Frame decoding and message-boundary tracking over a server stream shaped like the answer to a
// SELECT: RowDescription, many DataRows, CommandComplete, ReadyForQuery, repeated. This is the
// work the relay does on every byte a backend sends, so its cost per MB bounds the proxy's
// throughput for large results.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "protocol/backend.h"
#include "protocol/frame.h"
#include "proxy/byte_buffer.h"
#include "proxy/message_scanner.h"

namespace storegate::bench {
namespace {

namespace pb = protocol::backend;

constexpr size_t kStreamBytes = 4u << 20;

// One result set per `rows_per_result` rows of four columns, the last `filler` bytes wide
// (pgbench_accounts has a char(84) filler), until the stream reaches kStreamBytes.
std::string server_stream(size_t filler, int rows_per_result) {
    std::string out;
    const std::vector<std::string> columns = {"aid", "bid", "abalance", "filler"};
    int aid = 1;
    while (out.size() < kStreamBytes) {
        protocol::append_row_description(out, columns);
        for (int i = 0; i < rows_per_result; ++i, ++aid) {
            protocol::append_data_row(out, {std::to_string(aid), std::to_string(aid / 100000 + 1),
                                            std::to_string(aid % 977), std::string(filler, ' ')});
        }
        protocol::append_command_complete(out, "SELECT " + std::to_string(rows_per_result));
        protocol::append_ready_for_query(out, 'I');
    }
    return out;
}

std::span<const uint8_t> as_bytes(const std::string& s) {
    return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// What Session::pump_server does per read: append a chunk, scan items, look at whole
// ReadyForQuery/ParameterStatus messages, consume what was passed on, keep the rest.
void relay_scan(benchmark::State& state, size_t filler, int rows_per_result) {
    const std::string stream = server_stream(filler, rows_per_result);
    const size_t chunk = static_cast<size_t>(state.range(0));
    int64_t ready = 0;
    for (auto _ : state) {
        proxy::MessageScanner scanner(protocol::kDefaultMaxMessage,
                                      {pb::kReadyForQuery, pb::kParameterStatus});
        proxy::ByteBuffer buffer(16384);
        for (size_t off = 0; off < stream.size(); off += chunk) {
            size_t n = std::min(chunk, stream.size() - off);
            buffer.append(stream.data() + off, n);
            size_t pos = 0;
            for (;;) {
                auto item = scanner.next(buffer.bytes(), pos);
                if (item.kind == proxy::MessageScanner::Kind::kWhole) {
                    ready += item.type == pb::kReadyForQuery ? 1 : 0;
                } else if (item.kind != proxy::MessageScanner::Kind::kPass) {
                    break;
                }
                pos += item.size;
            }
            buffer.consume(pos);
        }
        benchmark::DoNotOptimize(ready);
    }
    state.SetBytesProcessed(static_cast<int64_t>(stream.size()) * state.iterations());
    state.counters["ready_per_pass"] = static_cast<double>(ready) / state.iterations();
}

// Small rows (pgbench -S answers: one int per result) and wide ones (a 84-byte filler, 100
// rows per result), each read in chunks of 1 KiB, 16 KiB (the relay's buffer) and 64 KiB.
void BM_ScanServerStreamSmallResults(benchmark::State& state) {
    relay_scan(state, 0, 1);
}
void BM_ScanServerStreamWideRows(benchmark::State& state) {
    relay_scan(state, 84, 100);
}
BENCHMARK(BM_ScanServerStreamSmallResults)->Arg(1024)->Arg(16384)->Arg(65536);
BENCHMARK(BM_ScanServerStreamWideRows)->Arg(1024)->Arg(16384)->Arg(65536);

// Full decoding of every frame (type, length, body view) for comparison: the cost storegate
// would pay if it looked at each message instead of only at headers.
void BM_DecodeEveryFrame(benchmark::State& state) {
    const std::string stream = server_stream(84, 100);
    const auto bytes = as_bytes(stream);
    int64_t frames = 0;
    for (auto _ : state) {
        size_t pos = 0;
        protocol::Frame frame;
        while (protocol::decode_frame(bytes.subspan(pos), protocol::kDefaultMaxMessage, frame) ==
               protocol::FrameStatus::kReady) {
            pos += frame.size;
            ++frames;
        }
        benchmark::DoNotOptimize(pos);
    }
    state.SetBytesProcessed(static_cast<int64_t>(stream.size()) * state.iterations());
    state.SetItemsProcessed(frames);
}
BENCHMARK(BM_DecodeEveryFrame);

}  // namespace
}  // namespace storegate::bench
